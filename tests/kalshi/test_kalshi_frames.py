"""Frame classification and routing: every genuine sample frame, control replies, unparseable input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ssmd.bus.subjects import subject_for
from ssmd.kalshi.frames import Kind, classify, frame_time_ms

PREFIX = "prod.kalshi"
SUBJECT_TYPE = {"ticker": "ticker", "ticker_v2": "ticker", "trade": "trade", "orderbook_snapshot": "orderbook",
                "orderbook_delta": "orderbook", "market_lifecycle_v2": "lifecycle",
                "event_lifecycle": "event_lifecycle"}


def _samples(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def test_every_sample_frame_is_routed_to_its_subject(samples_path: Path) -> None:
    """Each genuine frame is DATA with its type/sid/seq, and goes to `prod.kalshi.json.{type}.{ticker_}`."""
    lines = _samples(samples_path)
    assert len(lines) >= 20
    for raw in lines:
        payload: dict[str, Any] = orjson.loads(raw)
        frame = classify(raw)
        assert frame.kind is Kind.DATA
        assert (frame.type, frame.sid, frame.seq) == (payload["type"], payload["sid"], payload.get("seq"))
        ticker = payload["msg"]["market_ticker"]
        assert frame.ticker == ticker
        expected = f"{PREFIX}.json.{SUBJECT_TYPE[payload['type']]}.{ticker.replace('.', '_')}"
        assert subject_for(PREFIX, frame.type or "", frame.ticker) == expected


def test_samples_cover_every_type_the_capture_holds(samples_path: Path) -> None:
    """The samples exercise ticker, trade and lifecycle routing (guards against an emptied sample file)."""
    types = {classify(raw).type for raw in _samples(samples_path)}
    assert {"ticker", "trade", "market_lifecycle_v2"} <= types


def test_dotted_ticker_routes_to_one_token() -> None:
    """A real dotted ticker becomes one subject token; the frame keeps the original ticker."""
    raw = b'{"type":"ticker","sid":1,"msg":{"market_ticker":"KXETHD-26FEB1217-T1819.99","price":97}}'
    frame = classify(raw)
    assert frame.ticker == "KXETHD-26FEB1217-T1819.99"
    assert subject_for(PREFIX, frame.type or "", frame.ticker) == "prod.kalshi.json.ticker.KXETHD-26FEB1217-T1819_99"


def test_event_lifecycle_routes_on_event_ticker() -> None:
    """Frames without market_ticker route on event_ticker."""
    raw = (b'{"type":"event_lifecycle","sid":5,"seq":8,"msg":{"event_ticker":"KXQUICKSETTLE-26JAN25H2150",'
           b'"series_ticker":"KXQUICKSETTLE","title":"What will 1+1 equal?"}}')
    frame = classify(raw)
    assert frame.ticker == "KXQUICKSETTLE-26JAN25H2150"
    assert subject_for(PREFIX, "event_lifecycle", frame.ticker) == (
        "prod.kalshi.json.event_lifecycle.KXQUICKSETTLE-26JAN25H2150")


def test_series_ticker_is_the_last_fallback() -> None:
    """With only series_ticker the frame routes on it."""
    assert classify(b'{"type":"x","msg":{"series_ticker":"KXS"}}').ticker == "KXS"


def test_unknown_future_type_is_data_and_kept() -> None:
    """A type we have never seen is DATA, routed under its own type token, never dropped."""
    raw = b'{"type":"event_fee_update","sid":4,"seq":2,"msg":{"event_ticker":"EV-1","fee_multiplier_override":2}}'
    frame = classify(raw)
    assert frame.kind is Kind.DATA
    assert subject_for(PREFIX, frame.type or "", frame.ticker) == "prod.kalshi.json.event_fee_update.EV-1"


def test_subscribed_reply() -> None:
    """`subscribed` is CONTROL with the sid read from msg.sid and its channel."""
    frame = classify(b'{"id":1,"type":"subscribed","msg":{"channel":"orderbook_delta","sid":7}}')
    assert frame.kind is Kind.CONTROL
    assert (frame.id, frame.subscribed_sid, frame.channel) == (1, 7, "orderbook_delta")


def test_ok_reply_with_markets_under_msg() -> None:
    """`ok` per Kalshi's docs: sid/seq top-level, the market list under msg."""
    frame = classify(b'{"id":123,"sid":456,"seq":222,"type":"ok","msg":{"market_tickers":["M-1","M-2"]}}')
    assert frame.kind is Kind.CONTROL
    assert (frame.sid, frame.seq, frame.ok_market_tickers) == (456, 222, ["M-1", "M-2"])


def test_ok_reply_with_markets_top_level() -> None:
    """`ok` in the older fixture shape: market_tickers top-level."""
    frame = classify(b'{"id":9,"sid":3,"seq":2,"type":"ok","market_tickers":["A.1"]}')
    assert frame.ok_market_tickers == ["A.1"] and frame.subscribed_sid == 3


def test_list_subscriptions_reply_with_array_msg() -> None:
    """The `list_subscriptions` reply is `ok` with an array msg; it still classifies as CONTROL."""
    frame = classify(b'{"id":3,"type":"ok","msg":[{"channel":"orderbook_delta","sid":1},{"channel":"ticker","sid":2}]}')
    assert frame.kind is Kind.CONTROL
    assert frame.msg == [{"channel": "orderbook_delta", "sid": 1}, {"channel": "ticker", "sid": 2}]
    assert frame.ok_market_tickers is None and frame.ticker is None


def test_unsubscribed_reply() -> None:
    """`unsubscribed` is CONTROL with top-level sid and seq."""
    frame = classify('{"id":102,"sid":2,"seq":7,"type":"unsubscribed"}')
    assert (frame.kind, frame.sid, frame.seq, frame.id) == (Kind.CONTROL, 2, 7, 102)


def test_error_reply() -> None:
    """`error` exposes (code, message)."""
    frame = classify(b'{"id":123,"type":"error","msg":{"code":8,"msg":"Unknown channel name"}}')
    assert frame.kind is Kind.CONTROL and frame.error == (8, "Unknown channel name")


@pytest.mark.parametrize(
    "raw",
    [b"not json at all", b'{"type":"trade"', b"", b'{"sid":1,"msg":{"market_ticker":"A"}}', b"[1,2,3]",
     b'{"type":5,"msg":{}}', b'{"type":"","msg":{}}', b"\xff\xfe", b'"trade"'],
)
def test_unroutable_frames_are_unparsed(raw: bytes) -> None:
    """Non-JSON, truncated, type-less or non-object frames are UNPARSED (kept raw and counted by the caller)."""
    assert classify(raw).kind is Kind.UNPARSED


def test_unexpected_field_types_still_route() -> None:
    """Valid JSON with odd field types (string sid, numeric event_ticker) keeps what it can instead of failing."""
    frame = classify(b'{"type":"trade","sid":"3","seq":"10","msg":{"market_ticker":"A-1","event_ticker":5}}')
    assert (frame.kind, frame.sid, frame.seq, frame.ticker) == (Kind.DATA, 3, 10, "A-1")


def test_non_object_msg_is_data_without_ticker() -> None:
    """A data frame whose msg is not an object routes to the `_` ticker token."""
    frame = classify(b'{"type":"trade","sid":2,"seq":1,"msg":"surprise"}')
    assert frame.kind is Kind.DATA and frame.ticker is None
    assert subject_for(PREFIX, "trade", frame.ticker) == "prod.kalshi.json.trade._"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"msg": {"ts_ms": 1784475900544, "ts": 1784475900}}, 1784475900544),
        ({"msg": {"ts": 1770897984}}, 1770897984000),
        ({"msg": {"ts": "2022-11-22T20:44:01Z"}}, 1669149841000),
        ({"msg": {"settled_ts": 1784500206}}, 1784500206000),
        ({"sending_ts_ms": 1784475900999, "msg": {}}, 1784475900999),
        ({"msg": {"market_ticker": "A"}}, None),
    ],
)
def test_frame_time_ms(payload: dict[str, Any], expected: int | None) -> None:
    """Exchange time in ms: ts_ms, else ts (seconds or RFC 3339), else lifecycle times, else sending_ts_ms."""
    assert frame_time_ms(payload) == expected
