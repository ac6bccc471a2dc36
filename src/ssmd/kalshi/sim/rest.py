"""Market-discovery REST at ``/trade-api/v2``, in Kalshi's response shapes.

``--wire current`` answers as Kalshi does after 2026-03-12 (dollar strings, ``_fp`` counts, no integer cents);
``legacy`` and ``dual`` add the integer fields the published SDK's models still require. Signed requests are
verified; unsigned ones are allowed, since Kalshi serves public market data without auth. Over
``--rest-rate-limit`` a client gets 429 ``{"error": "too many requests"}``.

``/markets/trades`` serves the model's trade tape (the trades it made, whether or not anyone was subscribed, with
the WebSocket's ``trade_id``s), newest first like Kalshi; trades older than ``--historical-after`` seconds are
only under ``/historical/trades``, and ``/historical/cutoff`` says where that boundary is. Cursors name a
position in the tape, so trades made while a client pages do not shift its pages.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ssmd.kalshi.auth import HEADER_KEY
from ssmd.kalshi.sim.handshake import RateLimiter, Rejected, check_signature
from ssmd.kalshi.sim.markets import SERIES, EventInfo, Market, TradeRecord
from ssmd.kalshi.sim.wire import dollars, fp

if TYPE_CHECKING:
    from ssmd.kalshi.sim.server import SimServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATUS_FILTER = {
    "unopened": {"initialized"}, "open": {"active"}, "paused": {"inactive"}, "closed": {"closed"},
    "settled": {"determined", "finalized"},
}


EVENT_STATUS = ("open", "closed", "settled")


def _event_status(markets: list[Market]) -> str:
    """An event is open while any market is, settled once all are, closed in between."""
    if any(m.status in ("active", "initialized") for m in markets):
        return "open"
    if markets and all(m.status == "finalized" for m in markets):
        return "settled"
    return "closed"


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_ms(ms: int) -> str:
    """RFC 3339 with milliseconds, as Kalshi writes ``created_time``."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _paging(q: Mapping[str, str], default: int, most: int) -> tuple[int, int] | web.Response:
    """``(limit, offset)`` of a paged list request (the cursor is an opaque offset), or its 400 reply."""
    try:
        limit = int(q.get("limit", str(default)))
        offset = int(base64.urlsafe_b64decode(q["cursor"]).decode()) if q.get("cursor") else 0
    except ValueError:
        return _error(400, "invalid_parameters", "limit and cursor must come from a previous response")
    if not 1 <= limit <= most:
        return _error(400, "invalid_parameters", f"limit must be between 1 and {most}")
    return limit, offset


def _next_cursor(nxt: int, total: int) -> str:
    """The cursor of the page starting at ``nxt``; ``""`` after the last page."""
    return base64.urlsafe_b64encode(str(nxt).encode()).decode() if nxt < total else ""


class Rest:
    def __init__(self, server: SimServer, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.limiter = RateLimiter(server.config.rest_rate_limit)
        wire = server.config.wire
        self.new = wire in ("current", "dual")
        self.old = wire in ("legacy", "dual")

    def guard(self, handler: Handler) -> Handler:
        """Auth (when signed) and the per-client rate limit, in front of every REST handler."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            server = self.server
            server.stats["rest_requests"] += 1
            who = request.remote or "?"
            if HEADER_KEY in request.headers and server.config.auth:
                try:
                    who = check_signature(request.headers, request.method, request.path, server.config.keys,
                                          server.config.skew_s)
                except Rejected as exc:
                    return _error(401, "unauthorized", str(exc))
            if not self.limiter.allow(who):
                server.stats["rest_rate_limited"] += 1
                return web.json_response({"error": "too many requests"}, status=429)
            return await handler(request)

        return wrapped

    # ----- shapes ----------------------------------------------------------------------------------------------
    def _status(self, m: Market) -> str:
        if m.status == "finalized" and self.old:
            return "settled"  # the SDK's enum predates "finalized"
        return m.status

    def market(self, m: Market) -> dict[str, Any]:
        yb, ybs, ya, yas = m.book.top()
        series = next((s for s in SERIES if s.ticker == m.series_ticker), None)
        out: dict[str, Any] = {
            "ticker": m.ticker, "event_ticker": m.event_ticker, "market_type": "binary",
            "title": m.title, "subtitle": m.title.split(": ")[-1],
            "yes_sub_title": m.title.split(": ")[-1], "no_sub_title": m.title.split(": ")[-1],
            "created_time": _iso(m.created_ms // 1000), "open_time": _iso(m.open_ts),
            "close_time": _iso(m.close_ts), "expected_expiration_time": _iso(m.close_ts),
            "expiration_time": _iso(m.close_ts + 86400 * 7), "latest_expiration_time": _iso(m.close_ts + 86400 * 7),
            "settlement_timer_seconds": 300, "status": self._status(m),
            "yes_bid_dollars": dollars(yb), "yes_ask_dollars": dollars(ya),
            "no_bid_dollars": dollars(100 - ya), "no_ask_dollars": dollars(100 - yb),
            "last_price_dollars": dollars(m.last_price), "result": m.result, "can_close_early": True,
            "notional_value_dollars": "1.0000", "previous_yes_bid_dollars": dollars(yb),
            "previous_yes_ask_dollars": dollars(ya), "previous_price_dollars": dollars(m.last_price),
            "liquidity_dollars": dollars(0), "expiration_value": "",
            "category": series.category if series else "", "strike_type": "greater",
            "rules_primary": f"If the outcome is above the strike for {m.ticker}, the market resolves to Yes.",
            "rules_secondary": "", "price_level_structure": "linear_cent",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        }
        if m.result:
            out["settlement_value_dollars"] = dollars(100 if m.result == "yes" else 0)
        if self.new:
            out.update({
                "yes_bid_size_fp": fp(ybs), "yes_ask_size_fp": fp(yas), "volume_fp": fp(m.volume),
                "volume_24h_fp": fp(m.volume), "open_interest_fp": fp(m.open_interest),
            })
        if self.old:
            out.update({
                "response_price_units": "usd_cent", "yes_bid": yb, "yes_ask": ya, "no_bid": 100 - ya,
                "no_ask": 100 - yb, "last_price": m.last_price, "volume": m.volume // 100,
                "volume_24h": m.volume // 100, "open_interest": m.open_interest // 100, "notional_value": 100,
                "previous_yes_bid": yb, "previous_yes_ask": ya, "previous_price": m.last_price, "liquidity": 0,
                "risk_limit_cents": 0, "tick_size": 1,
            })
            if m.result:
                out["settlement_value"] = 100 if m.result == "yes" else 0
        return out

    def event(self, e: EventInfo, markets: list[Market] | None) -> dict[str, Any]:
        series = next((s for s in SERIES if s.ticker == e.series_ticker), None)
        out: dict[str, Any] = {
            "event_ticker": e.event_ticker, "series_ticker": e.series_ticker, "sub_title": e.sub_title,
            "title": e.title, "collateral_return_type": "", "mutually_exclusive": False,
            "category": series.category if series else "", "strike_date": _iso(e.strike_date),
            "available_on_brokers": False, "product_metadata": None,
        }
        if markets is not None:
            out["markets"] = [self.market(m) for m in markets]
        return out

    # ----- handlers --------------------------------------------------------------------------------------------
    def _markets(self) -> list[Market]:
        model = self.server.model
        return list(model.markets.values()) if model else []

    async def get_markets(self, request: web.Request) -> web.Response:
        q = request.query
        paging = _paging(q, 100, 1000)
        if isinstance(paging, web.Response):
            return paging
        limit, offset = paging
        markets = self._markets()
        if status := q.get("status"):
            if status not in STATUS_FILTER:
                return _error(400, "invalid_parameters", f"status must be one of {', '.join(STATUS_FILTER)}")
            markets = [m for m in markets if m.status in STATUS_FILTER[status]]
        if event := q.get("event_ticker"):
            wanted = set(event.split(","))
            markets = [m for m in markets if m.event_ticker in wanted]
        if series := q.get("series_ticker"):
            markets = [m for m in markets if m.series_ticker == series]
        if tickers := q.get("tickers"):
            wanted = set(tickers.split(","))
            markets = [m for m in markets if m.ticker in wanted]
        page = markets[offset:offset + limit]
        cursor = _next_cursor(offset + limit, len(markets))
        return web.json_response({"markets": [self.market(m) for m in page], "cursor": cursor})

    def _find(self, request: web.Request) -> Market | None:
        model = self.server.model
        return model.markets.get(request.match_info["ticker"]) if model else None

    async def get_market(self, request: web.Request) -> web.Response:
        m = self._find(request)
        if m is None:
            return _error(404, "not_found", "market not found")
        return web.json_response({"market": self.market(m)})

    async def get_orderbook(self, request: web.Request) -> web.Response:
        m = self._find(request)
        if m is None:
            return _error(404, "not_found", "market not found")
        try:
            depth = int(request.query.get("depth", "0") or 0)
        except ValueError:
            return _error(400, "invalid_parameters", "depth must be an integer")
        levels = m.book.levels()
        yes = sorted(levels["yes"], reverse=True)[:depth or None]
        no = sorted(levels["no"], reverse=True)[:depth or None]
        yes.reverse()
        no.reverse()
        book_fp = {"yes_dollars": [[dollars(p), fp(q)] for p, q in yes],
                   "no_dollars": [[dollars(p), fp(q)] for p, q in no]}
        out: dict[str, Any] = {}
        if self.new:
            out["orderbook_fp"] = book_fp
        if self.old:
            out["orderbook"] = {"yes": [[p, q // 100] for p, q in yes] or None,
                                "no": [[p, q // 100] for p, q in no] or None, **book_fp}
        return web.json_response(out)

    async def get_events(self, request: web.Request) -> web.Response:
        q = request.query
        model = self.server.model
        events = list(model.events.values()) if model else []
        if series := q.get("series_ticker"):
            events = [e for e in events if e.series_ticker == series]
        paging = _paging(q, 200, 200)
        if isinstance(paging, web.Response):
            return paging
        limit, offset = paging
        nested = q.get("with_nested_markets", "false").lower() == "true"
        by_event: dict[str, list[Market]] = {}
        for m in self._markets():
            by_event.setdefault(m.event_ticker, []).append(m)
        if status := q.get("status"):
            if status not in EVENT_STATUS:
                return _error(400, "invalid_parameters", f"status must be one of {', '.join(EVENT_STATUS)}")
            events = [e for e in events if _event_status(by_event.get(e.event_ticker, [])) == status]
        page = events[offset:offset + limit]
        cursor = _next_cursor(offset + limit, len(events))
        body = [self.event(e, by_event.get(e.event_ticker, []) if nested else None) for e in page]
        return web.json_response({"events": body, "cursor": cursor})

    async def get_series(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        series = next((s for s in SERIES if s.ticker == ticker), None)
        if series is None:
            return _error(404, "not_found", "series not found")
        return web.json_response({"series": {
            "ticker": series.ticker, "frequency": series.frequency, "title": series.title,
            "category": series.category, "tags": [series.category], "settlement_sources": [
                {"name": "Simulated source", "url": "https://example.invalid/"}],
            "contract_url": "https://example.invalid/contract.pdf", "contract_terms_url": "https://example.invalid/terms",
            "fee_type": "quadratic", "fee_multiplier": 1, "additional_prohibitions": [],
        }})

    def trade(self, t: TradeRecord) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trade_id": t.trade_id, "ticker": t.ticker, "yes_price_dollars": dollars(t.yes_price),
            "no_price_dollars": dollars(100 - t.yes_price), "taker_side": t.taker, "created_time": _iso_ms(t.ts_ms),
        }
        if self.new:
            out["count_fp"] = fp(t.size)
        if self.old:
            out.update({"count": t.size // 100, "yes_price": t.yes_price, "no_price": 100 - t.yes_price,
                        "price": t.yes_price / 100})
        return out

    def cutoff_ms(self) -> int:
        """Trades before this are historical (0: none are)."""
        after = self.server.config.historical_after
        return 0 if after is None else int((time.time() - after) * 1000)

    async def get_trades(self, request: web.Request) -> web.Response:
        return self._trades(request, historical=False)

    async def get_historical_trades(self, request: web.Request) -> web.Response:
        return self._trades(request, historical=True)

    def _trades(self, request: web.Request, historical: bool) -> web.Response:
        q = request.query
        try:
            limit = int(q.get("limit", "100"))
            min_ts = int(q["min_ts"]) if q.get("min_ts") else None
            max_ts = int(q["max_ts"]) if q.get("max_ts") else None
            cursor = int(base64.urlsafe_b64decode(q["cursor"]).decode()) if q.get("cursor") else None
        except ValueError:
            return _error(400, "invalid_parameters", "limit, min_ts and max_ts must be integers; cursor must "
                                                     "come from a previous response")
        if not 1 <= limit <= 1000:
            return _error(400, "invalid_parameters", "limit must be between 1 and 1000")
        model = self.server.model
        tape = model.trades if model else []
        base = model.trades_forgotten if model else 0
        ticker = q.get("ticker") or None
        cut = self.cutoff_ms()
        lo_ms = 0 if min_ts is None else min_ts * 1000
        hi_ms = 1 << 62 if max_ts is None else max_ts * 1000 + 1000  # max_ts is inclusive, in whole seconds
        if historical:
            hi_ms = min(hi_ms, cut)
        else:
            lo_ms = max(lo_ms, cut)
        lo = bisect.bisect_left(tape, lo_ms, key=lambda t: t.ts_ms)
        hi = bisect.bisect_left(tape, hi_ms, key=lambda t: t.ts_ms)
        if cursor is not None:
            hi = min(hi, cursor - base)
        page: list[TradeRecord] = []
        i = hi - 1
        while i >= lo and len(page) < limit:  # newest first
            t = tape[i]
            if ticker is None or t.ticker == ticker:
                page.append(t)
            i -= 1
        more = i >= lo and len(page) == limit
        nxt = base64.urlsafe_b64encode(str(base + i + 1).encode()).decode() if more else ""
        return web.json_response({"trades": [self.trade(t) for t in page], "cursor": nxt})

    async def get_historical_cutoff(self, request: web.Request) -> web.Response:
        cut = _iso_ms(self.cutoff_ms())
        return web.json_response({"trades_created_ts": cut, "market_settled_ts": cut, "orders_updated_ts": cut})

    async def get_exchange_status(self, request: web.Request) -> web.Response:
        return web.json_response({"exchange_active": True, "trading_active": True,
                                  "exchange_estimated_resume_time": None})


def rest_routes(server: SimServer, prefix: str) -> list[web.RouteDef]:
    rest = Rest(server, prefix)
    g = rest.guard
    return [
        web.get(f"{prefix}/markets", g(rest.get_markets)),
        web.get(f"{prefix}/markets/trades", g(rest.get_trades)),  # before /markets/{ticker}, which would match
        web.get(f"{prefix}/historical/trades", g(rest.get_historical_trades)),
        web.get(f"{prefix}/historical/cutoff", g(rest.get_historical_cutoff)),
        web.get(f"{prefix}/markets/{{ticker}}", g(rest.get_market)),
        web.get(f"{prefix}/markets/{{ticker}}/orderbook", g(rest.get_orderbook)),
        web.get(f"{prefix}/events", g(rest.get_events)),
        web.get(f"{prefix}/series/{{ticker}}", g(rest.get_series)),
        web.get(f"{prefix}/exchange/status", g(rest.get_exchange_status)),
    ]
