"""Helpers for the archiver tests: real nats-server streams, real files, real processes."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import yaml
from nats.aio.client import Client
from nats.js import JetStreamContext

from diskfull import fill_disk
from ssmd.archiver.manifest import name_order
from ssmd.archiver.service import Archiver
from ssmd.bus.embedded import EmbeddedNats, free_port
from ssmd.bus.streams import StreamSpec, ensure_stream
from ssmd.config.archiver import ArchiverConfig

__all__ = ["Running", "Spawned", "StreamEnv", "fill_disk", "frame", "gunzip", "manifests", "read_archive", "run_cli"]


def frame(i: int, kind: str = "ticker") -> bytes:
    """A small Kalshi-shaped frame whose content identifies it (so order and duplicates are visible)."""
    return (b'{"type":"%s","sid":1,"seq":%d,"msg":{"market_ticker":"KX-T%d.5","ts":%d}}'
            % (kind.encode(), i, i % 7, 1764072000 + i))


def gunzip(path: Path) -> bytes:
    with gzip.open(path) as fh:
        return fh.read()


def read_archive(feed_dir: Path) -> list[bytes]:
    """All lines of all closed files, day by day in manifest order (which must list every file)."""
    lines: list[bytes] = []
    for day in sorted(p for p in feed_dir.iterdir() if p.is_dir()):
        manifest = json.loads((day / "manifest.json").read_text())
        names = [f["name"] for f in manifest["files"]]
        on_disk = sorted((p.name for p in day.glob("*.jsonl.gz")), key=name_order)
        assert names == on_disk, f"manifest lists {names}, disk has {on_disk}"
        for name in names:
            lines.extend(gunzip(day / name).splitlines())
    return lines


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
        for i, payload in enumerate(payloads):
            await self.nc.publish(f"{self.prefix}.json.{kind}.T{i % 7}", payload)
        self.sent += len(payloads)
        await self.nc.flush()
        deadline = time.monotonic() + 30
        while (await self.js.stream_info(self.stream)).state.last_seq < self.sent:
            if time.monotonic() > deadline:
                raise TimeoutError("stream did not store the published messages")
            await asyncio.sleep(0.02)


class Running:
    """An in-process archiver task with its stop event."""

    def __init__(self, archiver: Archiver) -> None:
        self.archiver = archiver
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(archiver.run(self.stop))

    async def until(self, cond: Callable[[], bool], limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while not cond():
            if self.task.done():
                self.task.result()
                raise AssertionError("archiver exited")
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met in {limit}s; health={self.archiver.health()}")
            await asyncio.sleep(0.02)

    async def archived(self, seq: int, limit: float = 30.0) -> None:
        await self.until(lambda: self.archiver.writer.last_seq >= seq, limit)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


class Spawned:
    """The real CLI in its own process (``python -m ssmd archiver``), stderr to a file (never a full pipe)."""

    def __init__(self, config_path: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ssmd", "archiver", "--config", str(config_path),
                 "--health-addr", f"127.0.0.1:{self.port}"],
                stdout=subprocess.DEVNULL, stderr=log,
                env={**os.environ, "SSMD_LOG": "info", **(env or {})},
            )

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())

    async def wait_ready(self, limit: float = 30) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"archiver exited {self.proc.returncode}: {self.stderr()}")
            try:
                if (await asyncio.to_thread(self.get, "/ready"))[0] == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.05)
        raise TimeoutError(f"archiver not ready in {limit}s: {self.stderr()}")

    def stderr(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int = signal.SIGTERM, limit: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=limit)


def run_cli(args: list[str], env: dict[str, str] | None = None, limit: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ssmd", "archiver", *args], capture_output=True, text=True,
                          timeout=limit, env={**os.environ, **(env or {})}, check=False)
