"""Kalshi's answer to "which exchange message is this frame a copy of?" (:meth:`ssmd.feed.base.Feed.identity`).

- ``trade``: ``msg.trade_id`` names the trade, whichever connection (or REST backfill) delivered it.
- ``orderbook_snapshot``/``orderbook_delta``: a link of ``msg.market_ticker``'s book chain on stream ``sid``;
  ``seq`` counts per sid across all its markets, so a jump means every market of that sid lost frames.
- anything else (ticker, lifecycle, control replies): its ``type`` and the bytes of its ``msg`` object. ``sid`` and
  ``seq`` (and ``sending_ts_ms``) are per connection and stay out of the key, so two connections' copies of one
  ticker have the same key.

The top level is decoded once with ``msg`` kept as raw bytes (its content key), then ``msg`` once more for the few
fields the merge needs (id, market, time); msgspec skips everything else without building it.
"""

from __future__ import annotations

import msgspec

from ssmd.feed.base import Identity

BOOK_KINDS = {"orderbook_snapshot": "snapshot", "orderbook_delta": "delta"}


class _Top(msgspec.Struct, gc=False):
    type: str | None = None
    sid: int | None = None
    seq: int | None = None
    msg: msgspec.Raw = msgspec.Raw(b"")


class _Msg(msgspec.Struct, gc=False):
    market_ticker: str | None = None
    trade_id: str | None = None
    ts_ms: int | None = None
    ts: int | str | float | None = None


_top = msgspec.json.Decoder(_Top)
_msg = msgspec.json.Decoder(_Msg)


def identity(raw: bytes) -> Identity:
    """The identity of one raw Kalshi frame. Never raises: a frame that is not Kalshi's JSON is its own content."""
    try:
        top = _top.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return Identity("other", key=raw)
    ftype, body = top.type, top.msg
    if ftype is None or not body:
        return Identity("other", key=raw if ftype is None else b"%b\x00%b" % (ftype.encode(), raw))
    try:
        msg = _msg.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return Identity("other", key=b"%b\x00%b" % (ftype.encode(), bytes(body)), sid=top.sid, seq=top.seq)
    ts_ms = msg.ts_ms if msg.ts_ms is not None else _seconds_ms(msg.ts)
    book = BOOK_KINDS.get(ftype)
    if book is None and ftype != "trade":
        return Identity("other", key=b"%b\x00%b" % (ftype.encode(), bytes(body)), sid=top.sid, seq=top.seq,
                        ts_ms=ts_ms)
    if book is not None:
        if msg.market_ticker is None:  # not a usable book frame: keep it as content
            return Identity("other", key=b"%b\x00%b" % (ftype.encode(), bytes(body)))
        return Identity(book, market=msg.market_ticker, sid=top.sid, seq=top.seq, ts_ms=ts_ms)  # type: ignore[arg-type]
    if msg.trade_id is None:
        return Identity("other", key=b"trade\x00%b" % bytes(body), ts_ms=ts_ms)
    return Identity("trade", market=msg.market_ticker, key=msg.trade_id.encode(), ts_ms=ts_ms)


def _seconds_ms(ts: int | str | float | None) -> int | None:
    """``msg.ts`` in seconds (trades, tickers); RFC 3339 strings (old deltas) are not worth a parse here."""
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        return None
    return int(ts * 1000)
