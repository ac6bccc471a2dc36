"""REST trades of the simulator (``/markets/trades``, ``/historical/*``) and the Kalshi backfill client against
it: paging, filters, the 429 back-off, the historical split and the bound."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import orjson
from kalshi_python_async import ApiClient, Configuration, KalshiAuth, MarketApi

from ssmd.kalshi.backfill import fetch_trades
from ssmd.kalshi.rest import get_json
from ssmd.kalshi.sim.server import SimServer


def _trade_until(server: SimServer, n: int, ts_ms: int) -> None:
    """Step the model (rate 0: nothing else does) at ``ts_ms`` until it made ``n`` more trades."""
    model = server.model
    assert model is not None
    want = len(model.trades) + n
    while len(model.trades) < want:
        model.step(ts_ms)


async def _all(http: aiohttp.ClientSession, url: str, **params: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(1000):
        async with http.get(url, params={**params, **({"cursor": cursor} if cursor else {})}) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.json()
        out += body["trades"]
        cursor = body["cursor"]
        if not cursor:
            return out
    raise AssertionError("cursor never ended")


async def test_trades_page_newest_first_with_filters(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """Paging with a small limit returns every trade the model made once, newest first, with the WebSocket's
    trade ids and REST field names; ticker and min_ts/max_ts narrow it; trades made between pages shift nothing."""
    server = await make_sim(markets=6)
    now_s = int(time.time())
    _trade_until(server, 20, (now_s - 30) * 1000)
    _trade_until(server, 20, (now_s - 10) * 1000)
    url = f"{server.rest_url}/markets/trades"
    tape = server.model.trades
    seen: list[dict[str, Any]] = []
    cursor = ""
    while True:
        async with http.get(url, params={"limit": "7", **({"cursor": cursor} if cursor else {})}) as resp:
            body = await resp.json()
        seen += body["trades"]
        cursor = body["cursor"]
        _trade_until(server, 1, now_s * 1000)  # newer trades arrive while paging
        if not cursor:
            break
    first_40 = [t.trade_id for t in reversed(tape[:40])]
    assert [t["trade_id"] for t in seen] == first_40
    one = seen[0]
    assert set(one) == {"trade_id", "ticker", "yes_price_dollars", "no_price_dollars", "count_fp", "taker_side",
                        "created_time"}
    assert one["created_time"].endswith("Z")
    ticker = tape[0].ticker
    by_ticker = await _all(http, url, ticker=ticker, limit="3")
    assert [t["trade_id"] for t in by_ticker] == [t.trade_id for t in reversed(tape) if t.ticker == ticker]
    old = await _all(http, url, min_ts=str(now_s - 31), max_ts=str(now_s - 30))
    assert {t["trade_id"] for t in old} == {t.trade_id for t in tape[:20]}
    async with http.get(url, params={"limit": "1001"}) as resp:
        assert resp.status == 400


async def test_sdk_reads_trades(make_sim: Any, keypair: Any) -> None:
    """Kalshi's own SDK (strict models, signed requests) parses the trades with --wire dual."""
    server = await make_sim(wire="dual", markets=4)
    _trade_until(server, 5, int(time.time() * 1000))
    client = ApiClient(Configuration(host=server.rest_url))
    client.kalshi_auth = KalshiAuth(keypair.key_id, keypair.private_pem)
    try:
        page = await MarketApi(client).get_trades(limit=100)
    finally:
        await client.close()
    assert [t.trade_id for t in page.trades] == [t.trade_id for t in reversed(server.model.trades)]


async def test_rate_limited_fetch_backs_off_and_completes(make_sim: Any, http: aiohttp.ClientSession,
                                                          keypair: Any) -> None:
    """Over --rest-rate-limit the simulator answers 429; the signed client backs off and still gets every page."""
    server = await make_sim(markets=4, rest_rate_limit=2.0)
    now_ms = int(time.time() * 1000)
    _trade_until(server, 30, now_ms - 2000)
    statuses = []
    for _ in range(4):
        async with http.get(f"{server.rest_url}/markets/trades") as resp:
            statuses.append(resp.status)
    assert 429 in statuses
    got = await fetch_trades(http, server.rest_url, keypair.credentials, (now_ms - 5000, now_ms), instance="a",
                             page_size=10)
    assert got.complete
    assert sorted(k for k, _ in got.frames) == sorted(t.trade_id for t in server.model.trades)
    assert server.stats["rest_rate_limited"] >= 2


async def test_historical_split_and_frame_shape(make_sim: Any, http: aiohttp.ClientSession, keypair: Any) -> None:
    """Trades older than the cutoff are only under /historical/trades; the client fetches both parts and
    shapes each trade like the WebSocket's, marked with its origin."""
    server = await make_sim(markets=4, historical_after=60.0)
    now_ms = int(time.time() * 1000)
    _trade_until(server, 8, now_ms - 120_000)
    _trade_until(server, 8, now_ms - 1000)
    tape = server.model.trades
    cutoff = await get_json(http, f"{server.rest_url}/historical/cutoff", None, {})
    assert set(cutoff) >= {"trades_created_ts"}
    recent = await _all(http, f"{server.rest_url}/markets/trades")
    old = await _all(http, f"{server.rest_url}/historical/trades")
    assert {t["trade_id"] for t in recent} == {t.trade_id for t in tape[8:]}
    assert {t["trade_id"] for t in old} == {t.trade_id for t in tape[:8]}
    got = await fetch_trades(http, server.rest_url, keypair.credentials, (now_ms - 130_000, now_ms), instance="i1")
    assert got.complete and got.covered_ms == (now_ms - 130_000, now_ms)
    frames = {k: orjson.loads(f) for k, f in got.frames}
    assert set(frames) == {t.trade_id for t in tape}
    first = tape[0]
    f = frames[first.trade_id]
    assert f["type"] == "trade"
    assert f["ssmd_backfill"] == {"source": "rest", "endpoint": "/historical/trades", "instance": "i1"}
    assert frames[tape[-1].trade_id]["ssmd_backfill"]["endpoint"] == "/markets/trades"
    ws = orjson.loads(server.model.render.trade(first.trade_id, first.ticker, first.yes_price, first.size,
                                                first.taker, first.ts_ms))
    for key in ("trade_id", "market_ticker", "yes_price_dollars", "no_price_dollars", "count_fp", "taker_side",
                "ts", "ts_ms"):
        assert f["msg"][key] == ws[key], key


async def test_bound_reached_is_a_partial_backfill(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """Past max_pages the fetch stops, says so, and covers only the newest part it fully fetched."""
    server = await make_sim(markets=4)
    now_ms = int(time.time() * 1000)
    for age in (30, 20, 10):
        _trade_until(server, 6, now_ms - age * 1000)
    got = await fetch_trades(http, server.rest_url, None, (now_ms - 40_000, now_ms), instance="a", page_size=5,
                             max_pages=2)
    assert not got.complete and "max_pages=2" in got.detail
    assert len(got.frames) == 10
    start, end = got.covered_ms
    assert end == now_ms and start > now_ms - 40_000
    newest = [t for t in server.model.trades if t.ts_ms >= start]
    assert {t.trade_id for t in newest} <= {k for k, _ in got.frames}  # what it claims to cover, it has
