"""Kalshi frames as the feed seam's normalised events (:mod:`ssmd.feed.base`), from the one value layer.

Books are two-sided on the YES scale: a YES bid at p is a bid at p; a NO bid at p is an ask at ``1 - p``.
A field the value layer could not read drops the event it was needed for (the frame stays in the archive).
"""

from __future__ import annotations

from decimal import Decimal

import orjson

from ssmd.feed.base import BookDelta, BookSnapshot, Event, Lifecycle, Number, TopOfBook, Trade
from ssmd.kalshi import values

_ONE = Decimal(1)


def frame_events(payload: bytes, exact: bool = False) -> list[Event]:
    """The events of one raw frame; ``[]`` for control frames, unknown types and frames that are not JSON."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return []
    value = values.parse_value(data) if isinstance(data, dict) else None
    if value is None:
        return []
    num = _exact if exact else _float
    if isinstance(value, values.Trade):
        if value.yes_price is None or value.count is None:
            return []
        return [Trade(value.market_ticker, value.ts_ms, num(value.yes_price), num(value.count), value.taker_side,
                      value.trade_id)]
    if isinstance(value, values.Ticker):
        return [TopOfBook(value.market_ticker, value.ts_ms, _opt(num, value.yes_bid), _opt(num, value.yes_ask),
                          _opt(num, value.price), _opt(num, value.volume))]
    if isinstance(value, values.OrderbookSnapshot):
        bids = [(num(p), num(q)) for p, q in value.yes]
        asks = sorted((num(_ONE - p), num(q)) for p, q in value.no)
        return [BookSnapshot(value.market_ticker, value.ts_ms, bids, asks)]
    if isinstance(value, values.OrderbookDelta):
        if value.side not in ("yes", "no") or value.price is None or value.delta is None:
            return []
        if value.side == "yes":
            return [BookDelta(value.market_ticker, value.ts_ms, "bid", num(value.price), change=num(value.delta))]
        return [BookDelta(value.market_ticker, value.ts_ms, "ask", num(_ONE - value.price), change=num(value.delta))]
    if isinstance(value, values.MarketLifecycle):
        detail = {k: v for k, v in (("result", value.result), ("settlement_value", value.settlement_value),
                                    ("open_ts", value.open_ts), ("close_ts", value.close_ts)) if v is not None}
        return [Lifecycle(value.market_ticker, value.ts_ms, value.event_type or "", detail)]
    return []  # event_lifecycle: an event was created; no market changes


def _exact(value: Decimal) -> Number:
    return value


def _float(value: Decimal) -> Number:
    return float(value)


def _opt(num: object, value: Decimal | None) -> Number | None:
    return None if value is None else num(value)  # type: ignore[operator]
