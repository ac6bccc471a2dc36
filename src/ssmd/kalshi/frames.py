"""The one decoder of Kalshi frames: read only the fields a caller needs, in one msgspec pass.

Two views share one set of field names. ``classify(raw)`` (the connector's hot path) decodes ``type``, ``sid``,
``seq`` and ``msg.market_ticker``/``event_ticker``/``series_ticker`` plus what command replies carry;
``inspect(raw)`` (the archive tools, behind ``Feed.inspect``) also reads the exchange time and the
``trade_id``, so a tool that routes, filters and deduplicates decodes each line once. msgspec skips every other
field without building it. Neither ever fails: a frame that is not JSON, or has no ``type``, comes back with
``type=None`` (:data:`UNPARSED`) with the raw bytes still in the caller's hands.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any, TypeVar

import msgspec
import orjson

CONTROL_TYPES = frozenset({"subscribed", "ok", "unsubscribed", "error"})
DATA_TYPES = frozenset({
    "ticker", "ticker_v2", "trade", "orderbook_snapshot", "orderbook_delta", "market_lifecycle_v2",
    "event_lifecycle",
})
TYPE_TOKENS: dict[str, str] = {
    "ticker": "ticker",
    "ticker_v2": "ticker",
    "trade": "trade",
    "orderbook_snapshot": "orderbook",
    "orderbook_delta": "orderbook",
    "market_lifecycle_v2": "lifecycle",
    "event_lifecycle": "event_lifecycle",
}
"""Kalshi frame type -> subject type token (``{env}.kalshi.json.{token}.{ticker}``). Anything else keeps its
own type, sanitised."""


class Kind(Enum):
    DATA = "data"
    CONTROL = "control"
    UNPARSED = "unparsed"


class _Msg(msgspec.Struct, gc=False):
    market_ticker: str | None = None
    event_ticker: str | None = None
    series_ticker: str | None = None
    sid: int | None = None
    channel: str | None = None
    code: int | None = None
    msg: str | None = None
    market_tickers: list[str] | None = None


class Frame(msgspec.Struct, gc=False):
    """The routing view of one frame. ``msg`` is the routing subset of the payload's ``msg`` object."""

    type: str | None = None
    sid: int | None = None
    seq: int | None = None
    id: int | None = None
    msg: _Msg | list[Any] | None = None
    market_tickers: list[str] | None = None

    @property
    def kind(self) -> Kind:
        if not self.type:
            return Kind.UNPARSED
        return Kind.CONTROL if self.type in CONTROL_TYPES else Kind.DATA

    @property
    def ticker(self) -> str | None:
        """``msg.market_ticker``, else ``event_ticker``, else ``series_ticker``."""
        m = self.msg
        if isinstance(m, _Msg):
            return m.market_ticker or m.event_ticker or m.series_ticker
        return None

    @property
    def subscribed_sid(self) -> int | None:
        """For ``subscribed`` replies the sid is in ``msg.sid``; elsewhere it is top-level."""
        if isinstance(self.msg, _Msg) and self.msg.sid is not None:
            return self.msg.sid
        return self.sid

    @property
    def channel(self) -> str | None:
        return self.msg.channel if isinstance(self.msg, _Msg) else None

    @property
    def error(self) -> tuple[int | None, str | None]:
        """``(code, message)`` of an ``error`` reply."""
        if isinstance(self.msg, _Msg):
            return self.msg.code, self.msg.msg
        return None, None

    @property
    def ok_market_tickers(self) -> list[str] | None:
        """An ``ok`` reply's market list: under ``msg`` per Kalshi's docs, top-level in older fixtures."""
        if isinstance(self.msg, _Msg) and self.msg.market_tickers is not None:
            return self.msg.market_tickers
        return self.market_tickers


_TS_KEYS = ("ts", "time", "determination_ts", "settled_ts", "open_ts", "close_ts", "created_ts")
"""Where a frame's exchange time may be, after ``msg.ts_ms``, in the order :func:`frame_time_ms` tries them."""
_TICKER_KEYS = ("market_ticker", "event_ticker", "series_ticker")
_Stamp = int | float | str | None


class _HeadMsg(_Msg, gc=False):
    trade_id: str | None = None
    ts_ms: _Stamp = None
    ts: _Stamp = None
    time: _Stamp = None
    determination_ts: _Stamp = None
    settled_ts: _Stamp = None
    open_ts: _Stamp = None
    close_ts: _Stamp = None
    created_ts: _Stamp = None


class Head(Frame, gc=False):
    """The archive tools' view of one frame (``Feed.inspect``): the routing fields, exchange time, dedup key."""

    msg: _HeadMsg | list[Any] | None = None
    sending_ts_ms: int | float | None = None

    @property
    def key(self) -> str | None:
        """The market key (as :attr:`ticker`): the feed-neutral name the archive tools use."""
        return self.ticker

    @property
    def dedup_key(self) -> str | None:
        """A trade's ``trade_id``: a trade seen twice (two connections, a resent frame) is one trade."""
        return self.msg.trade_id if self.type == "trade" and isinstance(self.msg, _HeadMsg) else None

    @property
    def trade_id(self) -> str | None:
        return self.msg.trade_id if isinstance(self.msg, _HeadMsg) else None

    def ts_ms(self) -> int | None:
        """Exchange time, with exactly the rules of :func:`frame_time_ms`."""
        m = self.msg
        if isinstance(m, _HeadMsg):
            ts_ms = m.ts_ms
            if type(ts_ms) is int:
                return ts_ms
            for value in (m.ts, m.time, m.determination_ts, m.settled_ts, m.open_ts, m.close_ts, m.created_ts):
                found = _to_ms(value)
                if found is not None:
                    return found
        return _to_ms(self.sending_ts_ms, already_ms=True)


UNPARSED = Frame()
EMPTY_HEAD = Head()
decoder = msgspec.json.Decoder(Frame)
"""The routing decoder (:func:`classify` without its fallbacks, for callers that inline it on a hot path)."""
_head_decoder = msgspec.json.Decoder(Head)


def classify(raw: bytes | str) -> Frame:
    """Route ``raw`` on the minimum fields. Never raises: unroutable frames are :data:`UNPARSED`."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError:
        return _tolerant(raw, Frame)
    except msgspec.DecodeError:
        return UNPARSED


def inspect(raw: bytes | str) -> Head:
    """Route ``raw`` and read its exchange time and ``trade_id``. Never raises (``type=None`` if unroutable)."""
    try:
        return _head_decoder.decode(raw)
    except msgspec.ValidationError:
        return _tolerant(raw, Head)
    except msgspec.DecodeError:
        return EMPTY_HEAD


_F = TypeVar("_F", Frame, Head)


def _tolerant(raw: bytes | str, view: type[_F]) -> _F:
    """Slow path for valid JSON with unexpected field types (e.g. ``"sid": "3"``): keep what can be used."""
    empty = view()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return empty
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return empty
    msg = data.get("msg")
    fields: dict[str, Any] = {"type": data["type"], "sid": _int(data.get("sid")), "seq": _int(data.get("seq")),
                              "id": _int(data.get("id"))}
    if isinstance(msg, dict):
        text: dict[str, Any] = {k: v if isinstance(v := msg.get(k), str) else None for k in _TICKER_KEYS}
        if view is Head:
            trade_id = msg.get("trade_id")
            fields["msg"] = _HeadMsg(**text, trade_id=trade_id if isinstance(trade_id, str) else None,
                                     ts_ms=msg.get("ts_ms"), **{k: msg.get(k) for k in _TS_KEYS})
        else:
            fields["msg"] = _Msg(**text)
    if view is Head:
        sending = data.get("sending_ts_ms")
        usable = isinstance(sending, int | float) and not isinstance(sending, bool)
        fields["sending_ts_ms"] = sending if usable else None
    return view(**fields)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def frame_time_ms(payload: dict[str, Any]) -> int | None:
    """The exchange's time of a parsed frame in ms: ``msg.ts_ms``, else ``msg.ts`` (seconds or RFC 3339),
    else a lifecycle timestamp, else top-level ``sending_ts_ms``. ``None`` if the frame carries none."""
    msg = payload.get("msg")
    if isinstance(msg, dict):
        ts_ms = msg.get("ts_ms")
        if isinstance(ts_ms, int) and not isinstance(ts_ms, bool):
            return ts_ms
        for key in _TS_KEYS:
            value = _to_ms(msg.get(key))
            if value is not None:
                return value
    return _to_ms(payload.get("sending_ts_ms"), already_ms=True)


def _to_ms(value: object, already_ms: bool = False) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if already_ms or value > 10**11:  # seconds until the year 5138; larger is already ms
            return int(value)
        return int(value * 1000)
    if isinstance(value, str):
        return rfc3339_ms(value)
    return None


def rfc3339_ms(text: str) -> int | None:
    """An RFC 3339 time (``2026-01-02T03:04:05.678Z``; no zone is UTC) as epoch ms; ``None`` if it is not one."""
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)
