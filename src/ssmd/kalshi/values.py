"""Typed, tolerant views of Kalshi data messages, for analysis (agent, export, simulator tests).

Archives hold every wire format Kalshi has used, so each field is read from its newest name first and falls
back to older ones: ``yes_price_dollars`` ("0.4200") then ``yes_price`` (42 cents); ``count_fp`` ("12.50") then
``count``; ``ts_ms`` then ``time`` (RFC 3339) then ``ts`` (Unix seconds or RFC 3339). Units are uniform whatever
the wire: prices are :class:`~decimal.Decimal` **dollars**, sizes are ``Decimal`` contracts (may be fractional),
times are Unix milliseconds. A field that is present but empty (``price_dollars: ""``, Kalshi's "no trade yet")
is ``None`` and does not fall back. A field that cannot be read is ``None`` and its wire name goes into
``bad_fields``; one bad field never fails the message. The connector never uses these: it routes raw bytes
(see ``frames``).

Which wire names carry which quantity, in which unit, in each era, is written once, in :data:`FIELDS`. Two
readers share it: the ``Decimal`` parsers below (exact: exports, books for accounting, tests) and the ``float``
fast path :func:`first_float` (the agent's signals compare against thresholds, where floats are enough and an
order of magnitude cheaper). Both take the first candidate present; ``""`` is no value; an unreadable value is
skipped for the next candidate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import msgspec
import orjson

__all__ = [
    "FIELDS",
    "EventLifecycle",
    "Level",
    "MarketLifecycle",
    "OrderbookDelta",
    "OrderbookSnapshot",
    "Ticker",
    "Trade",
    "Untyped",
    "Value",
    "cents_to_dollars",
    "contracts",
    "dollars",
    "first_float",
    "first_floats",
    "float_reader",
    "parse_delta",
    "parse_event_lifecycle",
    "parse_frame",
    "parse_lifecycle",
    "parse_snapshot",
    "parse_ticker",
    "parse_trade",
    "parse_value",
    "typed_reader",
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


# --- the field table ----------------------------------------------------------------------------------------------

DOLLARS, CENTS, COUNT, TEXT, SIDE, BOOK_SIDE, FLAG = "dollars", "cents", "count", "text", "side", "book_side", "flag"
EPOCH_MS, SECONDS_MS, SECONDS, SETTLEMENT = "epoch_ms", "seconds_ms", "seconds", "settlement"
LEVELS_DOLLARS, LEVELS_CENTS = "levels_dollars", "levels_cents"
"""Units: ``dollars`` ("0.4200"), ``cents`` (42, legacy), ``count`` (contracts, "12.50" or 12), ``seconds_ms``
(Unix seconds or RFC 3339, as ms), ``seconds`` (kept as seconds), ``settlement`` (a dollar string, or integer
cents before 2026-02-26), ``levels_*`` (``[[price, qty], ...]`` book sides)."""

Candidates = tuple[tuple[str, str], ...]
_TS: Candidates = (("ts_ms", EPOCH_MS), ("time", SECONDS_MS), ("ts", SECONDS_MS))

FIELDS: dict[str, dict[str, Candidates]] = {
    "trade": {
        "trade_id": (("trade_id", TEXT),),
        "yes_price": (("yes_price_dollars", DOLLARS), ("yes_price", CENTS)),
        "no_price": (("no_price_dollars", DOLLARS), ("no_price", CENTS)),
        "count": (("count_fp", COUNT), ("count", COUNT)),
        "taker_side": (("taker_outcome_side", SIDE), ("taker_side", SIDE), ("taker_book_side", BOOK_SIDE),
                       ("side", SIDE)),
        "ts_ms": _TS,
        "is_block_trade": (("is_block_trade", FLAG),),
    },
    "ticker": {
        "market_id": (("market_id", TEXT),),
        "price": (("price_dollars", DOLLARS), ("price", CENTS)),
        "yes_bid": (("yes_bid_dollars", DOLLARS), ("yes_bid", CENTS)),
        "yes_ask": (("yes_ask_dollars", DOLLARS), ("yes_ask", CENTS)),
        "yes_bid_size": (("yes_bid_size_fp", COUNT), ("yes_bid_size", COUNT)),
        "yes_ask_size": (("yes_ask_size_fp", COUNT), ("yes_ask_size", COUNT)),
        "last_trade_size": (("last_trade_size_fp", COUNT), ("last_trade_size", COUNT)),
        "volume": (("volume_fp", COUNT), ("volume", COUNT)),
        "open_interest": (("open_interest_fp", COUNT), ("open_interest", COUNT)),
        "dollar_volume": (("dollar_volume", COUNT),),
        "dollar_open_interest": (("dollar_open_interest", COUNT),),
        "ts_ms": _TS,
    },
    "orderbook_snapshot": {
        "yes": (("yes_dollars_fp", LEVELS_DOLLARS), ("yes_dollars", LEVELS_DOLLARS), ("yes", LEVELS_CENTS)),
        "no": (("no_dollars_fp", LEVELS_DOLLARS), ("no_dollars", LEVELS_DOLLARS), ("no", LEVELS_CENTS)),
        "ts_ms": _TS,
    },
    "orderbook_delta": {
        "side": (("side", SIDE),),
        "price": (("price_dollars", DOLLARS), ("price", CENTS)),
        "delta": (("delta_fp", COUNT), ("delta", COUNT)),
        "ts_ms": _TS,
    },
    "market_lifecycle_v2": {
        "open_ts": (("open_ts", SECONDS),),
        "close_ts": (("close_ts", SECONDS),),
        "determination_ts": (("determination_ts", SECONDS),),
        "settled_ts": (("settled_ts", SECONDS),),
        "ts_ms": _TS,
        "event_type": (("event_type", TEXT),),
        "result": (("result", TEXT),),
        "settlement_value": (("settlement_value_dollars", DOLLARS), ("settlement_value", SETTLEMENT)),
    },
    "event_lifecycle": {
        "series_ticker": (("series_ticker", TEXT),),
        "title": (("title", TEXT),),
        "subtitle": (("subtitle", TEXT), ("sub_title", TEXT)),
        "ts_ms": _TS,
    },
}
"""Frame type -> field -> its wire names, newest first, with their units. ``ticker_v2`` reads as ``ticker``.
The market key (``market_ticker``, or ``event_ticker`` for event frames) is required text."""
FIELDS["ticker_v2"] = FIELDS["ticker"]


# --- the float fast path ------------------------------------------------------------------------------------------


_ABSENT: Any = object()


def _f_number(raw: object) -> float | None:
    if type(raw) is str:
        try:
            value = float(raw)
        except ValueError:
            if raw.strip():
                raise _Bad from None
            return None
    elif type(raw) is int or type(raw) is float:
        value = float(raw)
    elif raw is None:
        return None
    else:
        raise _Bad
    if value - value != 0:  # inf or nan, which Decimal rejects too
        raise _Bad
    return value


def _f_cents(raw: object) -> float | None:
    value = _f_number(raw)
    return None if value is None else value / 100


def _f_settlement(raw: object) -> float | None:
    return _f_cents(raw) if type(raw) is int else _f_number(raw)


_FLOAT: dict[str, Callable[[object], Any]] = {
    DOLLARS: _f_number, COUNT: _f_number, CENTS: _f_cents, SETTLEMENT: _f_settlement,
}


def float_candidates(candidates: Candidates) -> tuple[tuple[str, Callable[[object], Any]], ...]:
    """``candidates`` with their float converters (numbers) or exact ones (text, times, sides), for
    :func:`first_float`; computed once per field, not per frame."""
    return tuple((name, _FLOAT.get(unit) or _EXACT[unit]) for name, unit in candidates)


def first_float(msg: Mapping[str, Any], candidates: tuple[tuple[str, Callable[[object], Any]], ...]) -> Any:
    """The value of the first candidate present in ``msg`` (see :func:`float_candidates`); ``None`` when absent,
    empty or unreadable. The same rules as the ``Decimal`` parsers, in floats."""
    return first_floats(msg, (candidates,))[0]


def first_floats(msg: Mapping[str, Any],
                 fields: tuple[tuple[tuple[str, Callable[[object], Any]], ...], ...]) -> list[Any]:
    """:func:`first_float` of several fields in one call."""
    out: list[Any] = []
    for candidates in fields:
        value = None
        for name, convert in candidates:
            raw = msg.get(name, _ABSENT)
            if raw is _ABSENT:
                continue
            try:
                value = convert(raw)
            except _Bad:
                continue
            break
        out.append(value)
    return out


_SAME_AS_SENT = {SIDE: "raw == 'yes' or raw == 'no'", TEXT: "type(raw) is str", EPOCH_MS: "type(raw) is int"}
"""Per unit, a test for the common value that its converter would return unchanged (generated readers skip the
call for it)."""


def _as_sent(i: int, unit: str, pad: str = "            ") -> list[str]:
    """Generated lines: ``v{i}`` is ``raw`` itself when it is the unit's common, already-converted value."""
    same = _SAME_AS_SENT.get(unit)
    return [f"{pad}if {same}:", f"{pad}    v{i} = raw", f"{pad}    break"] if same else []


def _converted(i: int, j: int, pad: str = "            ") -> list[str]:
    """Generated lines: ``v{i}`` from candidate ``j``'s converter ``c{i}_{j}``; on to the next candidate if it
    refuses the value."""
    return [f"{pad}try:", f"{pad}    v{i} = c{i}_{j}(raw)", f"{pad}    break", f"{pad}except _Bad:", f"{pad}    pass"]


def float_reader(*fields: Candidates) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A function reading ``fields`` (candidates from :data:`FIELDS`) from a ``msg`` at once, like
    :func:`first_float` for each, written out as straight-line code from the table once, at import: the agent's
    hot path reads every trade, ticker and delta this way, at the speed of hand-written code that names each
    field (strings, the common case, are converted inline), without a second copy of the table."""
    env: dict[str, Any] = {"_ABSENT": _ABSENT, "_Bad": _Bad}
    lines = ["def read(msg):", "    get = msg.get"]
    for i, candidates in enumerate(fields):
        lines += [f"    v{i} = None", "    while True:"]
        for j, (name, unit) in enumerate(candidates):
            convert = _FLOAT.get(unit) or _EXACT[unit]
            env[f"c{i}_{j}"] = convert
            lines += [f"        raw = get({name!r}, _ABSENT)", "        if raw is not _ABSENT:"]
            if convert is _f_number:
                lines += ["            if type(raw) is str:",
                          "                try:",
                          f"                    v{i} = float(raw)",
                          "                except ValueError:",
                          "                    if not raw.strip():",
                          "                        break",
                          "                else:",
                          f"                    if v{i} - v{i} == 0:",
                          "                        break",
                          f"                    v{i} = None",
                          "            else:",
                          *_converted(i, j, "                ")]
            else:
                lines += _as_sent(i, unit) + _converted(i, j)
        lines.append("        break")
    lines.append(f"    return ({', '.join(f'v{i}' for i in range(len(fields)))},)")
    exec("\n".join(lines), env)
    reader: Callable[[Mapping[str, Any]], tuple[Any, ...]] = env["read"]
    return reader


class Untyped(Exception):
    """A typed read (:func:`typed_reader`) cannot vouch for a value (zero, whose sign msgspec drops, or not
    finite): the caller reads the frame the generic way instead, so both ways always agree."""


def typed_reader(
    name: str, *fields: Candidates, keys: tuple[str, ...] = ()
) -> tuple[type[msgspec.Struct], Callable[[Any], tuple[Any, ...]]]:
    """A ``msg`` struct for a typed msgspec decode and a function reading ``fields`` from it: the same answers
    as :func:`float_reader` on the decoded dict, without building the dict. Every candidate of the table is a
    field; dollar and count candidates decode straight to floats (``strict=False`` reads numeric strings), so
    a value msgspec cannot read fails the whole decode and the frame goes the generic way; the other units go
    through their float converters. ``keys`` are read raw, first in the tuple (the market key)."""
    env: dict[str, Any] = {"UNSET": msgspec.UNSET, "_Bad": _Bad, "Untyped": Untyped}
    spec: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    attr: dict[str, str] = {}

    def field_of(wire: str, typ: Any) -> str:
        if wire not in attr:
            attr[wire] = f"f{len(attr)}"
            rename[attr[wire]] = wire
            spec.append((attr[wire], typ, msgspec.UNSET))
        return attr[wire]

    lines = ["def read(m):"]
    for key in keys:
        lines.append(f"    k_{field_of(key, Any)} = m.{attr[key]}")
    for i, candidates in enumerate(fields):
        lines += [f"    v{i} = None", "    while True:"]
        for j, (wire, unit) in enumerate(candidates):
            typed = _FLOAT.get(unit) is _f_number
            a = field_of(wire, float | None if typed else Any)
            lines += [f"        raw = m.{a}", "        if raw is not UNSET:"]
            if typed:
                lines += ["            if raw is None:",
                          "                break",
                          "            if raw and raw - raw == 0:",
                          f"                v{i} = raw",
                          "                break",
                          "            raise Untyped"]
            else:
                env[f"c{i}_{j}"] = _FLOAT.get(unit) or _EXACT[unit]
                lines += _as_sent(i, unit) + _converted(i, j)
        lines.append("        break")
    out = [f"k_{attr[key]}" for key in keys] + [f"v{i}" for i in range(len(fields))]
    lines.append(f"    return ({', '.join(out)},)")
    exec("\n".join(lines), env)
    struct = msgspec.defstruct(name, spec, rename=rename, gc=False)
    reader: Callable[[Any], tuple[Any, ...]] = env["read"]
    return struct, reader


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


def _settlement(raw: object) -> Decimal | None:
    """A dollar string since 2026-02-26; an integer before that is taken as cents (REST's legacy unit)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return _cents(raw)
    return _decimal(raw)


def _dollar_levels(raw: object) -> tuple[Level, ...]:
    return _levels(raw, _decimal)


def _cent_levels(raw: object) -> tuple[Level, ...]:
    return _levels(raw, _cents)


_EXACT: dict[str, Callable[[object], Any]] = {
    DOLLARS: _decimal, CENTS: _cents, COUNT: _decimal, TEXT: _text, SIDE: _side, BOOK_SIDE: _book_side,
    FLAG: _flag, EPOCH_MS: _epoch_ms, SECONDS_MS: _seconds_ms, SECONDS: _seconds, SETTLEMENT: _settlement,
    LEVELS_DOLLARS: _dollar_levels, LEVELS_CENTS: _cent_levels,
}
_X = {kind: {name: tuple((wire, _EXACT[unit]) for wire, unit in candidates) for name, candidates in fields.items()}
      for kind, fields in FIELDS.items()}


def parse_trade(msg: Mapping[str, Any]) -> Trade:
    r, x = _Reader(_msg(msg)), _X["trade"]
    return Trade(
        trade_id=r.first(*x["trade_id"]),
        market_ticker=r.required_text("market_ticker"),
        yes_price=r.first(*x["yes_price"]),
        no_price=r.first(*x["no_price"]),
        count=r.first(*x["count"]),
        taker_side=r.first(*x["taker_side"]),
        ts_ms=r.first(*x["ts_ms"]),
        is_block_trade=bool(r.first(*x["is_block_trade"])),
        bad_fields=r.done(),
    )


def parse_ticker(msg: Mapping[str, Any]) -> Ticker:
    """``ticker`` and the removed ``ticker_v2`` (whose fields are present only when they changed)."""
    r, x = _Reader(_msg(msg)), _X["ticker"]
    return Ticker(
        market_ticker=r.required_text("market_ticker"),
        market_id=r.first(*x["market_id"]),
        price=r.first(*x["price"]),
        yes_bid=r.first(*x["yes_bid"]),
        yes_ask=r.first(*x["yes_ask"]),
        yes_bid_size=r.first(*x["yes_bid_size"]),
        yes_ask_size=r.first(*x["yes_ask_size"]),
        last_trade_size=r.first(*x["last_trade_size"]),
        volume=r.first(*x["volume"]),
        open_interest=r.first(*x["open_interest"]),
        dollar_volume=r.first(*x["dollar_volume"]),
        dollar_open_interest=r.first(*x["dollar_open_interest"]),
        ts_ms=r.first(*x["ts_ms"]),
        bad_fields=r.done(),
    )


def parse_snapshot(msg: Mapping[str, Any]) -> OrderbookSnapshot:
    r, x = _Reader(_msg(msg)), _X["orderbook_snapshot"]
    return OrderbookSnapshot(
        market_ticker=r.required_text("market_ticker"),
        yes=r.first(*x["yes"]) or (),
        no=r.first(*x["no"]) or (),
        ts_ms=r.first(*x["ts_ms"]),
        bad_fields=r.done(),
    )


def parse_delta(msg: Mapping[str, Any]) -> OrderbookDelta:
    r, x = _Reader(_msg(msg)), _X["orderbook_delta"]
    return OrderbookDelta(
        market_ticker=r.required_text("market_ticker"),
        side=r.first(*x["side"]),
        price=r.first(*x["price"]),
        delta=r.first(*x["delta"]),
        ts_ms=r.first(*x["ts_ms"]),
        bad_fields=r.done(),
    )


def parse_lifecycle(msg: Mapping[str, Any]) -> MarketLifecycle:
    r, x = _Reader(_msg(msg)), _X["market_lifecycle_v2"]
    open_ts = r.first(*x["open_ts"])
    close_ts = r.first(*x["close_ts"])
    determination_ts = r.first(*x["determination_ts"])
    settled_ts = r.first(*x["settled_ts"])
    ts_ms = r.first(*x["ts_ms"])
    if ts_ms is None:
        event_s = determination_ts if determination_ts is not None else settled_ts
        ts_ms = None if event_s is None else event_s * 1000
    return MarketLifecycle(
        market_ticker=r.required_text("market_ticker"),
        event_type=r.first(*x["event_type"]),
        open_ts=open_ts,
        close_ts=close_ts,
        determination_ts=determination_ts,
        settled_ts=settled_ts,
        result=r.first(*x["result"]),
        settlement_value=r.first(*x["settlement_value"]),
        ts_ms=ts_ms,
        bad_fields=r.done(),
    )


def parse_event_lifecycle(msg: Mapping[str, Any]) -> EventLifecycle:
    r, x = _Reader(_msg(msg)), _X["event_lifecycle"]
    return EventLifecycle(
        event_ticker=r.required_text("event_ticker"),
        series_ticker=r.first(*x["series_ticker"]),
        title=r.first(*x["title"]),
        subtitle=r.first(*x["subtitle"]),
        ts_ms=r.first(*x["ts_ms"]),
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


def parse_frame(raw: bytes | str) -> Value | None:
    """:func:`parse_value` of a raw frame; ``None`` for bytes that are not a JSON object."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return parse_value(data) if isinstance(data, dict) else None
