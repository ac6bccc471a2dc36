"""Typed, tolerant views of Kalshi data messages, for analysis (agent, export, simulator tests).

Archives hold every wire format Kalshi has used, so each field is read from its newest name first and falls
back to older ones: ``yes_price_dollars`` ("0.4200") then ``yes_price`` (42 cents); ``count_fp`` ("12.50") then
``count``; ``ts_ms`` then ``time`` (RFC 3339) then ``ts`` (Unix seconds or RFC 3339). Units are uniform whatever
the wire: prices are :class:`~decimal.Decimal` **dollars**, sizes are ``Decimal`` contracts (may be fractional),
times are Unix milliseconds. A field that is present but empty (``price_dollars: ""``, Kalshi's "no trade yet")
is ``None`` and does not fall back. A field that cannot be read is ``None`` and its wire name goes into
``bad_fields``; one bad field never fails the message. The connector never uses these: it routes raw bytes
(see ``frames``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

__all__ = [
    "EventLifecycle",
    "Level",
    "MarketLifecycle",
    "OrderbookDelta",
    "OrderbookSnapshot",
    "Ticker",
    "Trade",
    "Value",
    "cents_to_dollars",
    "contracts",
    "dollars",
    "parse_delta",
    "parse_event_lifecycle",
    "parse_lifecycle",
    "parse_snapshot",
    "parse_ticker",
    "parse_trade",
    "parse_value",
]

Level = tuple[Decimal, Decimal]
"""One book level: ``(price_dollars, quantity_contracts)``."""

_T = TypeVar("_T")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MS = dt.timedelta(milliseconds=1)


class _Bad(Exception):
    """A field value that cannot be read (internal: becomes ``None`` + a ``bad_fields`` entry)."""


# --- scalar converters: ``None`` means "no value", _Bad means "unreadable" -------------------------------------


def _decimal(raw: object) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise _Bad
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        value = Decimal(repr(raw))
    elif isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise _Bad from None
    else:
        raise _Bad
    if not value.is_finite():
        raise _Bad
    return value


def _cents(raw: object) -> Decimal | None:
    value = _decimal(raw)
    return None if value is None else value.scaleb(-2)


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    raise _Bad


def _side(raw: object) -> str | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str) and raw.lower() in ("yes", "no"):
        return raw.lower()
    raise _Bad


def _book_side(raw: object) -> str | None:
    """``taker_book_side``: ``bid`` is the YES book, ``ask`` the NO book."""
    if raw is None or raw == "":
        return None
    if raw == "bid":
        return "yes"
    if raw == "ask":
        return "no"
    raise _Bad


def _flag(raw: object) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    raise _Bad


def _epoch_ms(raw: object) -> int | None:
    """Already milliseconds (``ts_ms``)."""
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    raise _Bad


def _iso_ms(text: str) -> int:
    try:
        parsed = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _Bad from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return (parsed - _EPOCH) // _ONE_MS  # exact integer ms, no float rounding


def _seconds_ms(raw: object) -> int | None:
    """``ts``: Unix seconds (number) or an RFC 3339 string; numbers past year 5138 are taken as ms already."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise _Bad
    if isinstance(raw, int | float):
        return int(raw) if raw > 10**11 else int(raw * 1000)
    if isinstance(raw, str):
        text = raw.strip()
        if text.isdigit():
            return _seconds_ms(int(text))
        return _iso_ms(text)
    raise _Bad


def _seconds(raw: object) -> int | None:
    """Lifecycle timestamps stay Unix seconds, as on the wire (RFC 3339 strings are converted)."""
    ms = _seconds_ms(raw)
    return None if ms is None else ms // 1000


def _levels(raw: object, price: Callable[[object], Decimal | None]) -> tuple[Level, ...]:
    """A snapshot side: ``[[price, qty], ...]``. Any unreadable level makes the whole side unreadable, because a
    book missing a level silently is worse than a book known to be incomplete."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _Bad
    out: list[Level] = []
    for level in raw:
        if not isinstance(level, list | tuple) or len(level) != 2:
            raise _Bad
        p, q = price(level[0]), _decimal(level[1])
        if p is None or q is None:
            raise _Bad
        out.append((p, q))
    return tuple(out)


# --- field reader -------------------------------------------------------------------------------------------------


class _Reader:
    """Reads fields from one ``msg`` dict, newest name first, collecting the names of unreadable ones."""

    __slots__ = ("bad", "msg")

    def __init__(self, msg: Mapping[str, Any]) -> None:
        self.msg = msg
        self.bad: list[str] = []

    def first(self, *candidates: tuple[str, Callable[[object], _T | None]]) -> _T | None:
        """The first candidate present in ``msg``; an unreadable one is recorded and the next one tried."""
        msg = self.msg
        for name, convert in candidates:
            if name in msg:
                try:
                    return convert(msg[name])
                except _Bad:
                    self.bad.append(name)
        return None

    def ts_ms(self) -> int | None:
        """``ts_ms``, else ``time`` (RFC 3339, sub-second), else ``ts`` (seconds, or RFC 3339 on old deltas)."""
        return self.first(("ts_ms", _epoch_ms), ("time", _seconds_ms), ("ts", _seconds_ms))

    def required_text(self, name: str) -> str:
        value = self.first((name, _text))
        if not value:
            if name not in self.bad:
                self.bad.append(name)
            return ""
        return value

    def done(self) -> tuple[str, ...]:
        return tuple(self.bad)


def _msg(msg: object) -> Mapping[str, Any]:
    return msg if isinstance(msg, Mapping) else {}


# --- values -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade. ``taker_side`` is ``"yes"``/``"no"``; ``no_price`` is as sent (not derived)."""

    trade_id: str | None
    market_ticker: str
    yes_price: Decimal | None
    no_price: Decimal | None
    count: Decimal | None
    taker_side: str | None
    ts_ms: int | None
    is_block_trade: bool
    bad_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ticker:
    """Top of book and market totals. ``dollar_volume``/``dollar_open_interest`` are whole dollars on the wire."""

    market_ticker: str
    market_id: str | None
    price: Decimal | None
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    yes_bid_size: Decimal | None
    yes_ask_size: Decimal | None
    last_trade_size: Decimal | None
    volume: Decimal | None
    open_interest: Decimal | None
    dollar_volume: Decimal | None
    dollar_open_interest: Decimal | None
    ts_ms: int | None
    bad_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderbookSnapshot:
    """Both bid sides of one market, ``(price_dollars, quantity)`` levels in wire order; an absent side is empty."""

    market_ticker: str
    yes: tuple[Level, ...]
    no: tuple[Level, ...]
    ts_ms: int | None
    bad_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderbookDelta:
    """A signed change of one level's quantity on the ``"yes"`` or ``"no"`` bid side."""

    market_ticker: str
    side: str | None
    price: Decimal | None
    delta: Decimal | None
    ts_ms: int | None
    bad_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MarketLifecycle:
    """A ``market_lifecycle_v2`` event. ``*_ts`` fields are Unix **seconds** as on the wire; ``ts_ms`` is the
    message time when sent, else the determination/settlement time."""

    market_ticker: str
    event_type: str | None
    open_ts: int | None
    close_ts: int | None
    determination_ts: int | None
    settled_ts: int | None
    result: str | None
    settlement_value: Decimal | None
    ts_ms: int | None
    bad_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventLifecycle:
    """An ``event_lifecycle`` message (event creation)."""

    event_ticker: str
    series_ticker: str | None
    title: str | None
    subtitle: str | None
    ts_ms: int | None
    bad_fields: tuple[str, ...] = ()


Value = Trade | Ticker | OrderbookSnapshot | OrderbookDelta | MarketLifecycle | EventLifecycle


# --- public converters --------------------------------------------------------------------------------------------


def _lenient(convert: Callable[[object], Decimal | None], value: object) -> Decimal | None:
    try:
        return convert(value)
    except _Bad:
        return None


def dollars(value: object) -> Decimal | None:
    """A dollar amount (``"0.4200"``, ``0.42``, ``1``) as ``Decimal``; empty or unreadable -> ``None``."""
    return _lenient(_decimal, value)


def cents_to_dollars(value: object) -> Decimal | None:
    """Legacy integer cents (``42``) as ``Decimal`` dollars (``0.42``), exactly; unreadable -> ``None``."""
    return _lenient(_cents, value)


def contracts(value: object) -> Decimal | None:
    """A contract count, fixed-point (``"12.50"``) or legacy integer; unreadable -> ``None``."""
    return _lenient(_decimal, value)


# --- parsers (take the inner ``msg``) -----------------------------------------------------------------------------


def parse_trade(msg: Mapping[str, Any]) -> Trade:
    r = _Reader(_msg(msg))
    return Trade(
        trade_id=r.first(("trade_id", _text)),
        market_ticker=r.required_text("market_ticker"),
        yes_price=r.first(("yes_price_dollars", _decimal), ("yes_price", _cents)),
        no_price=r.first(("no_price_dollars", _decimal), ("no_price", _cents)),
        count=r.first(("count_fp", _decimal), ("count", _decimal)),
        taker_side=r.first(
            ("taker_outcome_side", _side), ("taker_side", _side), ("taker_book_side", _book_side), ("side", _side)
        ),
        ts_ms=r.ts_ms(),
        is_block_trade=bool(r.first(("is_block_trade", _flag))),
        bad_fields=r.done(),
    )


def parse_ticker(msg: Mapping[str, Any]) -> Ticker:
    """``ticker`` and the removed ``ticker_v2`` (whose fields are present only when they changed)."""
    r = _Reader(_msg(msg))
    return Ticker(
        market_ticker=r.required_text("market_ticker"),
        market_id=r.first(("market_id", _text)),
        price=r.first(("price_dollars", _decimal), ("price", _cents)),
        yes_bid=r.first(("yes_bid_dollars", _decimal), ("yes_bid", _cents)),
        yes_ask=r.first(("yes_ask_dollars", _decimal), ("yes_ask", _cents)),
        yes_bid_size=r.first(("yes_bid_size_fp", _decimal), ("yes_bid_size", _decimal)),
        yes_ask_size=r.first(("yes_ask_size_fp", _decimal), ("yes_ask_size", _decimal)),
        last_trade_size=r.first(("last_trade_size_fp", _decimal), ("last_trade_size", _decimal)),
        volume=r.first(("volume_fp", _decimal), ("volume", _decimal)),
        open_interest=r.first(("open_interest_fp", _decimal), ("open_interest", _decimal)),
        dollar_volume=r.first(("dollar_volume", _decimal)),
        dollar_open_interest=r.first(("dollar_open_interest", _decimal)),
        ts_ms=r.ts_ms(),
        bad_fields=r.done(),
    )


def _side_levels(r: _Reader, side: str) -> tuple[Level, ...]:
    return r.first(
        (f"{side}_dollars_fp", lambda raw: _levels(raw, _decimal)),
        (f"{side}_dollars", lambda raw: _levels(raw, _decimal)),
        (side, lambda raw: _levels(raw, _cents)),
    ) or ()


def parse_snapshot(msg: Mapping[str, Any]) -> OrderbookSnapshot:
    r = _Reader(_msg(msg))
    return OrderbookSnapshot(
        market_ticker=r.required_text("market_ticker"),
        yes=_side_levels(r, "yes"),
        no=_side_levels(r, "no"),
        ts_ms=r.ts_ms(),
        bad_fields=r.done(),
    )


def parse_delta(msg: Mapping[str, Any]) -> OrderbookDelta:
    r = _Reader(_msg(msg))
    return OrderbookDelta(
        market_ticker=r.required_text("market_ticker"),
        side=r.first(("side", _side)),
        price=r.first(("price_dollars", _decimal), ("price", _cents)),
        delta=r.first(("delta_fp", _decimal), ("delta", _decimal)),
        ts_ms=r.ts_ms(),
        bad_fields=r.done(),
    )


def _settlement(raw: object) -> Decimal | None:
    """A dollar string since 2026-02-26; an integer before that is taken as cents (REST's legacy unit)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return _cents(raw)
    return _decimal(raw)


def parse_lifecycle(msg: Mapping[str, Any]) -> MarketLifecycle:
    r = _Reader(_msg(msg))
    open_ts = r.first(("open_ts", _seconds))
    close_ts = r.first(("close_ts", _seconds))
    determination_ts = r.first(("determination_ts", _seconds))
    settled_ts = r.first(("settled_ts", _seconds))
    ts_ms = r.ts_ms()
    if ts_ms is None:
        event_s = determination_ts if determination_ts is not None else settled_ts
        ts_ms = None if event_s is None else event_s * 1000
    return MarketLifecycle(
        market_ticker=r.required_text("market_ticker"),
        event_type=r.first(("event_type", _text)),
        open_ts=open_ts,
        close_ts=close_ts,
        determination_ts=determination_ts,
        settled_ts=settled_ts,
        result=r.first(("result", _text)),
        settlement_value=r.first(("settlement_value_dollars", _decimal), ("settlement_value", _settlement)),
        ts_ms=ts_ms,
        bad_fields=r.done(),
    )


def parse_event_lifecycle(msg: Mapping[str, Any]) -> EventLifecycle:
    r = _Reader(_msg(msg))
    return EventLifecycle(
        event_ticker=r.required_text("event_ticker"),
        series_ticker=r.first(("series_ticker", _text)),
        title=r.first(("title", _text)),
        subtitle=r.first(("subtitle", _text), ("sub_title", _text)),
        ts_ms=r.ts_ms(),
        bad_fields=r.done(),
    )


_PARSERS: dict[str, Callable[[Mapping[str, Any]], Value]] = {
    "trade": parse_trade,
    "ticker": parse_ticker,
    "ticker_v2": parse_ticker,
    "orderbook_snapshot": parse_snapshot,
    "orderbook_delta": parse_delta,
    "market_lifecycle_v2": parse_lifecycle,
    "event_lifecycle": parse_event_lifecycle,
}


def parse_value(payload: Mapping[str, Any]) -> Value | None:
    """The typed view of a whole decoded frame, dispatched on ``type``. Control frames, unknown types and frames
    without a ``msg`` object give ``None``. Never raises."""
    if not isinstance(payload, Mapping):
        return None
    frame_type = payload.get("type")
    parser = _PARSERS.get(frame_type) if isinstance(frame_type, str) else None
    msg = payload.get("msg")
    if parser is None or not isinstance(msg, Mapping):
        return None
    return parser(msg)
