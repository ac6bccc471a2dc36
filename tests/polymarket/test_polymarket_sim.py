"""``ssmd sim polymarket`` with a real aiohttp client: subscribe, PING/PONG, faults, Gamma and the sent-log."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ssmd.config.capture import DiscoveryConfig
from ssmd.feed.base import KEPT, UNPARSED, BookDelta, BookSnapshot, DiscoveryError, Kind, Lifecycle
from ssmd.polymarket import protocol
from ssmd.polymarket.discovery import discover_assets
from ssmd.polymarket.events import frame_events
from ssmd.polymarket.sim.server import PolySim, PolySimConfig

TIMEOUT = 30.0
"""Generous on a loaded 2-core machine; tests poll with this deadline, never sleep a guessed time."""

SimFactory = Callable[..., Awaitable[PolySim]]


@pytest.fixture
async def make_sim(tmp_path: Path) -> AsyncIterator[SimFactory]:
    started: list[PolySim] = []

    async def make(**kw: Any) -> PolySim:
        kw.setdefault("seed", 7)
        kw.setdefault("sent_log", tmp_path / f"sent-{len(started)}.log")
        server = PolySim(PolySimConfig(port=0, **kw))
        await server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.stop()


class Client:
    """One socket: what it received (raw text frames, in order) and how it ended."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[bytes] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None

    async def send(self, text: str | bytes) -> None:
        await self.ws.send_str(text.decode() if isinstance(text, bytes) else text)

    async def recv(self, within: float = TIMEOUT) -> bytes | None:
        """The next text frame; ``None`` once the socket is closed."""
        msg = await self.ws.receive(timeout=within)
        if msg.type is aiohttp.WSMsgType.TEXT:
            raw = msg.data.encode()
            self.frames.append(raw)
            return raw
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            # the code the server sent (the socket's own close_code may be 1006 once the server hangs up)
            self.close_code = msg.data if msg.type is aiohttp.WSMsgType.CLOSE else self.ws.close_code
            self.close_reason = msg.extra if isinstance(msg.extra, str) else None
            return None
        raise AssertionError(f"unexpected message {msg.type}")

    async def recv_until(self, pred: Callable[[bytes], bool], within: float = TIMEOUT) -> bytes:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            left = deadline - asyncio.get_running_loop().time()
            raw = await self.recv(max(left, 0.01))
            if raw is None:
                raise AssertionError(f"closed ({self.close_code}) before the awaited frame")
            if pred(raw):
                return raw


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[str], Awaitable[Client]]]:
    session = aiohttp.ClientSession()
    sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def open_(url: str) -> Client:
        ws = await session.ws_connect(url, autoping=True, max_msg_size=0)
        sockets.append(ws)
        return Client(ws)

    yield open_
    for ws in sockets:
        await ws.close()
    await session.close()


def is_json(raw: bytes) -> bool:
    return raw[:1] in (b"{", b"[")


async def test_subscribe_dumps_one_array_of_best_last_books_then_deltas_and_pongs(make_sim: SimFactory,
                                                                                  connect) -> None:  # type: ignore[no-untyped-def]
    sim = await make_sim(rate=200)
    market = sim.model.active[0]
    client: Client = await connect(sim.url)
    await client.send(protocol.initial_subscribe(list(market.tokens)))
    dump = orjson.loads(await client.recv())
    assert isinstance(dump, list) and [b["asset_id"] for b in dump] == list(market.tokens)
    for book in dump:
        assert book["event_type"] == "book" and book["market"] == market.condition_id
        bids = [Decimal(lv["price"]) for lv in book["bids"]]
        asks = [Decimal(lv["price"]) for lv in book["asks"]]
        assert bids == sorted(bids) and asks == sorted(asks, reverse=True)  # best LAST on both sides
    await client.send(protocol.PING)
    await client.recv_until(lambda raw: raw == b"PONG")
    change = orjson.loads(await client.recv_until(lambda raw: b'"price_change"' in raw))
    assert {e["asset_id"] for e in change["price_changes"]} == set(market.tokens)  # mirrored entries
    assert all(orjson.loads(f)["market"] == market.condition_id if f[:1] == b"{" else True
               for f in client.frames if f != b"PONG")  # nothing about markets we did not subscribe


async def test_events_rebuild_the_book_the_exchange_resends(make_sim: SimFactory, connect) -> None:  # type: ignore[no-untyped-def]
    """Snapshot + absolute deltas (and the books sent after trades), replayed through the feed's events, equal
    the book a re-subscribe sends: best-last order and the varying decimal forms are read right."""
    sim = await make_sim(rate=300, markets=1, dump="objects")
    token = sim.model.active[0].tokens[0]
    client: Client = await connect(sim.url)
    await client.send(protocol.initial_subscribe([token]))
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}

    def apply(raw: bytes) -> None:
        for ev in frame_events(raw, exact_numbers=True):
            if isinstance(ev, BookSnapshot) and ev.market == token:
                bids.clear(), asks.clear()
                bids.update(ev.bids), asks.update(ev.asks)
            elif isinstance(ev, BookDelta) and ev.market == token:
                side = bids if ev.side == "bid" else asks
                assert ev.size is not None
                if ev.size == 0:
                    side.pop(ev.price, None)
                else:
                    side[ev.price] = ev.size

    while len(client.frames) < 60:
        raw = await client.recv()
        assert raw is not None
        apply(raw)
    await _control(sim, "/_sim/pause")  # no more model steps: the book stands still
    await client.send(protocol.PING)  # everything sent before the pause arrives before the PONG
    while (raw := await client.recv()) != b"PONG":
        assert raw is not None
        apply(raw)
    await client.send(protocol.operation("subscribe", [token]))  # a re-snapshot: the book is sent again
    raw = await client.recv()
    assert raw is not None
    [fresh] = frame_events(raw, exact_numbers=True)
    assert isinstance(fresh, BookSnapshot)
    assert sorted(bids.items()) == list(fresh.bids) and sorted(asks.items()) == list(fresh.asks)


async def test_ping_before_subscribe_is_closed_1008(make_sim: SimFactory, connect) -> None:  # type: ignore[no-untyped-def]
    sim = await make_sim()
    client: Client = await connect(sim.url)
    await client.send(protocol.PING)
    assert await client.recv() is None
    assert client.close_code == 1008 and client.close_reason == "invalid subscription payload"


async def test_no_ping_is_closed_1008_and_pings_keep_the_socket(make_sim: SimFactory, connect) -> None:  # type: ignore[no-untyped-def]
    sim = await make_sim(ping_timeout=1.0, rate=0)
    tokens = list(sim.model.active[0].tokens)
    quiet: Client = await connect(sim.url)
    pinging: Client = await connect(sim.url)
    for client in (quiet, pinging):
        await client.send(protocol.initial_subscribe(tokens))
        await client.recv()  # the dump
    await quiet.ws.ping()  # a WebSocket protocol ping does not count as PING

    async def keep_alive() -> None:
        while True:
            await pinging.send(protocol.PING)
            assert await pinging.recv() == b"PONG"
            await asyncio.sleep(0.2)

    pinger = asyncio.create_task(keep_alive())
    try:
        while await quiet.recv() is not None:
            pass
    finally:
        pinger.cancel()
        await asyncio.gather(pinger, return_exceptions=True)
    assert quiet.close_code == 1008 and quiet.close_reason == "no ping received"
    assert not pinging.ws.closed


async def test_second_type_message_is_invalid_operation_and_operations_work(make_sim: SimFactory,
                                                                           connect) -> None:  # type: ignore[no-untyped-def]
    sim = await make_sim(rate=0, dump="objects")
    a, b = sim.model.active[0].tokens, sim.model.active[1].tokens
    client: Client = await connect(sim.url)
    await client.send(protocol.initial_subscribe([a[0]]))
    assert orjson.loads(await client.recv())["asset_id"] == a[0]
    await client.send(protocol.initial_subscribe([b[0]]))
    assert await client.recv() == b"INVALID OPERATION"
    await client.send(protocol.operation("subscribe", [b[0], a[0]]))  # a[0] again: its book is re-sent
    assert [orjson.loads(await client.recv())["asset_id"] for _ in range(2)] == [b[0], a[0]]
    await client.send(protocol.operation("unsubscribe", [a[0]]))
    await client.send(protocol.PING)
    assert await client.recv() == b"PONG"
    assert (await _stats(sim))["subscribed_assets"] == 1


async def test_silent_socket_still_answers_ping_and_faults_are_all_in_the_sent_log(make_sim: SimFactory,
                                                                                   connect) -> None:  # type: ignore[no-untyped-def]
    sim = await make_sim(rate=300)
    client: Client = await connect(sim.url)
    await client.send(protocol.initial_subscribe(list(sim.model.by_asset)))
    await client.recv_until(lambda raw: b'"price_change"' in raw)
    await _fault(sim, {"kind": "silent", "seconds": 60})
    await _fault(sim, {"kind": "text", "text": "NO NEW ASSETS"})
    await client.recv_until(lambda raw: raw == b"NO NEW ASSETS")
    for _ in range(3):  # silent: no data, but PING is answered
        await client.send(protocol.PING)
        assert await client.recv() == b"PONG"
    await _fault(sim, {"kind": "disconnect", "code": 1011})
    while await client.recv() is not None:
        pass
    assert client.close_code == 1011
    assert sim.config.sent_log is not None
    data = await asyncio.to_thread(Path(sim.config.sent_log).read_bytes)
    sent = [line for line in data.split(b"\n") if line]
    assert sent == client.frames  # byte for byte, in order, text words included
    routes = [protocol.route(raw) for raw in sent]
    assert routes[0].kind is Kind.DATA and routes[0].type == "book"  # the array dump, routed by its first book
    assert sum(r is KEPT for r in routes) == sent.count(b"PONG") + 1  # and NO NEW ASSETS
    assert not any(r is UNPARSED for r in routes)


async def test_abrupt_disconnect_and_a_new_socket_resubscribes(make_sim: SimFactory, connect) -> None:  # type: ignore[no-untyped-def]
    sim = await make_sim(rate=0)
    token = sim.model.active[0].tokens[0]
    first: Client = await connect(sim.url)
    await first.send(protocol.initial_subscribe([token]))
    await first.recv()
    assert (await _fault(sim, {"kind": "disconnect", "abrupt": True}))["closed"] == 1
    assert await first.recv() is None
    second: Client = await connect(sim.url)
    await second.send(protocol.initial_subscribe([token]))
    assert orjson.loads(await second.recv())[0]["asset_id"] == token


async def test_gamma_discovery_pages_skips_closed_and_caps_whole_markets(make_sim: SimFactory) -> None:
    sim = await make_sim(markets=7, closed_markets=3, rate=0)
    open_tokens = [t for m in sim.model.active for t in m.tokens]
    async with aiohttp.ClientSession() as http:
        assert await discover_assets(http, sim.rest_url, DiscoveryConfig(), page=3) == open_tokens
        assert await discover_assets(http, sim.rest_url, DiscoveryConfig(max_markets=5)) == open_tokens[:4]
        closed = await discover_assets(http, sim.rest_url, DiscoveryConfig(status="closed"))
        assert closed == [t for m in sim.model.markets if m.closed for t in m.tokens]
        with pytest.raises(DiscoveryError, match="HTTP 404"):
            await discover_assets(http, sim.rest_url + "/nope", DiscoveryConfig())
        with pytest.raises(DiscoveryError, match="Kalshi filters"):
            await discover_assets(http, sim.rest_url, DiscoveryConfig(series_ticker=("KXBTCD",)))
    async with aiohttp.ClientSession() as http, http.get(f"{sim.rest_url}/markets?limit=1") as resp:
        [row] = await resp.json()
    assert isinstance(row["clobTokenIds"], str)
    assert orjson.loads(row["clobTokenIds"]) == list(sim.model.markets[0].tokens)


def test_cli_serves_until_duration(tmp_path: Path) -> None:
    log = tmp_path / "sent.log"
    proc = subprocess.run([sys.executable, "-m", "ssmd", "sim", "polymarket", "--port", "0", "--duration", "0.5",
                           "--sent-log", str(log), "--markets", "3"],
                          capture_output=True, timeout=TIMEOUT * 2, check=False)
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stdout.decode().splitlines()
    assert "listening on" in line and line.split()[-1].startswith("ws://127.0.0.1:")
    assert line.split()[-1].endswith("/ws/market")
    bad = subprocess.run([sys.executable, "-m", "ssmd", "sim", "polymarket", "--dump", "zip"],
                         capture_output=True, timeout=TIMEOUT * 2, check=False)
    assert bad.returncode == 2 and b"--dump" in bad.stderr and b"Traceback" not in bad.stderr


async def _fault(sim: PolySim, spec: dict[str, object]) -> dict[str, object]:
    return await _control(sim, "/_sim/fault", spec)


async def _control(sim: PolySim, path: str, spec: dict[str, object] | None = None) -> dict[str, object]:
    async with aiohttp.ClientSession() as http, http.post(f"{sim.rest_url}{path}", json=spec) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, object] = await resp.json()
        return body


async def _stats(sim: PolySim) -> dict[str, object]:
    async with aiohttp.ClientSession() as http, http.get(f"{sim.rest_url}/_sim/stats") as resp:
        body: dict[str, object] = await resp.json()
        return body



async def test_lifecycle_resolves_a_market_and_broadcasts_new_ones_and_gamma_follows(make_sim: SimFactory,
                                                                                    connect) -> None:  # type: ignore[no-untyped-def]
    sim = await make_sim(markets=3, closed_markets=0, rate=200, lifecycle_every=20)
    first = sim.model.active[0]
    client: Client = await connect(sim.url)
    await client.send(protocol.initial_subscribe(list(first.tokens)))
    resolved = await client.recv_until(lambda raw: b'"market_resolved"' in raw)
    new = await client.recv_until(lambda raw: b'"new_market"' in raw)  # not subscribed: broadcast
    events = frame_events(resolved)
    assert [e.market for e in events] == list(first.tokens)
    assert sorted(e.detail["winner"] for e in events if isinstance(e, Lifecycle)) == [False, True]
    opened = [e for e in frame_events(new) if isinstance(e, Lifecycle)]
    assert [e.status for e in opened] == ["new", "new"]
    async with aiohttp.ClientSession() as http:
        tokens = await discover_assets(http, sim.rest_url, DiscoveryConfig())
    assert first.tokens[0] not in tokens and opened[0].market in tokens
    plain: Client = await connect(sim.url)  # without custom features: no lifecycle frames
    await plain.send(orjson.dumps({"assets_ids": list(sim.model.by_asset), "type": "market"}))
    await plain.recv_until(lambda raw: b'"price_change"' in raw)
    await client.recv_until(lambda raw: b'"new_market"' in raw)
    await plain.send(protocol.PING)
    await plain.recv_until(lambda raw: raw == b"PONG")
    assert not any(b'"new_market"' in f or b'"best_bid_ask"' in f for f in plain.frames)
