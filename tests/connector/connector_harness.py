"""Helpers for connector tests: ``ssmd sim kalshi`` and ``ssmd connector`` as subprocesses, a real
nats-server, and the simulator's ``--sent-log`` as the oracle of what the exchange sent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from ssmd.bus.embedded import EmbeddedNats, free_port
from ssmd.bus.streams import StreamSpec, ensure_stream

FEED = Path(__file__).resolve().parents[2] / "examples" / "local" / "feeds" / "kalshi.yaml"


class Sim:
    """``ssmd sim kalshi`` in its own process."""

    def __init__(self, workdir: Path, *args: str) -> None:
        self.port = free_port()
        self.sent_log = workdir / f"sent-{self.port}.log"
        self.url = f"ws://127.0.0.1:{self.port}/trade-api/ws/v2"
        self.http = f"http://127.0.0.1:{self.port}"
        self._err = (workdir / f"sim-{self.port}.err").open("wb")
        cmd = [sys.executable, "-m", "ssmd", "sim", "kalshi", "--port", str(self.port),
               "--sent-log", str(self.sent_log), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._err)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()  # the simulator prints one line when it listens
        if "listening" not in line:
            self.stop()
            raise RuntimeError(f"simulator did not start: {line!r}")

    async def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with aiohttp.ClientSession() as s, s.request(method, f"{self.http}{path}", json=body) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def fault(self, kind: str, **kw: Any) -> Any:
        return await self.control("POST", "/_sim/fault", {"kind": kind, **kw})

    async def pause(self) -> None:
        await self.control("POST", "/_sim/pause")

    async def resume(self) -> None:
        await self.control("POST", "/_sim/resume")

    async def stats(self) -> Any:
        return await self.control("GET", "/_sim/stats")

    def sent(self) -> list[bytes]:
        data = self.sent_log.read_bytes() if self.sent_log.exists() else b""
        return [line for line in data.split(b"\n") if line]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._err.close()


@dataclass
class Setup:
    """A NATS server with the environment's stream, an environment file, a feed file."""

    nats: EmbeddedNats
    name: str
    env_path: Path
    workdir: Path
    stream: str = field(init=False)
    prefix: str = field(init=False)

    def __post_init__(self) -> None:
        self.stream = f"{self.name}_kalshi".upper()
        self.prefix = f"{self.name}.kalshi"


def write_env(path: Path, name: str, nats_url: str, capture: dict[str, Any] | None = None,
              transport: str = "nats", storage_path: str | None = None) -> Path:
    body: dict[str, Any] = {
        "name": name, "feed": "kalshi",
        "transport": {"type": transport, **({"url": nats_url} if transport == "nats" else {})},
        "storage": {"type": "local", "path": storage_path or str(path.parent / "data")},
    }
    if capture:
        body["capture"] = capture
    path.write_text(yaml.safe_dump(body))
    return path


async def make_stream(url: str, name: str, prefix: str) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        await ensure_stream(nc.jetstream(), StreamSpec.for_prefix(name, prefix))
    finally:
        await nc.close()


class ConnectorProc:
    """``ssmd connector`` in its own process, with its stderr (the logs) kept in a file."""

    def __init__(self, workdir: Path, env_path: Path, ws_url: str | None, *extra: str,
                 feed: Path = FEED, environ: dict[str, str] | None = None, no_auth: bool = True,
                 launcher: tuple[str, ...] = (sys.executable, "-m", "ssmd", "connector")) -> None:
        self.health_port = free_port()
        self.health = f"http://127.0.0.1:{self.health_port}"
        self.log_path = workdir / f"connector-{self.health_port}.log"
        self._log = self.log_path.open("wb")
        cmd = [*launcher, "--feed", str(feed), "--env", str(env_path),
               "--health-addr", f"127.0.0.1:{self.health_port}", *extra]
        if ws_url:
            cmd += ["--ws-url", ws_url]
        if no_auth:
            cmd.append("--no-auth")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "SSMD_", "NATS_URL"))}
        env["SSMD_LOG"] = "info"
        env.update(environ or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, env=env)

    async def get(self, path: str) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s, s.get(f"{self.health}{path}",
                                                       timeout=aiohttp.ClientTimeout(total=5)) as r:
            body = await r.read()
            return r.status, (orjson.loads(body) if path != "/metrics" else body.decode())

    async def wait_ready(self, within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"connector exited with {self.proc.returncode}: {self.logs()[-2000:]}")
            try:
                status, last = await self.get("/ready")
                if status == 200:
                    return
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"connector not ready within {within}s: {last}; logs: {self.logs()[-2000:]}")

    async def metric(self, name: str) -> float:
        """Sum of every sample of ``name`` in /metrics."""
        _, text = await self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and (line[len(name)] in " {"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def logs(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._log.close()

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()


async def stream_messages(url: str, stream: str, subject: str, expect: int | None = None,
                          within: float = 20.0) -> list[Any]:
    """Every message of ``stream`` in stream order (an ordered consumer), waiting until ``expect`` are there."""
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + within
        total = (await js.stream_info(stream)).state.messages
        while expect is not None and total < expect and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            total = (await js.stream_info(stream)).state.messages
        sub = await js.subscribe(subject, ordered_consumer=True, stream=stream)
        out = []
        while len(out) < total:
            out.append(await sub.next_msg(timeout=10))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


async def drain_and_compare(sim: Sim, setup: Setup, settle: float = 20.0, ordered: bool = True) -> list[Any]:
    """Pause the exchange, wait until the stream holds what was sent, then compare message by message:
    same bytes, same order (``ordered``: one connection; several interleave freely), each exactly once,
    on the right subject."""
    await sim.pause()
    await asyncio.sleep(0.3)
    sent = sim.sent()
    assert sent, "the simulator sent nothing"
    msgs = await stream_messages(setup.nats.url, setup.stream, f"{setup.prefix}.>", expect=len(sent), within=settle)
    await asyncio.sleep(0.5)  # anything late (a duplicate) would show up now
    msgs = await stream_messages(setup.nats.url, setup.stream, f"{setup.prefix}.>")
    payloads = [m.data for m in msgs]
    missing = len(set(sent) - set(payloads))
    assert len(payloads) == len(sent), f"stream: {len(payloads)} messages, sent: {len(sent)} ({missing} missing)"
    if ordered and payloads != sent:
        first = next(i for i, (a, b) in enumerate(zip(payloads, sent, strict=True)) if a != b)
        where = {bytes(p): i for i, p in enumerate(payloads)}
        around = [(i, where.get(sent[i]), msgs[where[sent[i]]].headers.get("Nats-Msg-Id"))
                  for i in range(max(0, first - 2), min(len(sent), first + 6)) if sent[i] in where]
        raise AssertionError(f"order differs from sent index {first}: (sent index, stream index, msg-id) {around}")
    else:
        assert Counter(payloads) == Counter(sent)
    for m in msgs:
        assert m.subject == expected_subject(setup.prefix, m.data), (m.subject, m.data[:120])
    return msgs


def expected_subject(prefix: str, raw: bytes) -> str:
    """The subject rule written out independently of ssmd.bus.subjects."""
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return f"{prefix}.json.unparsed._"
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return f"{prefix}.json.unparsed._"
    kind = {"orderbook_snapshot": "orderbook", "orderbook_delta": "orderbook", "market_lifecycle_v2": "lifecycle",
            "ticker_v2": "ticker"}.get(frame["type"], frame["type"])
    msg = frame.get("msg") if isinstance(frame.get("msg"), dict) else {}
    ticker = msg.get("market_ticker") or msg.get("event_ticker") or msg.get("series_ticker") or "_"
    for ch in ".*> \t":
        ticker = ticker.replace(ch, "_")
    return f"{prefix}.json.{kind}.{ticker}"
