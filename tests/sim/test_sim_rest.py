"""REST at /trade-api/v2, read by Kalshi's own SDK (kalshi_python_async, strict pydantic models) with --wire dual."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from kalshi_python_async import ApiClient, Configuration, EventsApi, ExchangeApi, KalshiAuth, MarketApi


@pytest.fixture
async def sdk(make_sim: Any, keypair: Any) -> AsyncIterator[tuple[Any, ApiClient]]:
    server = await make_sim(wire="dual", rate=5000, markets=30)
    client = ApiClient(Configuration(host=server.rest_url))
    # ApiClient.set_kalshi_auth is broken in this SDK release (KalshiAuth not imported there): set it directly.
    client.kalshi_auth = KalshiAuth(keypair.key_id, keypair.private_pem)
    try:
        yield server, client
    finally:
        await client.close()


async def test_sdk_pages_through_all_markets(sdk: tuple[Any, ApiClient]) -> None:
    """GET /markets with limit + cursor pagination returns every market once, each parsed by the SDK's model."""
    server, client = sdk
    api = MarketApi(client)
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        page = await api.get_markets(limit=7, cursor=cursor)
        seen += [m.ticker for m in page.markets]
        cursor = page.cursor
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert set(seen) == set(server.model.markets)


async def test_sdk_filters_markets(sdk: tuple[Any, ApiClient]) -> None:
    """status, series_ticker, event_ticker and tickers filters narrow GET /markets as Kalshi's do."""
    server, client = sdk
    api = MarketApi(client)
    some = server.model.active[0]
    by_series = await api.get_markets(series_ticker=some.series_ticker, limit=1000)
    assert by_series.markets and {m.ticker.split("-")[0] for m in by_series.markets} == {some.series_ticker}
    by_event = await api.get_markets(event_ticker=some.event_ticker)
    assert {m.event_ticker for m in by_event.markets} == {some.event_ticker}
    by_ticker = await api.get_markets(tickers=some.ticker)
    assert [m.ticker for m in by_ticker.markets] == [some.ticker]
    open_ = await api.get_markets(status="open", limit=1000)
    assert {m.status for m in open_.markets} == {"active"}


async def test_sdk_reads_one_market_and_its_orderbook(sdk: tuple[Any, ApiClient]) -> None:
    """GET /markets/{ticker} and /markets/{ticker}/orderbook parse, and the book is the simulator's own."""
    server, client = sdk
    api = MarketApi(client)
    m = server.model.active[0]
    server.paused = True
    market = await api.get_market(m.ticker)
    assert market.market.ticker == m.ticker
    book = await api.get_market_orderbook(m.ticker)
    levels = m.book.levels()
    assert [p for p, _ in book.orderbook.yes_dollars] == [f"{p / 100:.4f}" for p, _ in levels["yes"]]
    assert [q for _, q in book.orderbook.no_dollars] == [f"{q / 100:.2f}" for _, q in levels["no"]]


async def test_sdk_reads_events_series_and_exchange_status(sdk: tuple[Any, ApiClient]) -> None:
    """GET /events (with nested markets), /series/{ticker} and /exchange/status parse with the SDK."""
    server, client = sdk
    events = await EventsApi(client).get_events(with_nested_markets=True)
    assert events.events and all(e.markets for e in events.events)
    series = await MarketApi(client).get_series(server.model.active[0].series_ticker)
    assert series.series.ticker == server.model.active[0].series_ticker
    status = await ExchangeApi(client).get_exchange_status()
    assert status.exchange_active is True


async def test_current_wire_drops_integer_fields(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """With --wire current, markets carry dollar strings and _fp counts only, as Kalshi after 2026-03-12."""
    server = await make_sim(wire="current")
    async with http.get(f"{server.rest_url}/markets?limit=1") as resp:
        market = (await resp.json())["markets"][0]
    assert {"yes_bid_dollars", "volume_fp", "open_interest_fp"} <= market.keys()
    assert not {"yes_bid", "volume", "open_interest", "tick_size"} & market.keys()


async def test_bad_rest_signature_is_401(make_sim: Any, http: aiohttp.ClientSession, keypair: Any) -> None:
    """A REST call signed for a different path is refused with 401."""
    server = await make_sim()
    headers = keypair.credentials.headers("GET", "/trade-api/v2/events")
    async with http.get(f"{server.rest_url}/markets", headers=headers) as resp:
        assert resp.status == 401


async def test_rest_rate_limit_gives_429(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """Past ``rest_rate_limit`` requests per second a client gets 429 with Kalshi's error body."""
    server = await make_sim(rest_rate_limit=5)
    statuses = []
    for _ in range(12):
        async with http.get(f"{server.rest_url}/exchange/status") as resp:
            statuses.append(resp.status)
            body = await resp.json()
    assert statuses.count(429) >= 5 and statuses[0] == 200
    assert body == {"error": "too many requests"}


async def test_unknown_market_is_404(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """GET /markets/{unknown} is 404."""
    server = await make_sim()
    async with http.get(f"{server.rest_url}/markets/NOPE-1") as resp:
        assert resp.status == 404


async def test_limit_over_1000_is_400(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """GET /markets?limit=1001 is refused with 400."""
    server = await make_sim()
    async with http.get(f"{server.rest_url}/markets?limit=1001") as resp:
        assert resp.status == 400


async def test_events_status_filter(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """GET /events?status=open lists only events that still have an active market."""
    server = await make_sim(markets=12)
    async with http.get(f"{server.rest_url}/events?status=open") as resp:
        events = (await resp.json())["events"]
    active_events = {m.event_ticker for m in server.model.active}
    assert {e["event_ticker"] for e in events} == active_events
    async with http.get(f"{server.rest_url}/events?status=settled") as resp:
        assert (await resp.json())["events"] == []


async def test_bad_cursor_is_400(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """A cursor that did not come from a previous page is refused with 400, not a server error."""
    server = await make_sim()
    async with http.get(f"{server.rest_url}/markets?cursor=bm90LWEtbnVtYmVy") as resp:
        assert resp.status == 400


async def test_orderbook_depth_limits_levels(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """``depth=2`` returns the two best levels per side; a non-integer depth is 400."""
    server = await make_sim()
    m = server.model.active[0]
    async with http.get(f"{server.rest_url}/markets/{m.ticker}/orderbook?depth=2") as resp:
        book = (await resp.json())["orderbook_fp"]
    best_yes = sorted(m.book.yes)[-2:]
    assert [row[0] for row in book["yes_dollars"]] == [f"{p / 100:.4f}" for p in best_yes]
    async with http.get(f"{server.rest_url}/markets/{m.ticker}/orderbook?depth=x") as resp:
        assert resp.status == 400


async def test_bad_paging_is_400(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """A limit out of range or a cursor the simulator never handed out gets 400 with Kalshi's error body, on both
    paged lists (each with its own bound)."""
    server = await make_sim()
    cases = {
        "/markets?limit=0": "limit must be between 1 and 1000",
        "/markets?limit=1001": "limit must be between 1 and 1000",
        "/events?limit=201": "limit must be between 1 and 200",
        "/markets?cursor=not-a-cursor": "limit and cursor must come from a previous response",
        "/events?limit=ten": "limit and cursor must come from a previous response",
    }
    for path, message in cases.items():
        async with http.get(f"{server.rest_url}{path}") as resp:
            assert resp.status == 400, path
            assert (await resp.json())["error"] == {"code": "invalid_parameters", "message": message}, path
    async with http.get(f"{server.rest_url}/events?limit=200") as resp:
        assert resp.status == 200
