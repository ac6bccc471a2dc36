"""Kalshi frames as the feed seam's normalised events (:mod:`ssmd.feed.base`), read through the one field table.

Books are two-sided on the YES scale: a YES bid at p is a bid at p; a NO bid at p is an ask at ``1 - p``.
``exact=True`` reads with the ``Decimal`` parsers of :mod:`ssmd.kalshi.values`; the default float path (the
agent's hot path) reads trades, tickers and deltas straight from the decoded ``msg`` with
:func:`ssmd.kalshi.values.first_float` over the same candidates, and the rare frames (snapshots, lifecycle)
through the exact parsers, converted. A field that cannot be read drops the event it is needed for (the frame
stays in the archive); a ticker's absent fields are ``None`` ("unchanged", as ``ticker_v2`` sends them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Union

import msgspec
import orjson

from ssmd.feed.base import BookDelta, BookSnapshot, Event, Lifecycle, TopOfBook, Trade, UnreadableFrame
from ssmd.kalshi import values
from ssmd.kalshi.values import FIELDS, Untyped, first_float, float_candidates, float_reader, typed_reader

__all__ = ["STATUS_OF_EVENT", "frame_events"]

_ONE = Decimal(1)

STATUS_OF_EVENT = {
    "created": "created",
    "activated": "open",
    "deactivated": "paused",
    "determined": "determined",
    "settled": "settled",
}
"""``market_lifecycle_v2`` ``event_type`` -> the feed-neutral status; other event types change no status
(``Lifecycle.status`` is ``""``); ``deactivated`` with ``is_deactivated: false`` means reopened."""

_T, _K, _D = FIELDS["trade"], FIELDS["ticker"], FIELDS["orderbook_delta"]
_TS = float_candidates(_T["ts_ms"])
_read_trade = float_reader(*(_T[name] for name in ("yes_price", "count", "taker_side", "trade_id")))
_read_ticker = float_reader(*(_K[name] for name in ("yes_bid", "yes_ask", "price", "volume", "yes_bid_size",
                                                    "yes_ask_size")))
_read_delta = float_reader(*(_D[name] for name in ("side", "price", "delta")))

_KEY = ("market_ticker",)
_TradeMsg, _typed_trade_read = typed_reader(
    "_TradeMsg", *(_T[name] for name in ("yes_price", "count", "taker_side", "trade_id", "ts_ms")), keys=_KEY)
_TickerMsg, _typed_ticker_read = typed_reader(
    "_TickerMsg", *(_K[name] for name in ("yes_bid", "yes_ask", "price", "volume", "yes_bid_size", "yes_ask_size",
                                          "ts_ms")), keys=_KEY)
_DeltaMsg, _typed_delta_read = typed_reader(
    "_DeltaMsg", *(_D[name] for name in ("side", "price", "delta", "ts_ms")), keys=_KEY)


def _typed_trade(msg: Any) -> list[Event]:
    market, price, size, side, trade_id, ts = _typed_trade_read(msg)
    if type(market) is not str or not market or price is None or size is None:
        return []
    return [Trade(market, ts, price, size, side, trade_id)]


def _typed_ticker(msg: Any) -> list[Event]:
    market, bid, ask, last, volume, bid_size, ask_size, ts = _typed_ticker_read(msg)
    if type(market) is not str or not market:
        return []
    return [TopOfBook(market, ts, bid, ask, last, volume, bid_size, ask_size)]


def _typed_delta(msg: Any) -> list[Event]:
    market, side, price, change, ts = _typed_delta_read(msg)
    if type(market) is not str or not market or price is None or change is None:
        return []
    if side == "yes":
        return [BookDelta(market, ts, "bid", price, change)]
    if side == "no":
        return [BookDelta(market, ts, "ask", round(1.0 - price, 6), change)]
    return []


_BUILD: dict[str, tuple[type[msgspec.Struct], Callable[[Any], list[Event]]]] = {
    "trade": (_TradeMsg, _typed_trade), "ticker": (_TickerMsg, _typed_ticker),
    "ticker_v2": (_TickerMsg, _typed_ticker), "orderbook_delta": (_DeltaMsg, _typed_delta),
}
_TYPED: dict[Any, Callable[[Any], list[Event]]] = {
    msgspec.defstruct(f"_Frame_{kind}", [("msg", struct)], tag_field="type", tag=kind, gc=False): build
    for kind, (struct, build) in _BUILD.items()
}
_decode = msgspec.json.Decoder(Union[tuple(_TYPED)], strict=False).decode  # noqa: UP007


def frame_events(payload: bytes | str, exact: bool = False) -> list[Event]:
    """The events of one raw frame; ``[]`` for control frames and unknown types. Raises
    :class:`~ssmd.feed.base.UnreadableFrame` for bytes that are not a JSON object.

    The float path first tries one typed decode (trades, tickers, deltas: the bulk of the stream) straight into
    structs generated from the field table; any frame it cannot vouch for is read again the generic way."""
    if not exact:
        try:
            frame = _decode(payload)
            return _TYPED[type(frame)](frame.msg)
        except (msgspec.DecodeError, Untyped):
            pass
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UnreadableFrame("not JSON") from None
    if type(data) is not dict:
        raise UnreadableFrame("not a JSON object")
    msg = data.get("msg")
    if type(msg) is not dict:
        return []  # control replies carry no market data
    build = _EXACT.get(data.get("type")) if exact else _FAST.get(data.get("type"))  # type: ignore[arg-type]
    return build(msg) if build is not None else []


def _ts(msg: dict[str, Any]) -> int | None:
    ts = msg.get("ts_ms")
    if type(ts) is int:
        return ts
    result: int | None = first_float(msg, _TS)
    return result


def _market(msg: Mapping[str, Any]) -> str | None:
    market = msg.get("market_ticker")
    return market if type(market) is str and market else None


# -- the float path ------------------------------------------------------------------------------------------------


def _fast_trade(msg: dict[str, Any]) -> list[Event]:
    market = msg.get("market_ticker")
    price, size, side, trade_id = _read_trade(msg)
    if type(market) is not str or not market or price is None or size is None:
        return []
    ts = msg.get("ts_ms")
    return [Trade(market, ts if type(ts) is int else _ts(msg), price, size, side, trade_id)]


def _fast_ticker(msg: dict[str, Any]) -> list[Event]:
    market = msg.get("market_ticker")
    if type(market) is not str or not market:
        return []
    ts = msg.get("ts_ms")
    return [TopOfBook(market, ts if type(ts) is int else _ts(msg), *_read_ticker(msg))]


def _fast_delta(msg: dict[str, Any]) -> list[Event]:
    market = _market(msg)
    side, price, change = _read_delta(msg)
    if market is None or price is None or change is None:
        return []
    if side == "yes":
        return [BookDelta(market, _ts(msg), "bid", price, change)]
    if side == "no":
        return [BookDelta(market, _ts(msg), "ask", round(1.0 - price, 6), change)]
    return []


def _float_snapshot(msg: dict[str, Any]) -> list[Event]:
    return _snapshot(values.parse_snapshot(msg), float, _float_ask)


def _float_lifecycle(msg: dict[str, Any]) -> list[Event]:
    return _lifecycle(msg, values.parse_lifecycle(msg), float)


def _float_ask(price: Decimal) -> float:
    return round(1.0 - float(price), 6)


# -- the exact path ------------------------------------------------------------------------------------------------


def _exact_trade(msg: dict[str, Any]) -> list[Event]:
    value = values.parse_trade(msg)
    if not value.market_ticker or value.yes_price is None or value.count is None:
        return []
    return [Trade(value.market_ticker, value.ts_ms, value.yes_price, value.count, value.taker_side, value.trade_id)]


def _exact_ticker(msg: dict[str, Any]) -> list[Event]:
    v = values.parse_ticker(msg)
    if not v.market_ticker:
        return []
    return [TopOfBook(v.market_ticker, v.ts_ms, v.yes_bid, v.yes_ask, v.price, v.volume, v.yes_bid_size,
                      v.yes_ask_size)]


def _exact_delta(msg: dict[str, Any]) -> list[Event]:
    v = values.parse_delta(msg)
    if not v.market_ticker or v.price is None or v.delta is None:
        return []
    if v.side == "yes":
        return [BookDelta(v.market_ticker, v.ts_ms, "bid", v.price, v.delta)]
    if v.side == "no":
        return [BookDelta(v.market_ticker, v.ts_ms, "ask", _ONE - v.price, v.delta)]
    return []


def _exact_snapshot(msg: dict[str, Any]) -> list[Event]:
    return _snapshot(values.parse_snapshot(msg), _same, _exact_ask)


def _exact_lifecycle(msg: dict[str, Any]) -> list[Event]:
    return _lifecycle(msg, values.parse_lifecycle(msg), _same)


def _same(value: Decimal) -> Decimal:
    return value


def _exact_ask(price: Decimal) -> Decimal:
    return _ONE - price


# -- shared --------------------------------------------------------------------------------------------------------


def _snapshot(v: values.OrderbookSnapshot, num: Callable[[Decimal], Any],
              ask: Callable[[Decimal], Any]) -> list[Event]:
    if not v.market_ticker:
        return []
    bids = [(num(p), num(q)) for p, q in v.yes]
    asks = [(ask(p), num(q)) for p, q in v.no]
    return [BookSnapshot(v.market_ticker, v.ts_ms, bids, asks)]


def _lifecycle(msg: Mapping[str, Any], v: values.MarketLifecycle, num: Callable[[Decimal], Any]) -> list[Event]:
    if not v.market_ticker:
        return []
    event = v.event_type
    status = STATUS_OF_EVENT.get(event or "", "")
    if event == "deactivated" and msg.get("is_deactivated") is False:
        status = "open"
    detail = {"event_type": event, "result": v.result or None,
              "settlement_value": None if v.settlement_value is None else num(v.settlement_value),
              "close_ts": v.close_ts}
    return [Lifecycle(v.market_ticker, v.ts_ms, status, detail)]


_FAST: dict[str, Callable[[dict[str, Any]], list[Event]]] = {
    "trade": _fast_trade, "ticker": _fast_ticker, "ticker_v2": _fast_ticker, "orderbook_delta": _fast_delta,
    "orderbook_snapshot": _float_snapshot, "market_lifecycle_v2": _float_lifecycle,
}
_EXACT: dict[str, Callable[[dict[str, Any]], list[Event]]] = {
    "trade": _exact_trade, "ticker": _exact_ticker, "ticker_v2": _exact_ticker, "orderbook_delta": _exact_delta,
    "orderbook_snapshot": _exact_snapshot, "market_lifecycle_v2": _exact_lifecycle,
}
