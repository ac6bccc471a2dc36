"""Classify a Kalshi frame by reading only what routing needs.

``classify(raw)`` decodes ``type``, ``sid``, ``seq`` and ``msg.market_ticker``/``event_ticker``/``series_ticker``
(msgspec skips every other field without building it) and never fails: a frame that is not JSON, or has no
``type``, comes back as :data:`UNPARSED` with the raw bytes still in the caller's hands. The hot path decodes
each frame once.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

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


class _Msg(msgspec.Struct):
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


UNPARSED = Frame()
decoder = msgspec.json.Decoder(Frame)
"""The routing decoder (:func:`classify` without its fallbacks, for callers that inline it on a hot path)."""


def classify(raw: bytes | str) -> Frame:
    """Route ``raw`` on the minimum fields. Never raises: unroutable frames are :data:`UNPARSED`."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError:
        return _tolerant(raw)
    except msgspec.DecodeError:
        return UNPARSED


def _tolerant(raw: bytes | str) -> Frame:
    """Slow path for valid JSON with unexpected field types (e.g. ``"sid": "3"``): keep what can be used."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return UNPARSED
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return UNPARSED
    msg = data.get("msg")
    sub = None
    if isinstance(msg, dict):
        tickers = [v if isinstance(v := msg.get(k), str) else None
                   for k in ("market_ticker", "event_ticker", "series_ticker")]
        sub = _Msg(market_ticker=tickers[0], event_ticker=tickers[1], series_ticker=tickers[2])
    return Frame(
        type=data["type"], sid=_int(data.get("sid")), seq=_int(data.get("seq")), id=_int(data.get("id")), msg=sub
    )


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
        for key in ("ts", "time", "determination_ts", "settled_ts", "open_ts", "close_ts", "created_ts"):
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
    if isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return int(parsed.timestamp() * 1000)
    return None
