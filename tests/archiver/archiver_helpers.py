"""Helpers for the archiver tests: a stream of each test's own and in-process archivers (processes, archive
reading and waiting are ``ssmd.testing``'s)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import yaml
from nats.aio.client import Client
from nats.js import JetStreamContext

from ssmd.archiver.service import Archiver
from ssmd.bus.embedded import EmbeddedNats
from ssmd.bus.streams import StreamSpec, ensure_stream
from ssmd.config.archiver import ArchiverConfig
from ssmd.testing import wait_until


def frame(i: int, kind: str = "ticker") -> bytes:
    """A small Kalshi-shaped frame whose content identifies it (so order and duplicates are visible)."""
    return (b'{"type":"%s","sid":1,"seq":%d,"msg":{"market_ticker":"KX-T%d.5","ts":%d}}'
            % (kind.encode(), i, i % 7, 1764072000 + i))


def manifests(feed_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(feed_dir.glob("*/manifest.json"))]


class StreamEnv:
    """A stream named after the test with subjects ``{name}.kalshi.>`` and a config factory."""

    def __init__(self, server: EmbeddedNats, name: str, data: Path, json_only: bool = False) -> None:
        self.server = server
        self.name = name
        self.stream = name.upper()
        self.prefix = f"{name}.kalshi"
        self.data = data
        self.sent = 0
        self.json_only = json_only
        """Stream captures only ``{prefix}.json.>``: the default filter then covers the whole stream."""
        self.nc: Client
        self.js: JetStreamContext

    @property
    def feed_dir(self) -> Path:
        return self.data / "kalshi"

    def config(self, **overrides: Any) -> ArchiverConfig:
        raw: dict[str, Any] = {
            "nats": {"url": self.server.url, "stream": self.stream, "consumer": f"arch-{self.name}",
                     "filter": f"{self.prefix}.json.>"},
            "storage": {"path": str(self.data)},
            "rotation": {"interval": "1d"},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key] = {**raw[key], **value}
            else:
                raw[key] = value
        return ArchiverConfig.model_validate(raw)

    def write_config(self, path: Path, **overrides: Any) -> Path:
        cfg = self.config(**overrides)
        path.write_text(yaml.safe_dump(cfg.model_dump(exclude_none=True)))
        return path

    async def connect(self) -> None:
        self.nc = await nats.connect(self.server.url)
        self.js = self.nc.jetstream()
        subjects = (f"{self.prefix}.json.>",) if self.json_only else (f"{self.prefix}.>",)
        await ensure_stream(self.js, StreamSpec(self.stream, subjects, max_age_s=3600))

    async def publish(self, payloads: list[bytes], kind: str = "ticker") -> None:
        """Publish to the stream and wait until it has stored them all (core publishes are async)."""
        await self.send(payloads, kind)
        await self.wait_stored()

    async def send(self, payloads: list[bytes], kind: str = "ticker") -> None:
        """Publish and flush, without waiting for the stream to store them."""
        for i, payload in enumerate(payloads):
            await self.nc.publish(f"{self.prefix}.json.{kind}.T{i % 7}", payload)
        self.sent += len(payloads)
        await self.nc.flush()

    async def wait_stored(self) -> None:
        async def stored() -> bool:
            return bool((await self.js.stream_info(self.stream)).state.last_seq >= self.sent)

        await wait_until(stored, what="the stream to store the published messages", interval=0.02)

    async def ack_floor(self) -> int:
        """The archiver durable's ack floor (0 before the durable exists)."""
        from nats.js.errors import NotFoundError

        try:
            info = await self.js.consumer_info(self.stream, f"arch-{self.name}")
        except NotFoundError:
            return 0
        return int(info.ack_floor.stream_seq) if info.ack_floor is not None else 0


class Running:
    """An in-process archiver task with its stop event."""

    def __init__(self, archiver: Archiver) -> None:
        self.archiver = archiver
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(archiver.run(self.stop))

    async def until(self, cond: Callable[[], bool], limit: float = 60.0) -> None:
        """Until ``cond()``; fails at once if the archiver task ended (with its exception)."""
        def check() -> bool:
            if self.task.done():
                self.task.result()
                raise AssertionError("archiver exited")
            return cond()

        await wait_until(check, limit, lambda: f"a condition; health={self.archiver.health()}", interval=0.02)

    async def archived(self, seq: int, limit: float = 60.0) -> None:
        await self.until(lambda: self.archiver.writer.last_seq >= seq, limit)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 60)
