"""Kalshi frames as normalised events: the float fast path and the exact path read one field table alike."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ssmd.feed.base import BookDelta, BookSnapshot, Lifecycle, TopOfBook, Trade, UnreadableFrame
from ssmd.kalshi.events import frame_events

LEGACY_AND_CURRENT = [
    b'{"type":"trade","sid":2,"seq":1,"msg":{"trade_id":"a","market_ticker":"M","yes_price":42,"count":3,'
    b'"taker_side":"no","ts":1770897960}}',
    b'{"type":"trade","sid":2,"seq":2,"msg":{"trade_id":"b","market_ticker":"M","yes_price_dollars":"0.4250",'
    b'"count_fp":"2.50","taker_book_side":"bid","ts_ms":1770897960123}}',
    b'{"type":"ticker","sid":1,"msg":{"market_ticker":"M","price_dollars":"","yes_bid":40,"yes_ask_dollars":"0.45",'
    b'"yes_bid_size_fp":"14.00","volume":7,"ts":"2026-02-12T12:06:00.250Z"}}',
    b'{"type":"orderbook_snapshot","sid":3,"seq":1,"msg":{"market_ticker":"M","yes":[[40,10]],'
    b'"no_dollars_fp":[["0.5400","20.00"]]}}',
    b'{"type":"orderbook_delta","sid":3,"seq":2,"msg":{"market_ticker":"M","side":"no","price":54,"delta":-5}}',
    b'{"type":"orderbook_delta","sid":3,"seq":3,"msg":{"market_ticker":"M","side":"yes","price_dollars":"0.4100",'
    b'"delta_fp":"nan","delta":2}}',
    b'{"type":"market_lifecycle_v2","sid":4,"seq":1,"msg":{"market_ticker":"M","event_type":"determined",'
    b'"result":"yes","settlement_value":100,"determination_ts":1770897960}}',
]


def _floats(value: Any) -> Any:
    """An exact event's numbers as the float path gives them (NO bids become asks at 1 - p, rounded)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return type(value)(_floats(v) for v in value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    return value


def _fields(event: Any) -> dict[str, Any]:
    return {name: _floats(getattr(event, name)) for name in event.__struct_fields__}


def _frames(samples_path: Path) -> list[bytes]:
    return [line for line in samples_path.read_bytes().splitlines() if line.strip()] + LEGACY_AND_CURRENT


def test_float_and_exact_paths_agree_on_every_frame(samples_path: Path) -> None:
    """Every genuine sample and each wire-format era gives the same events on both paths, numbers aside."""
    for raw in _frames(samples_path):
        fast, exact = frame_events(raw), frame_events(raw, exact=True)
        assert [type(e) for e in fast] == [type(e) for e in exact], raw
        for f, e in zip(fast, exact, strict=True):
            assert _fields(f) == _fields(e), raw


def test_exact_path_keeps_decimals_and_yes_scale() -> None:
    """Exact events carry Decimal dollars; a NO bid at 0.54 is an ask at 0.46; legacy cents become dollars."""
    events = [e for raw in LEGACY_AND_CURRENT for e in frame_events(raw, exact=True)]
    trade, trade2, top, snap, delta_no, delta_yes, life = events
    assert isinstance(trade, Trade) and (trade.price, trade.size, trade.taker_side) == (Decimal("0.42"), 3, "no")
    assert isinstance(trade2, Trade) and (trade2.price, trade2.taker_side) == (Decimal("0.4250"), "yes")
    assert isinstance(top, TopOfBook) and (top.last, top.bid, top.ask, top.volume) == (
        None, Decimal("0.40"), Decimal("0.45"), 7)
    assert top.ts_ms == 1770897960250
    assert isinstance(snap, BookSnapshot) and snap.asks == [(Decimal("0.4600"), Decimal("20.00"))]
    assert isinstance(delta_no, BookDelta) and (delta_no.side, delta_no.price, delta_no.change) == (
        "ask", Decimal("0.46"), -5)
    assert isinstance(delta_yes, BookDelta) and delta_yes.change == 2  # an unreadable delta_fp falls back
    assert isinstance(life, Lifecycle) and (life.status, life.detail["settlement_value"]) == (
        "determined", Decimal("1.00"))


@pytest.mark.parametrize("raw", [b"not json", b"[1,2]", b'"text"'])
def test_bytes_that_are_no_frame_are_unreadable(raw: bytes) -> None:
    """Not JSON, or not an object: UnreadableFrame (the agent counts it); a control reply has no events."""
    with pytest.raises(UnreadableFrame):
        frame_events(raw)
    assert frame_events(b'{"type":"subscribed","id":1,"msg":{"channel":"trade","sid":1}}') == []


TYPED_EDGES = [
    *LEGACY_AND_CURRENT,
    b'{"type":"trade","msg":{"market_ticker":"M","yes_price_dollars":"-0","count_fp":"1.00","taker_side":"yes"}}',
    b'{"type":"trade","msg":{"market_ticker":"M","yes_price_dollars":"0.0000","count_fp":"0.00","ts_ms":5}}',
    b'{"type":"trade","msg":{"market_ticker":"M","yes_price_dollars":"inf","yes_price":42,"count_fp":"2.00"}}',
    b'{"type":"trade","msg":{"market_ticker":"M","yes_price_dollars":" 0.42","count_fp":"1_0","trade_id":7}}',
    b'{"type":"trade","msg":{"market_ticker":"M","yes_price_dollars":"","yes_price":42,"count":true}}',
    b'{"type":"trade","msg":{"market_ticker":"","yes_price_dollars":"0.4200","count_fp":"1.00"}}',
    b'{"type":"trade","msg":{"market_ticker":5,"yes_price_dollars":"0.4200","count_fp":"1.00"}}',
    b'{"type":"trade","msg":{"market_ticker":"M","yes_price_dollars":null,"count_fp":"1.00"}}',
    b'{"type":"trade","msg":{"market_ticker":"M","yes_price_dollars":0.42,"count_fp":3,"taker_side":"YES"}}',
    b'{"type":"ticker_v2","msg":{"market_ticker":"M","yes_bid_dollars":"0.4100","ts":1770897960}}',
    b'{"type":"ticker","msg":{"market_ticker":"M","yes_bid_dollars":"1e-2","yes_ask_dollars":"abc","yes_ask":45}}',
    b'{"type":"orderbook_delta","msg":{"market_ticker":"M","side":"maybe","price_dollars":"0.41","delta_fp":"1"}}',
    b'{"type":"orderbook_delta","msg":{"market_ticker":"M","side":"no","price_dollars":"0.4100","delta_fp":"-3.00",'
    b'"ts_ms":1770897960123}}',
    b'{"type":"trade","msg":[1,2]}',
    b'{"type":"trade"}',
    b'{"msg":{"market_ticker":"M"}}',
    b'{"type":"subscribed","id":1,"msg":{"channel":"trade","sid":2}}',
]


@pytest.mark.parametrize("raw", TYPED_EDGES)
def test_typed_decode_agrees_with_the_dict_path(raw: bytes) -> None:
    """The typed msgspec decode (trades, tickers, deltas) gives exactly what reading the decoded dict gives,
    signed zeros, non-finite values, legacy fallbacks and bad types included (those go the dict way)."""
    import orjson

    from ssmd.kalshi import events

    data = orjson.loads(raw)
    msg = data.get("msg")
    build = events._FAST.get(data.get("type"))
    expected = build(msg) if build is not None and type(msg) is dict else []
    got = frame_events(raw)
    assert got == expected
    assert [repr(e) for e in got] == [repr(e) for e in expected]  # -0.0 == 0.0: compare signs too


def test_current_frames_take_the_typed_decode() -> None:
    from ssmd.kalshi import events

    for raw in (LEGACY_AND_CURRENT[1],
                b'{"type":"orderbook_delta","msg":{"market_ticker":"M","side":"no","price_dollars":"0.4100",'
                b'"delta_fp":"-3.00","ts_ms":1}}'):
        frame = events._decode(raw)
        assert events._TYPED[type(frame)](frame.msg) == frame_events(raw) != []
