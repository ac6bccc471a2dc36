"""The data stream: per-sid seqs, book consistency with an independent client book, wire formats, sent-log."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from ssmd.kalshi.book import BookSet
from ssmd.testing import wait_until


async def _collect(client: Any, ctl: Any, server: Any, n: int) -> list[dict[str, Any]]:
    """Read at least ``n`` data frames, then pause the simulator and drain everything it already sent."""
    seen: list[dict[str, Any]] = []
    for _ in range(n):
        seen.append(await client.recv())
    await ctl.post(server, "/_sim/pause")
    seen += await client.barrier()
    return seen


async def test_seqs_are_contiguous_per_sid(make_sim: Any, connect: Any, ctl: Any) -> None:
    """On every orderbook, trade and lifecycle sid, seq runs 1, 2, 3 ... with no gap or repeat; ticker has none."""
    server = await make_sim(rate=20000, lifecycle_interval=0.005)
    client = await connect(server)
    sids = await client.subscribe(["ticker", "trade", "market_lifecycle_v2"])
    sids |= await client.subscribe(["orderbook_delta"], [m.ticker for m in server.model.active])
    frames = await _collect(client, ctl, server, 5000)
    by_sid: dict[int, list[int]] = {}
    for f in frames:
        if f["sid"] == sids["ticker"]:
            assert "seq" not in f
        else:
            by_sid.setdefault(f["sid"], []).append(f["seq"])
    assert set(by_sid) == {sids["trade"], sids["market_lifecycle_v2"], sids["orderbook_delta"]}
    for seqs in by_sid.values():
        assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.parametrize("wire", ["current", "legacy", "dual"])
async def test_client_book_equals_simulator_book_after_10000_frames(
    make_sim: Any, connect: Any, ctl: Any, wire: str
) -> None:
    """A BookSet (ssmd.kalshi.book) fed the simulator's frames ends equal, level by level in dollars, to the
    simulator's own book for every subscribed market, after at least 10,000 frames, in every wire format."""
    server = await make_sim(rate=20000, wire=wire)
    client = await connect(server)
    tickers = [m.ticker for m in server.model.active]
    await client.subscribe(["orderbook_delta"], tickers)
    frames = await _collect(client, ctl, server, 10_000)
    assert len(frames) >= 10_000
    books = BookSet()
    for f in frames:
        books.on_frame(orjson.dumps(f))
    assert books.gaps == 0
    for ticker in tickers:
        ours = server.model.markets[ticker].book.levels()
        theirs = books.books[ticker].levels()
        # The one book is two-sided on the YES scale: a NO bid at p is an ask at 1 - p.
        assert theirs["bid"] == {Decimal(p) / 100: Decimal(q) / 100 for p, q in ours["yes"]}, ticker
        assert theirs["ask"] == {1 - Decimal(p) / 100: Decimal(q) / 100 for p, q in ours["no"]}, ticker


async def test_global_subscriptions_cover_every_market(make_sim: Any, connect: Any, ctl: Any) -> None:
    """A ticker subscription without markets receives frames for (nearly) all of the simulator's markets."""
    server = await make_sim(rate=20000, markets=10)
    client = await connect(server)
    await client.subscribe(["ticker"])
    frames = await _collect(client, ctl, server, 3000)
    seen = {f["msg"]["market_ticker"] for f in frames}
    assert {m.ticker for m in server.model.active} <= seen


async def test_trade_ids_are_unique_and_uuid_shaped(make_sim: Any, connect: Any, ctl: Any) -> None:
    """Every trade carries a distinct 36-character, 4-dash trade_id."""
    server = await make_sim(rate=20000)
    client = await connect(server)
    await client.subscribe(["trade"])
    trades = await _collect(client, ctl, server, 1000)
    ids = [t["msg"]["trade_id"] for t in trades]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 36 and i.count("-") == 4 for i in ids)


async def test_current_wire_has_no_integer_fields(make_sim: Any, connect: Any, ctl: Any) -> None:
    """``--wire current`` frames carry dollar strings, _fp counts and ts_ms, and none of the removed integers."""
    server = await make_sim(rate=20000, wire="current")
    client = await connect(server)
    await client.subscribe(["ticker", "trade"])
    frames = await _collect(client, ctl, server, 500)
    trade = next(f["msg"] for f in frames if f["type"] == "trade")
    ticker = next(f["msg"] for f in frames if f["type"] == "ticker")
    assert {"yes_price_dollars", "no_price_dollars", "count_fp", "ts_ms"} <= trade.keys()
    assert not {"yes_price", "no_price", "count"} & trade.keys()
    assert {"yes_bid_dollars", "yes_ask_dollars", "volume_fp", "open_interest_fp", "ts_ms"} <= ticker.keys()
    assert not {"price", "yes_bid", "yes_ask", "volume", "open_interest"} & ticker.keys()


async def test_legacy_wire_has_integer_cents_and_seconds(make_sim: Any, connect: Any, ctl: Any) -> None:
    """``--wire legacy`` frames carry integer cents and counts, ``ts`` in seconds, and no dollar strings."""
    server = await make_sim(rate=20000, wire="legacy")
    client = await connect(server)
    await client.subscribe(["trade"])
    await client.subscribe(["orderbook_delta"], [server.model.active[0].ticker])
    frames = await _collect(client, ctl, server, 500)
    trade = next(f["msg"] for f in frames if f["type"] == "trade")
    snap = next(f["msg"] for f in frames if f["type"] == "orderbook_snapshot")
    assert isinstance(trade["yes_price"], int) and isinstance(trade["count"], int)
    assert trade["yes_price"] + trade["no_price"] == 100
    assert trade["ts"] < 10**11 and "ts_ms" not in trade and "yes_price_dollars" not in trade
    assert all(isinstance(p, int) and isinstance(q, int) for p, q in snap.get("yes", []) + snap.get("no", []))


async def test_dual_wire_fields_agree(make_sim: Any, connect: Any, ctl: Any) -> None:
    """``--wire dual`` carries both forms, and they state the same prices and counts."""
    server = await make_sim(rate=20000, wire="dual")
    client = await connect(server)
    await client.subscribe(["trade"])
    frames = await _collect(client, ctl, server, 300)
    for f in frames:
        m = f["msg"]
        assert Decimal(m["yes_price_dollars"]) * 100 == m["yes_price"]
        assert Decimal(m["count_fp"]) == m["count"]


async def test_sent_log_holds_exactly_the_data_frames_received(
    make_sim: Any, connect: Any, ctl: Any, tmp_path: Path
) -> None:
    """``sent_log`` has one line per data frame sent, byte for byte what the client received, and no replies."""
    log = tmp_path / "sent.jsonl"
    server = await make_sim(rate=20000, sent_log=log)
    client = await connect(server)
    await client.subscribe(["ticker", "trade"])
    await client.subscribe(["orderbook_delta"], [server.model.active[0].ticker])
    await _collect(client, ctl, server, 2000)
    received = [r for r in client.raw if orjson.loads(r)["type"] not in ("subscribed", "ok")]
    assert log.read_bytes().decode().splitlines() == received


async def test_same_seed_gives_the_same_frames(make_sim: Any, connect: Any, ctl: Any) -> None:
    """Two simulators with one seed produce the same market list and the same frame sequence (bar timestamps)."""
    runs = []
    for _ in range(2):
        server = await make_sim(rate=20000, seed=42, markets=5)
        await ctl.post(server, "/_sim/pause")
        client = await connect(server)
        await client.subscribe(["trade"])
        await ctl.post(server, "/_sim/resume")
        frames = await _collect(client, ctl, server, 300)
        for f in frames:
            for key in ("ts", "ts_ms", "time"):
                f["msg"].pop(key, None)
        runs.append(frames[:300])
        await server.stop()
    assert runs[0] == runs[1]


async def test_rate_is_honoured(make_sim: Any, connect: Any, ctl: Any) -> None:
    """At ``rate=2000`` frames are generated, but never faster than 2000 a second (what a loaded machine cannot
    keep up with is dropped, not bunched up later: at most a quarter second's debt, 500 frames, comes on top)."""
    import asyncio

    server = await make_sim(rate=2000)
    client = await connect(server)
    await client.subscribe(["ticker", "trade", "market_lifecycle_v2"])
    await client.subscribe(["orderbook_delta"], [m.ticker for m in server.model.active])
    loop = asyncio.get_running_loop()
    before, started = (await ctl.stats(server))["frames_generated"], loop.time()

    async def generated() -> int:
        n: int = (await ctl.stats(server))["frames_generated"] - before
        return n if n >= 2000 else 0

    count = await wait_until(generated, what="2000 frames")
    elapsed = loop.time() - started
    assert count <= 2000 * elapsed + 600, (count, elapsed)


async def test_frames_sent_counts_data_frames_per_socket_like_the_sent_log(
    make_sim: Any, connect: Any, ctl: Any, tmp_path: Path
) -> None:
    """``/_sim/stats`` ``frames_sent`` is the number of data frames written, once per socket: it equals the
    sent-log's line count and the data frames the clients received (replies and errors not included)."""
    log = tmp_path / "sent.jsonl"
    server = await make_sim(rate=20000, sent_log=log)
    clients = [await connect(server), await connect(server)]
    await clients[0].subscribe(["ticker", "trade"])
    await clients[1].subscribe(["trade"])
    for _ in range(1000):
        await clients[1].recv()
    await ctl.fault(server, "error", code=10, channels=["ticker"])
    await ctl.post(server, "/_sim/pause")
    for c in clients:
        await c.barrier()
    control = ("subscribed", "ok", "error")
    per_socket = [sum(1 for r in c.raw if orjson.loads(r)["type"] not in control) for c in clients]
    assert min(per_socket) >= 1000
    stats = await ctl.stats(server)
    assert stats["frames_sent"] == len(log.read_bytes().splitlines()) == sum(per_socket)
