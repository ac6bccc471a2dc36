"""Helpers for tests on a real 3-node JetStream cluster: services as processes given every node's URL, the
stream at R3, and polling with deadlines (elections take seconds on a loaded machine)."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import nats
import orjson
import yaml
from nats.aio.client import Client

from ssmd.bus.cluster import EmbeddedCluster
from ssmd.bus.embedded import free_port
from ssmd.bus.streams import StreamSpec, ensure_stream

CONNECTOR_CAPTURE = {"dead_after": 3, "ping_interval": 1, "publish_timeout": 2}


async def until(check: Callable[[], Awaitable[Any] | Any], what: str, limit_s: float = 30.0,
                every_s: float = 0.2) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; fail after ``limit_s`` seconds."""
    deadline = time.monotonic() + limit_s
    last: Any = None
    while True:
        try:
            last = check()
            if asyncio.iscoroutine(last):
                last = await last
        except (aiohttp.ClientError, OSError, nats.errors.Error) as exc:
            last = exc
        if last and not isinstance(last, BaseException):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit_s:.0f}s waiting for {what} (last: {last!r})")
        await asyncio.sleep(every_s)


async def client(cluster: EmbeddedCluster) -> Client:
    """The test's own connection, failing over like the services do."""
    return await nats.connect(cluster.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2, name="test")


async def r3_stream(nc: Client, name: str, prefix: str) -> None:
    await ensure_stream(nc.jetstream(), StreamSpec.for_prefix(name, prefix, replicas=3))


async def leader_of(nc: Client, cluster: EmbeddedCluster, stream: str) -> int:
    """Index of the node leading ``stream`` (waits through an election)."""
    async def ask() -> str | None:
        info = await nc.jetstream().stream_info(stream, )
        return info.cluster.leader if info.cluster else None
    return cluster.index_of(await until(ask, f"a leader for {stream}"))


async def all_current(nc: Client, stream: str) -> bool:
    """Every replica of ``stream`` is up and has caught up with the leader."""
    info = await nc.jetstream().stream_info(stream)
    peers = info.cluster.replicas if info.cluster else None
    return bool(info.cluster and info.cluster.leader and peers and len(peers) == 2
                and all(p.current and not p.offline for p in peers))


class ServiceProc:
    """``python -m ssmd <args>`` with /health, /ready and /metrics on ``port``, its log kept in a file."""

    def __init__(self, name: str, workdir: Path, args: list[str], port: int, environ: dict[str, str]) -> None:
        self.name = name
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "SSMD_", "NATS_"))}
        env.update({"SSMD_LOG": "info", **environ})
        self.proc = subprocess.Popen([sys.executable, "-m", "ssmd", *args], stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env)

    async def get(self, path: str) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s, s.get(f"{self.base}{path}",
                                                       timeout=aiohttp.ClientTimeout(total=5)) as r:
            body = await r.read()
            return r.status, (body.decode() if path == "/metrics" else orjson.loads(body))

    async def metric(self, name: str) -> float:
        """Sum of every sample of ``name`` (NaN samples count as 0)."""
        _, text = await self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and line[len(name)] in " {":
                value = float(line.rsplit(" ", 1)[1])
                total += 0.0 if value != value else value
        return total

    async def wait_ready(self, limit_s: float = 30.0) -> None:
        async def ready() -> bool:
            self.assert_running()
            status, _ = await self.get("/ready")
            return status == 200
        await until(ready, f"{self.name} ready", limit_s)

    def assert_running(self) -> None:
        code = self.proc.poll()
        assert code is None, f"{self.name} exited with {code}: {self.logs()[-3000:]}"

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def terminate(self, limit_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(limit_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9
        finally:
            self._log.close()


def connector(workdir: Path, env_path: Path, ws_url: str, feed: Path) -> ServiceProc:
    port = free_port()
    return ServiceProc("connector", workdir, ["connector", "--feed", str(feed), "--env", str(env_path), "--ws-url",
                                              ws_url, "--no-auth", "--health-addr", f"127.0.0.1:{port}"], port, {})


def archiver(workdir: Path, urls: str, stream: str, prefix: str, archive: Path) -> ServiceProc:
    config = workdir / "archiver.yaml"
    config.write_text(yaml.safe_dump({
        "nats": {"url": urls, "stream": stream, "consumer": "archiver", "filter": f"{prefix}.json.>"},
        "storage": {"path": str(archive)},
    }))
    port = free_port()
    return ServiceProc("archiver", workdir, ["archiver", "--config", str(config), "--health-addr",
                                             f"127.0.0.1:{port}"], port, {})


def agent(workdir: Path, urls: str, prefix: str, signals: list[str]) -> ServiceProc:
    port = free_port()
    return ServiceProc("agent", workdir, ["agent", "run", "--host", "127.0.0.1", "--port", str(port)], port,
                       {"NATS_URL": urls, "NATS_SUBJECTS": f"{prefix}.json.>", "SSMD_SIGNALS": ",".join(signals)})


def archived_lines(root: Path) -> Counter[bytes]:
    """Every line of every closed archive file under ``root``."""
    lines: Counter[bytes] = Counter()
    for path in sorted(root.rglob("*.jsonl.gz")):
        with gzip.open(path, "rb") as fh:
            lines.update(fh.read().splitlines())
    return lines


async def verify(root: Path) -> subprocess.CompletedProcess[str]:
    """`ssmd archive verify ROOT` as a user runs it."""
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "ssmd", "archive", "verify", str(root)],
                                   capture_output=True, text=True, timeout=60)
