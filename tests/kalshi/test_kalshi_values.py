"""Tolerant typed values: every wire format Kalshi has used parses to dollars / contracts / ms."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from ssmd.kalshi.values import (
    EventLifecycle,
    MarketLifecycle,
    OrderbookDelta,
    OrderbookSnapshot,
    Ticker,
    Trade,
    cents_to_dollars,
    contracts,
    dollars,
    parse_delta,
    parse_event_lifecycle,
    parse_lifecycle,
    parse_snapshot,
    parse_ticker,
    parse_trade,
    parse_value,
)

D = Decimal


# --- converters ---------------------------------------------------------------------------------------------------


def test_cents_to_dollars_is_exact() -> None:
    """42 cents is exactly Decimal('0.42'); 100 cents is 1 dollar (no float rounding)."""
    assert cents_to_dollars(42) == D("0.42") and str(cents_to_dollars(42)) == "0.42"
    assert cents_to_dollars(100) == D(1)
    assert cents_to_dollars(1) == D("0.01")


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", True, [1], {"a": 1}])
def test_converters_return_none_for_unreadable_values(raw: object) -> None:
    """Garbage, non-finite numbers and booleans are None, never an exception."""
    assert dollars(raw) is None and cents_to_dollars(raw) is None and contracts(raw) is None


def test_dollars_reads_strings_and_numbers() -> None:
    """Dollar strings keep their digits; whole numbers and floats convert; empty string is None."""
    assert dollars("0.4200") == D("0.42") and str(dollars("0.4200")) == "0.4200"
    assert dollars(1) == D(1) and dollars(0.25) == D("0.25")
    assert dollars("") is None and dollars(None) is None


def test_contracts_reads_fractional_fixed_point() -> None:
    """`count_fp` strings may be fractional."""
    assert contracts("12.50") == D("12.5") and contracts("0.11") == D("0.11") and contracts(90) == D(90)


# --- trade --------------------------------------------------------------------------------------------------------


def test_trade_legacy_integer_cents() -> None:
    """Pre-2026 trades: integer cents and integer count, taker_side, ts in seconds."""
    t = parse_trade({"trade_id": "t1", "market_ticker": "KXA-1", "yes_price": 57, "no_price": 43, "count": 90,
                     "taker_side": "no", "ts": 1770897984})
    assert t == Trade("t1", "KXA-1", D("0.57"), D("0.43"), D(90), "no", 1770897984000, False, ())


def test_trade_dual_prefers_newest_fields() -> None:
    """When integer and dollar fields are both present, the `_dollars` / `_fp` ones win."""
    t = parse_trade({"market_ticker": "KXA-1", "yes_price": 41, "yes_price_dollars": "0.4150", "no_price": 59,
                     "no_price_dollars": "0.5850", "count": 12, "count_fp": "12.50", "taker_side": "yes"})
    assert (t.yes_price, t.no_price, t.count) == (D("0.4150"), D("0.5850"), D("12.50"))


def test_trade_current_format() -> None:
    """Today's trade: dollar strings, `count_fp`, `ts_ms`, `taker_outcome_side` preferred, block flag."""
    t = parse_trade({"trade_id": "t2", "market_ticker": "KXB-2", "yes_price_dollars": "0.0350",
                     "no_price_dollars": "0.9650", "count_fp": "0.11", "taker_side": "no",
                     "taker_outcome_side": "yes", "taker_book_side": "bid", "is_block_trade": True,
                     "ts": 1784475900, "ts_ms": 1784475900544})
    assert t == Trade("t2", "KXB-2", D("0.035"), D("0.965"), D("0.11"), "yes", 1784475900544, True, ())


def test_trade_taker_book_side_maps_to_outcome() -> None:
    """With only `taker_book_side`, bid means the YES side and ask the NO side."""
    assert parse_trade({"market_ticker": "A", "taker_book_side": "bid"}).taker_side == "yes"
    assert parse_trade({"market_ticker": "A", "taker_book_side": "ask"}).taker_side == "no"


def test_trade_legacy_side_field() -> None:
    """Very old frames named the taker side `side`."""
    assert parse_trade({"market_ticker": "A", "side": "NO"}).taker_side == "no"


def test_trade_bad_field_does_not_fail_the_message() -> None:
    """An unreadable price is None and named in bad_fields; every other field still parses."""
    t = parse_trade({"trade_id": "t3", "market_ticker": "A", "yes_price_dollars": "oops", "no_price_dollars": "0.4",
                     "count_fp": "3.00", "taker_side": "maybe", "ts_ms": 5})
    assert t.yes_price is None and t.taker_side is None
    assert set(t.bad_fields) == {"yes_price_dollars", "taker_side"}
    assert (t.no_price, t.count, t.ts_ms) == (D("0.4"), D(3), 5)


def test_bad_newest_field_falls_back_to_legacy() -> None:
    """A bad `_dollars` field falls back to its integer twin, and is still reported."""
    t = parse_trade({"market_ticker": "A", "yes_price_dollars": "?", "yes_price": 30})
    assert t.yes_price == D("0.30") and t.bad_fields == ("yes_price_dollars",)


def test_missing_ticker_is_reported() -> None:
    """A message without market_ticker gets "" and lists the field."""
    t = parse_trade({"yes_price_dollars": "0.5"})
    assert t.market_ticker == "" and "market_ticker" in t.bad_fields


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        ({"ts": "2022-11-22T20:44:01Z"}, 1669149841000),
        ({"ts": 1770897984, "time": "2026-02-12T12:06:24.123456Z"}, 1770897984123),
        ({"ts": "bad", "time": None}, None),
        ({"ts_ms": "x", "ts": 1770897984}, 1770897984000),
    ],
)
def test_trade_timestamps(msg: dict[str, Any], expected: int | None) -> None:
    """ts_ms, else `time` (sub-second RFC 3339), else `ts` (seconds or RFC 3339); unreadable ones fall through."""
    assert parse_trade({"market_ticker": "A", **msg}).ts_ms == expected


# --- ticker -------------------------------------------------------------------------------------------------------


def test_ticker_nov_2024_empty_price_dollars_is_none() -> None:
    """Nov 2024 frames sent `price_dollars: ""` before any trade: price is None, not 0, and not an error."""
    t = parse_ticker({"market_ticker": "KXB-1", "price": 0, "yes_bid": 37, "yes_ask": 43, "price_dollars": "",
                      "yes_bid_dollars": "0.3700", "yes_ask_dollars": "0.4300", "volume": 0, "ts": 1732579880})
    assert t.price is None and t.bad_fields == ()
    assert (t.yes_bid, t.yes_ask, t.volume, t.ts_ms) == (D("0.37"), D("0.43"), D(0), 1732579880000)


def test_ticker_legacy_cents_only() -> None:
    """Integer-only ticker fields are cents (prices) and contracts (volume, open interest)."""
    t = parse_ticker({"market_ticker": "A", "price": 12, "yes_bid": 11, "yes_ask": 12, "volume": 351970,
                      "open_interest": 182646, "dollar_volume": 175985})
    assert (t.price, t.yes_bid, t.yes_ask) == (D("0.12"), D("0.11"), D("0.12"))
    assert (t.volume, t.open_interest, t.dollar_volume) == (D(351970), D(182646), D(175985))


def test_ticker_current_format() -> None:
    """Today's ticker: dollar strings, `_fp` sizes, ts_ms."""
    t = parse_ticker({"market_ticker": "KXBTC15M-26JUL191145-45", "market_id": "e811", "price_dollars": "0.9990",
                      "yes_bid_dollars": "0.0000", "yes_ask_dollars": "1.0000", "yes_bid_size_fp": "1.50",
                      "yes_ask_size_fp": "0.00", "last_trade_size_fp": "0.11", "volume_fp": "2233487.48",
                      "open_interest_fp": "618700.14", "dollar_volume": 1116743, "dollar_open_interest": 309350,
                      "ts_ms": 1784475900544})
    assert t == Ticker("KXBTC15M-26JUL191145-45", "e811", D("0.999"), D(0), D(1), D("1.5"), D(0), D("0.11"),
                       D("2233487.48"), D("618700.14"), D(1116743), D(309350), 1784475900544, ())


def test_ticker_v2_parses_as_ticker() -> None:
    """The removed `ticker_v2` (fields only when changed) still gives a Ticker."""
    v = parse_value({"type": "ticker_v2", "sid": 1, "msg": {"market_ticker": "A", "price": 40, "ts": 1}})
    assert isinstance(v, Ticker) and v.price == D("0.40") and v.yes_bid is None


# --- order book ---------------------------------------------------------------------------------------------------


def test_snapshot_current_fp_levels() -> None:
    """`yes_dollars_fp`/`no_dollars_fp` levels are (dollars, contracts) pairs."""
    s = parse_snapshot({"market_ticker": "FED-23DEC-T3.00", "yes_dollars_fp": [["0.0800", "300.00"],
                        ["0.2200", "333.50"]], "no_dollars_fp": [["0.5400", "20.00"]]})
    assert s == OrderbookSnapshot("FED-23DEC-T3.00", ((D("0.08"), D(300)), (D("0.22"), D("333.5"))),
                                  ((D("0.54"), D(20)),), None, ())


def test_snapshot_legacy_cents_levels() -> None:
    """Legacy `yes`/`no` are [cents, count] pairs."""
    s = parse_snapshot({"market_ticker": "A", "yes": [[8, 300], [22, 333]], "no": [[54, 20]]})
    assert s.yes == ((D("0.08"), D(300)), (D("0.22"), D(333))) and s.no == ((D("0.54"), D(20)),)


def test_snapshot_dollar_string_levels() -> None:
    """Interim `yes_dollars`/`no_dollars` are [dollar string, integer count] pairs and beat legacy cents."""
    s = parse_snapshot({"market_ticker": "A", "yes": [[8, 1]], "yes_dollars": [["0.0850", 300]]})
    assert s.yes == ((D("0.085"), D(300)),)


def test_snapshot_absent_side_is_empty() -> None:
    """Kalshi omits an empty side: it parses as no levels, not as an error."""
    s = parse_snapshot({"market_ticker": "A", "no_dollars_fp": [["0.5", "1"]]})
    assert s.yes == () and s.bad_fields == ()


def test_snapshot_bad_level_marks_side_bad() -> None:
    """One unreadable level makes that side empty and named in bad_fields; the other side survives."""
    s = parse_snapshot({"market_ticker": "A", "yes_dollars_fp": [["0.1", "1"], ["x", "2"]],
                        "no_dollars_fp": [["0.5", "1"]]})
    assert s.yes == () and s.bad_fields == ("yes_dollars_fp",) and s.no == ((D("0.5"), D(1)),)


def test_delta_current_format() -> None:
    """Today's delta: price_dollars, signed delta_fp, side, RFC 3339 ts."""
    d = parse_delta({"market_ticker": "A", "price_dollars": "0.960", "delta_fp": "-54.00", "side": "yes",
                     "ts": "2022-11-22T20:44:01Z"})
    assert d == OrderbookDelta("A", "yes", D("0.96"), D(-54), 1669149841000, ())


def test_delta_legacy_cents() -> None:
    """Legacy delta: integer cents price and integer delta."""
    d = parse_delta({"market_ticker": "A", "price": 96, "delta": -54, "side": "no"})
    assert (d.side, d.price, d.delta) == ("no", D("0.96"), D(-54))


def test_delta_bad_side() -> None:
    """An unknown side is None and reported; price and delta still parse."""
    d = parse_delta({"market_ticker": "A", "price_dollars": "0.5", "delta_fp": "1", "side": "maybe"})
    assert d.side is None and d.bad_fields == ("side",) and d.delta == D(1)


# --- lifecycle ----------------------------------------------------------------------------------------------------


def test_lifecycle_determined() -> None:
    """`determined` carries result and a dollar-string settlement value; ts_ms falls back to determination."""
    v = parse_lifecycle({"market_ticker": "KXM-1", "determination_ts": 1784501722, "result": "no",
                         "settlement_value": "0.0000", "event_type": "determined"})
    assert v == MarketLifecycle("KXM-1", "determined", None, None, 1784501722, None, "no", D(0),
                                1784501722000, ())


def test_lifecycle_created_times_stay_seconds() -> None:
    """`created` open/close timestamps stay Unix seconds (they are future times, not the message time)."""
    v = parse_lifecycle({"market_ticker": "A", "event_type": "created", "open_ts": 1784000000,
                         "close_ts": 1785000000})
    assert (v.open_ts, v.close_ts, v.ts_ms) == (1784000000, 1785000000, None)


def test_lifecycle_integer_settlement_value_is_cents() -> None:
    """Before 2026-02-26 an integer settlement value was cents."""
    assert parse_lifecycle({"market_ticker": "A", "settlement_value": 100}).settlement_value == D(1)


def test_lifecycle_bad_timestamp() -> None:
    """An unreadable settled_ts is None and reported; the event type survives."""
    v = parse_lifecycle({"market_ticker": "A", "event_type": "settled", "settled_ts": "soon"})
    assert v.settled_ts is None and v.bad_fields == ("settled_ts",) and v.event_type == "settled"


def test_event_lifecycle() -> None:
    """`event_lifecycle` gives event and series tickers, title and subtitle (`sub_title` accepted too)."""
    v = parse_event_lifecycle({"event_ticker": "KXQ-26JAN25H2150", "series_ticker": "KXQ", "title": "1+1?",
                               "sub_title": "Jan 25"})
    assert v == EventLifecycle("KXQ-26JAN25H2150", "KXQ", "1+1?", "Jan 25", None, ())


# --- dispatch -----------------------------------------------------------------------------------------------------


def test_every_sample_frame_parses_cleanly(samples_path: Path) -> None:
    """Every genuine captured frame gives the right value type with no bad fields and a timestamp."""
    expected = {"ticker": Ticker, "trade": Trade, "market_lifecycle_v2": MarketLifecycle}
    lines = [line for line in samples_path.read_bytes().splitlines() if line.strip()]
    for raw in lines:
        payload = orjson.loads(raw)
        value = parse_value(payload)
        assert value is not None and isinstance(value, expected[payload["type"]]), raw
        assert value.bad_fields == () and value.ts_ms is not None, raw


def test_sample_dual_ticker_matches_its_cent_fields(samples_path: Path) -> None:
    """In dual-format sample tickers the parsed dollar price equals the integer cents / 100."""
    checked = 0
    for raw in samples_path.read_bytes().splitlines():
        payload = orjson.loads(raw)
        msg = payload["msg"]
        if payload["type"] == "ticker" and "yes_bid" in msg and msg.get("yes_bid_dollars"):
            value = parse_value(payload)
            assert isinstance(value, Ticker) and value.yes_bid == D(msg["yes_bid"]) / 100
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize(
    "payload",
    [{"type": "subscribed", "msg": {"sid": 1}}, {"type": "event_fee_update", "msg": {"event_ticker": "E"}},
     {"type": "trade"}, {"type": "trade", "msg": [1]}, {"msg": {}}, {"type": 3, "msg": {}}],
)
def test_parse_value_returns_none_for_non_values(payload: dict[str, Any]) -> None:
    """Control frames, unknown types and frames without a msg object give None."""
    assert parse_value(payload) is None


@pytest.mark.parametrize("junk", [None, 1, "x", -1.5, [], {}, {"a": 1}, True, "", [["0.1"]], [[None, None]]])
@pytest.mark.parametrize("frame_type", ["trade", "ticker", "orderbook_snapshot", "orderbook_delta",
                                        "market_lifecycle_v2", "event_lifecycle"])
def test_parse_value_never_raises_on_junk_fields(frame_type: str, junk: object) -> None:
    """Every known field set to junk still yields a value of the right type (bad fields listed, no exception)."""
    fields = ["market_ticker", "event_ticker", "trade_id", "yes_price", "yes_price_dollars", "no_price",
              "no_price_dollars", "count", "count_fp", "taker_side", "taker_outcome_side", "taker_book_side", "side",
              "is_block_trade", "ts", "ts_ms", "time", "price", "price_dollars", "yes_bid", "yes_bid_dollars",
              "yes_ask", "yes_ask_dollars", "yes_bid_size_fp", "volume", "volume_fp", "dollar_volume", "yes", "no",
              "yes_dollars", "yes_dollars_fp", "no_dollars_fp", "delta", "delta_fp", "open_ts", "settled_ts",
              "settlement_value", "result", "event_type", "title", "subtitle", "series_ticker", "market_id"]
    value = parse_value({"type": frame_type, "msg": dict.fromkeys(fields, junk)})
    assert value is not None and dataclasses.is_dataclass(value)


def test_values_are_frozen() -> None:
    """Values are immutable (safe to share between the agent's strategies)."""
    t = parse_trade({"market_ticker": "A"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.count = D(1)  # type: ignore[misc]
