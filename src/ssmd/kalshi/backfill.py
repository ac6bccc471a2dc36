"""REST backfill of Kalshi trades: what a connector missed while its ``trade`` subscription was down.

``GET /markets/trades`` (``min_ts``/``max_ts`` in Unix seconds, cursor-paged, newest first) covers the window;
the part older than ``GET /historical/cutoff`` (``trades_created_ts``) is only under ``/historical/trades``.
Each REST trade becomes a WebSocket-shaped trade frame with an origin marker::

    {"type": "trade", "msg": {"trade_id", "market_ticker", "yes_price_dollars", "no_price_dollars", "count_fp",
     "taker_side", "ts", "ts_ms"}, "ssmd_backfill": {"source": "rest", "endpoint": "/markets/trades",
     "instance": "..."}}

so every reader that understands a WebSocket trade understands it, and the merge (keyed on ``trade_id``) keeps
one copy when the WebSocket delivered the trade too. The fetch is bounded (``max_pages`` requests,
``max_trades`` trades): past the bound it stops and says so (:attr:`Backfill.complete` False, ``covered_ms``
the newest part it did cover), the connector logs it and records only the covered part in the coverage ledger.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson

from ssmd.feed.base import BACKFILL_MARKER, Backfill, Credentials
from ssmd.kalshi.frames import rfc3339_ms
from ssmd.kalshi.rest import RestError, get_json, pages

log = logging.getLogger(__name__)

PAGE = 1000
MAX_PAGES = 200
MAX_TRADES = 100_000
"""Bounds of one backfill: a day of a busy exchange is far more; an outage of minutes is far less."""
LIVE, HISTORICAL = "/markets/trades", "/historical/trades"


def _epoch_ms(value: Any) -> int | None:
    """RFC 3339 (``2026-01-02T03:04:05.678Z``) or Unix seconds -> epoch ms; ``None`` if neither."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1000)
    if isinstance(value, str):
        return rfc3339_ms(value)
    return None


def ws_frame(trade: dict[str, Any], instance: str, endpoint: str) -> bytes | None:
    """A REST trade as a WebSocket trade frame, marked as backfilled; ``None`` without a trade id or time."""
    trade_id, ticker = trade.get("trade_id"), trade.get("ticker")
    ts_ms = _epoch_ms(trade.get("created_time"))
    if not isinstance(trade_id, str) or not trade_id or not isinstance(ticker, str) or ts_ms is None:
        return None
    msg = {"trade_id": trade_id, "market_ticker": ticker, "yes_price_dollars": trade.get("yes_price_dollars"),
           "no_price_dollars": trade.get("no_price_dollars"), "count_fp": trade.get("count_fp"),
           "taker_side": trade.get("taker_side"), "ts": ts_ms // 1000, "ts_ms": ts_ms}
    return orjson.dumps({"type": "trade", "msg": msg,
                         BACKFILL_MARKER: {"source": "rest", "endpoint": endpoint, "instance": instance}})


async def historical_cutoff_ms(http: aiohttp.ClientSession, rest_base: str, creds: Credentials | None) -> int:
    body = await get_json(http, f"{rest_base.rstrip('/')}/historical/cutoff", creds, {})
    cut = _epoch_ms(body.get("trades_created_ts"))
    if cut is None:
        raise RestError("GET /historical/cutoff: no usable 'trades_created_ts'")
    return cut


async def fetch_trades(
    http: aiohttp.ClientSession, rest_base: str, creds: Credentials | None, window_ms: tuple[int, int], *,
    instance: str, markets: Sequence[str] | None = None, max_pages: int | None = None,
    max_trades: int | None = None, page_size: int | None = None,
) -> Backfill:
    """Every trade in ``window_ms`` (epoch ms; the caller adds its margins), newest first, as marked frames;
    only ``markets``' trades when given. Raises :class:`RestError` (or a network error) when Kalshi fails."""
    start_ms, end_ms = window_ms
    max_pages = MAX_PAGES if max_pages is None else max_pages  # read now: the connector's defaults
    max_trades = MAX_TRADES if max_trades is None else max_trades
    page_size = PAGE if page_size is None else page_size
    base = rest_base.rstrip("/")
    cut = await historical_cutoff_ms(http, base, creds)
    wanted = set(markets) if markets is not None else None
    seen: set[str] = set()
    frames: list[tuple[str, bytes]] = []
    n_pages = 0
    oldest_s: int | None = None
    parts = [(LIVE, max(start_ms, cut), end_ms)]
    if start_ms < cut:
        parts.append((HISTORICAL, start_ms, min(end_ms, cut)))
    for endpoint, lo_ms, hi_ms in parts:  # newest part first: a bound leaves the oldest part uncovered
        if lo_ms > hi_ms:
            continue
        params = {"limit": str(page_size), "min_ts": str(lo_ms // 1000), "max_ts": str(-(-hi_ms // 1000))}
        async for page in pages(http, base + endpoint, creds, params, "trades"):
            n_pages += 1
            for trade in page:
                trade_id = trade.get("trade_id")
                if not isinstance(trade_id, str) or trade_id in seen:
                    continue
                if wanted is not None and trade.get("ticker") not in wanted:
                    continue
                frame = ws_frame(trade, instance, endpoint)
                if frame is None:
                    log.warning("backfill: a trade from %s without trade_id, ticker or created_time: %.200r",
                                endpoint, trade)
                    continue
                seen.add(trade_id)
                frames.append((trade_id, frame))
                ts_s = (_epoch_ms(trade.get("created_time")) or 0) // 1000
                oldest_s = ts_s if oldest_s is None else min(oldest_s, ts_s)
            if n_pages >= max_pages or len(frames) >= max_trades:
                # trades of the oldest second seen may be only partly fetched: it is not covered
                covered_from = min(end_ms, (oldest_s + 1) * 1000) if oldest_s is not None else end_ms
                why = (f"stopped at the bound ({n_pages} pages, {len(frames)} trades; max_pages={max_pages}, "
                       f"max_trades={max_trades}): trades before {_iso(covered_from)} not backfilled")
                return Backfill(frames, (covered_from, end_ms), complete=False, detail=why)
    return Backfill(frames, (start_ms, end_ms))


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
