"""Decode the few fields the archive tools route, filter and check on, in one msgspec pass per line.

``ssmd.kalshi.frames.classify`` decodes the routing fields; the archive tools also need the exchange time and
``trade_id`` of the same frame, so this struct reads those too instead of decoding the line a second time.
Frames msgspec rejects (odd field types) fall back to ``orjson`` and keep what can be used, like ``classify``.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from ssmd.kalshi.frames import frame_time_ms

_TS_KEYS = ("ts_ms", "ts", "time", "determination_ts", "settled_ts", "open_ts", "close_ts", "created_ts")


class HeadMsg(msgspec.Struct, gc=False):
    market_ticker: str | None = None
    event_ticker: str | None = None
    series_ticker: str | None = None
    trade_id: str | None = None
    ts_ms: int | float | str | None = None
    ts: int | float | str | None = None
    time: int | float | str | None = None
    determination_ts: int | float | str | None = None
    settled_ts: int | float | str | None = None
    open_ts: int | float | str | None = None
    close_ts: int | float | str | None = None
    created_ts: int | float | str | None = None


class Head(msgspec.Struct, gc=False):
    type: str | None = None
    sid: int | None = None
    seq: int | None = None
    msg: HeadMsg | list[Any] | None = None
    sending_ts_ms: int | float | None = None

    @property
    def ticker(self) -> str | None:
        m = self.msg
        if isinstance(m, HeadMsg):
            return m.market_ticker or m.event_ticker or m.series_ticker
        return None

    @property
    def trade_id(self) -> str | None:
        return self.msg.trade_id if isinstance(self.msg, HeadMsg) else None

    def ts_ms(self) -> int | None:
        """Exchange time, with exactly the rules of :func:`ssmd.kalshi.frames.frame_time_ms`."""
        m = self.msg
        payload: dict[str, Any] = {"sending_ts_ms": self.sending_ts_ms}
        if isinstance(m, HeadMsg):
            payload["msg"] = {k: getattr(m, k) for k in _TS_KEYS}
        return frame_time_ms(payload)


EMPTY = Head()
_decoder = msgspec.json.Decoder(Head)


def decode_head(raw: bytes) -> Head:
    """Never raises: a line that is not a JSON object with a string ``type`` gives ``type=None``."""
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError:
        return _tolerant(raw)
    except msgspec.DecodeError:
        return EMPTY


def _tolerant(raw: bytes) -> Head:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return EMPTY
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return EMPTY
    msg = data.get("msg")
    sub: HeadMsg | None = None
    if isinstance(msg, dict):
        text = {k: v if isinstance(v := msg.get(k), str) else None
                for k in ("market_ticker", "event_ticker", "series_ticker", "trade_id")}
        sub = HeadMsg(**text, **{k: msg.get(k) for k in _TS_KEYS})
    sending = data.get("sending_ts_ms")
    return Head(
        type=data["type"], sid=_int(data.get("sid")), seq=_int(data.get("seq")), msg=sub,
        sending_ts_ms=sending if isinstance(sending, int | float) and not isinstance(sending, bool) else None,
    )


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
