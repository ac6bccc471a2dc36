"""Background tasks never die silently: discovery retries whatever the exchange does to it and picks up new
markets afterwards; a task that crashes anyway (a bug) takes the process down with exit 1 and a traceback."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from ssmd.bus.embedded import free_port
from ssmd.config import load_environment, load_feed
from ssmd.connector.service import Connector, Options
from ssmd.connector.shard import State
from ssmd.connector.sinks import MemorySink
from ssmd.testing import ConnectorProc, Sim, write_env
from ssmd.up.pipeline import write_feed


class RestFront:
    """The exchange's ``GET /markets`` as the connector sees it, through a front the test steers: it hides
    markets (so that they can appear later) or answers 200 with an HTML error page, as a misbehaving proxy
    does. Everything else is the simulator's own answer."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/trade-api/v2"
        self.hidden: set[str] = set()
        self.garbage = False
        self.requests = 0
        self.garbage_served = 0
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_get("/trade-api/v2/markets", self._markets)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def tickers(self) -> list[str]:
        assert self._http is not None
        async with self._http.get(f"{self.upstream}/trade-api/v2/markets", params={"status": "open"}) as r:
            return [m["ticker"] for m in (await r.json())["markets"]]

    async def _markets(self, request: web.Request) -> web.Response:
        assert self._http is not None
        self.requests += 1
        if self.garbage:
            self.garbage_served += 1
            return web.Response(text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        async with self._http.get(f"{self.upstream}/trade-api/v2/markets", params=request.query) as r:
            body = await r.json()
        body["markets"] = [m for m in body["markets"] if m["ticker"] not in self.hidden]
        return web.json_response(body)


@pytest.fixture
def quiet_sim(tmp_path: Path) -> Iterator[Sim]:
    """A simulator whose market list changes only when the test says so (no lifecycle steps)."""
    s = Sim(tmp_path, "--no-auth", "--rate", "300", "--seed", "7", "--markets", "30", "--ping-interval", "1",
            "--lifecycle-interval", "0")
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
async def front(quiet_sim: Sim) -> AsyncIterator[RestFront]:
    f = RestFront(quiet_sim.http)
    await f.start()
    try:
        yield f
    finally:
        await f.stop()


async def _until(cond: Callable[[], bool], what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _book_tickers(sink: MemorySink) -> set[str]:
    return {orjson.loads(p)["msg"]["market_ticker"] for s, p, _ in sink.frames if ".orderbook." in s}


async def test_discovery_survives_failures_and_picks_up_new_markets_later(
    quiet_sim: Sim, front: RestFront, tmp_path: Path
) -> None:
    """REST answers garbage for a while; then new markets appear while the exchange stalls, so adding them
    times out. Discovery keeps going through both: the stalled markets are captured after the stall, and
    markets that appear afterwards are captured too. The process never stops."""
    everything = await front.tickers()
    first, later = set(everything[:3]), set(everything[3:6])
    front.hidden = first | later
    env_path = write_env(tmp_path / "mem.yaml", "mem", "", {
        "channels": ["orderbook_delta"], "subscribe_timeout": 1, "dead_after": 30, "ping_interval": 10,
        "markets": {"discover": {"status": "open", "refresh": "1s", "rest_url": front.url}}}, transport="memory")
    feed = write_feed(tmp_path / "kalshi-feed.yaml")
    connector = Connector(load_feed(feed), load_environment(env_path),
                          Options(str(env_path), quiet_sim.url, None, "127.0.0.1:0"))
    shutdown = asyncio.Event()
    await connector.start()
    running = asyncio.create_task(connector.run(shutdown))
    try:
        sink = connector.sink
        assert isinstance(sink, MemorySink)
        await _until(lambda: all(s.state is State.LIVE for s in connector.shards), "shards live")
        assert not set(connector.markets) & (first | later)

        front.garbage = True  # 200 with an HTML page: not JSON
        await _until(lambda: front.garbage_served >= 2, "two failed discoveries")
        front.garbage = False

        await quiet_sim.fault("stall", seconds=5)
        front.hidden -= first
        seen = front.requests
        await _until(lambda: front.requests > seen and bool(first & set(connector.markets)), "discovery during stall")
        await _until(lambda: connector.metrics.reconnects._value.get() >= 1, "update_subscription to time out")

        await _until(lambda: not (first - _book_tickers(sink)), "stalled markets captured", within=30)
        front.hidden -= later
        await _until(lambda: not (later - _book_tickers(sink)), "later markets captured", within=30)
        assert not running.done(), running
        assert connector.metrics.discovery_failures._value.get() >= 2
    finally:
        shutdown.set()
        await asyncio.wait_for(running, 10)
        await connector.stop()


BUGGY = """
import asyncio
from ssmd.connector import service
from ssmd.cli import main

_start = service.Connector.start


async def _bug() -> None:
    await asyncio.sleep(1.0)
    raise RuntimeError("injected bug")


async def start(self: service.Connector) -> None:
    await _start(self)
    self._spawn(_bug(), "injected")


service.Connector.start = start
main()
"""


async def test_a_crashed_background_task_exits_1_loudly(quiet_sim: Sim, tmp_path: Path) -> None:
    """A background task that raises something nobody handles (a bug: injected, since no input causes one)
    is not left dead: the connector logs it with its traceback, flushes, and exits 1 for a clean restart."""
    script = tmp_path / "buggy_connector.py"
    script.write_text(BUGGY)
    env_path = write_env(tmp_path / "mem.yaml", "mem", "", transport="memory")
    conn = ConnectorProc(tmp_path, env_path, quiet_sim.url, launcher=(sys.executable, str(script)))
    code = await asyncio.to_thread(conn.wait, 60)
    logs = conn.logs()
    assert code == 1, logs[-2000:]
    assert "background task injected crashed: RuntimeError('injected bug')" in logs
    assert "Traceback" in logs and "exiting with code 1" in logs
