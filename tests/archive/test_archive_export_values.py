"""The bulk export reads every value exactly as ``ssmd.kalshi.values`` does, frame by frame.

The oracle is the tolerant per-frame path: ``values.parse_value`` on each frame, each decimal fitted to its
column (null + the column's name in ``bad_fields`` when it has more digits than the column holds). The export
decodes in bulk and converts whole columns; for every genuine frame and for frames in every odd shape the wire
has shown or could show, both must give the same row, ``bad_fields`` included.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow.dataset as ds
from click.testing import CliRunner

from ssmd.kalshi import values as v
from ssmd.kalshi.frames import inspect as decode_head
from ssmd.testing import write_day

_Q = {"price": Decimal(1).scaleb(-6), "qty": Decimal(1).scaleb(-4)}
_LIMIT = {"price": Decimal(10) ** 6, "qty": Decimal(10) ** 16}

ODD = [
    # prices: every wire format, sub-penny, more digits than the column, too large, empty, unreadable, whitespace
    {"type": "trade", "sid": 9, "seq": 1, "msg": {"trade_id": "cents", "market_ticker": "M", "yes_price": 7,
                                                  "no_price": 93, "count": 4, "taker_side": "no", "ts": 1669149841}},
    {"type": "trade", "sid": 9, "seq": 2, "msg": {"trade_id": "dual", "market_ticker": "M", "yes_price": 57,
                                                  "no_price": 43, "yes_price_dollars": "0.5700",
                                                  "no_price_dollars": "0.4300", "count": 90, "count_fp": "90.00",
                                                  "taker_side": "no", "ts": 1770897984}},
    {"type": "trade", "sid": 9, "seq": 3, "msg": {"trade_id": "subpenny", "market_ticker": "M",
                                                  "yes_price_dollars": "0.0125", "no_price_dollars": "0.9875",
                                                  "count_fp": "0.11", "taker_outcome_side": "YES",
                                                  "taker_book_side": "bid", "is_block_trade": True,
                                                  "ts_ms": 1784475900544}},
    {"type": "trade", "sid": 9, "seq": 4, "msg": {"trade_id": "too-fine", "market_ticker": "M",
                                                  "yes_price_dollars": "0.12345678", "no_price_dollars": " 0.5 ",
                                                  "count_fp": "1e2", "taker_book_side": "ask",
                                                  "ts_ms": "1784475900544"}},
    {"type": "trade", "sid": 9, "seq": 5, "msg": {"trade_id": "unreadable", "market_ticker": "M",
                                                  "yes_price_dollars": "abc", "yes_price": 41,
                                                  "no_price_dollars": "1234567.5", "count_fp": "+3.5",
                                                  "taker_side": "maybe", "side": "yes",
                                                  "time": "2026-07-19T15:45:00.5449Z",
                                                  "is_block_trade": "no"}},
    {"type": "trade", "sid": 9, "seq": 6, "msg": {"trade_id": "float-cents", "market_ticker": "M",
                                                  "yes_price": 42.5, "count": 2.0, "ts": 1770897984.5}},
    {"type": "trade", "sid": 9, "seq": 7, "msg": {"market_ticker": "", "yes_price_dollars": "", "ts": "x"}},
    # tickers: the Nov 2024 "" price, ticker_v2 with only what changed, big totals, RFC 3339 with an offset
    {"type": "ticker", "sid": 1, "msg": {"market_ticker": "T1", "price_dollars": "", "price": 0, "yes_bid": 1,
                                         "yes_ask_dollars": "0.0300", "volume": 99999999999, "ts": 1732900000}},
    {"type": "ticker_v2", "sid": 1, "msg": {"market_ticker": "T2", "price": 44, "volume_delta": 3,
                                            "ts": "2026-02-01T10:00:00+01:00"}},
    {"type": "ticker", "sid": 1, "msg": {"market_ticker": "T3", "market_id": "id", "price_dollars": "0.9990",
                                         "yes_bid_size_fp": "0.00", "yes_ask_size_fp": "12345678901234567.0",
                                         "last_trade_size_fp": "0.11", "volume_fp": "2233487.48",
                                         "open_interest_fp": "618700.14", "dollar_volume": 1116743,
                                         "dollar_open_interest": 309350, "time": "2026-07-19T15:45:00.544125Z",
                                         "ts": 1784475900, "ts_ms": 1784475900544}},
    {"type": "ticker", "sid": 1, "msg": {"market_ticker": "T4", "yes_bid_dollars": "NaN", "yes_bid": True,
                                         "ts": 1784475900123}},
    # deltas and snapshots: old RFC 3339 ts, cents, fractional, unreadable sides
    {"type": "orderbook_delta", "sid": 5, "seq": 2, "msg": {"market_ticker": "OB", "price_dollars": "0.960",
                                                            "delta_fp": "-54.00", "side": "yes",
                                                            "ts": "2022-11-22T20:44:01Z"}},
    {"type": "orderbook_delta", "sid": 6, "seq": 2, "msg": {"market_ticker": "OB", "price": 96, "delta": -5,
                                                            "side": "NO", "ts": 1669149841}},
    {"type": "orderbook_delta", "sid": 6, "seq": 3, "msg": {"market_ticker": "OB", "price_dollars": "0.5",
                                                            "delta_fp": "1.00001", "side": "both"}},
    {"type": "orderbook_snapshot", "sid": 5, "seq": 1, "msg": {"market_ticker": "OB", "yes_dollars_fp":
                                                               [["0.0800", "300.00"], ["0.2200", "333.50"]],
                                                               "no_dollars_fp": [["0.5400", "20.00"]],
                                                               "ts_ms": 1669149841000}},
    {"type": "orderbook_snapshot", "sid": 6, "seq": 1, "msg": {"market_ticker": "OLD", "yes": [[8, 300]],
                                                               "no": [[54, 20]]}},
    {"type": "orderbook_snapshot", "sid": 7, "seq": 1, "msg": {"market_ticker": "MID",
                                                               "yes_dollars": [["0.0900", 12]],
                                                               "no_dollars_fp": "broken", "no": [[50, 1]]}},
    {"type": "orderbook_snapshot", "sid": 7, "seq": 3, "msg": {"market_ticker": "EMPTY-LEVEL",
                                                               "yes_dollars_fp": [["", "1.00"]],
                                                               "yes_dollars": [["0.0500", 2], [0.06, 1.5]],
                                                               "no_dollars_fp": [["0.50", True]]}},
    {"type": "orderbook_snapshot", "sid": 7, "seq": 2, "msg": {"market_ticker": "FINE",
                                                               "yes_dollars_fp": [["0.0000001", "1.00"]]}},
    # lifecycle: string dollars, legacy integer cents, times from determination/settlement, event creation
    {"type": "market_lifecycle_v2", "sid": 1, "seq": 279597, "msg": {
        "market_ticker": "L1", "determination_ts": 1784501722, "result": "no", "settlement_value": "0.0000",
        "event_type": "determined"}},
    {"type": "market_lifecycle_v2", "sid": 1, "seq": 279598, "msg": {
        "market_ticker": "L2", "determination_ts": "2026-07-19T16:00:00Z", "result": "yes", "settlement_value": 100,
        "event_type": "determined"}},
    {"type": "market_lifecycle_v2", "sid": 1, "seq": 279599, "msg": {
        "market_ticker": "L3", "settled_ts": 1784500206, "event_type": "settled", "open_ts": 1784400000,
        "close_ts": 1784500000, "settlement_value_dollars": "1.0000"}},
    {"type": "event_lifecycle", "sid": 4, "seq": 8, "msg": {"event_ticker": "EV", "series_ticker": "S",
                                                            "title": "T", "sub_title": "old name",
                                                            "created_ts": 1784475900}},
    # not exported: control frames, unknown types, a msg that is not an object, not JSON at all
    {"type": "subscribed", "id": 1, "msg": {"channel": "trade", "sid": 2}},
    {"type": "fill", "sid": 3, "msg": {"market_ticker": "M"}},
    {"type": "trade", "sid": 2, "msg": ["not", "an", "object"]},
]


def _fit(value: Decimal | None, kind: str, bad: list[str], name: str) -> Decimal | None:
    if value is None:
        return None
    fitted = value.quantize(_Q[kind])
    if fitted != value or abs(fitted) >= _LIMIT[kind]:
        bad.append(name)
        return None
    return fitted


def _expected(raw: bytes) -> tuple[str, list[dict[str, Any]]] | None:
    """The rows the tolerant path gives for one frame (the export before it decoded in bulk)."""
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    value = v.parse_value(frame) if isinstance(frame, dict) else None
    if value is None:
        return None
    bad = list(value.bad_fields)
    head = decode_head(raw)
    ts = value.ts_ms if value.ts_ms is not None else head.ts_ms()
    tail = {"sid": head.sid, "seq": head.seq}
    if isinstance(value, v.Trade):
        row = {"trade_id": value.trade_id, "market_ticker": value.market_ticker,
               "yes_price": _fit(value.yes_price, "price", bad, "yes_price"),
               "no_price": _fit(value.no_price, "price", bad, "no_price"),
               "count": _fit(value.count, "qty", bad, "count"), "taker_side": value.taker_side,
               "is_block_trade": value.is_block_trade}
        return "trades", [{"ts": ts, **row, **tail, "bad_fields": ",".join(bad)}]
    if isinstance(value, v.Ticker):
        row = {"market_ticker": value.market_ticker, "market_id": value.market_id}
        for name in ("price", "yes_bid", "yes_ask"):
            row[name] = _fit(getattr(value, name), "price", bad, name)
        for name in ("yes_bid_size", "yes_ask_size", "last_trade_size", "volume", "open_interest", "dollar_volume",
                     "dollar_open_interest"):
            row[name] = _fit(getattr(value, name), "qty", bad, name)
        return "tickers", [{"ts": ts, **row, **tail, "bad_fields": ",".join(bad)}]
    if isinstance(value, v.OrderbookDelta):
        row = {"market_ticker": value.market_ticker, "side": value.side,
               "price": _fit(value.price, "price", bad, "price"), "delta": _fit(value.delta, "qty", bad, "delta")}
        return "orderbook_deltas", [{"ts": ts, **row, **tail, "bad_fields": ",".join(bad)}]
    if isinstance(value, v.OrderbookSnapshot):
        levels = [(side, _fit(p, "price", bad, "price"), _fit(q, "qty", bad, "quantity"))
                  for side, side_levels in (("yes", value.yes), ("no", value.no)) for p, q in side_levels]
        return "orderbook_snapshots", [{"ts": ts, "market_ticker": value.market_ticker, "side": side, "price": p,
                                        "quantity": q, **tail, "bad_fields": ",".join(dict.fromkeys(bad))}
                                       for side, p, q in levels]
    if isinstance(value, v.MarketLifecycle):
        row = {"market_ticker": value.market_ticker, "event_type": value.event_type, "open_ts": value.open_ts,
               "close_ts": value.close_ts, "determination_ts": value.determination_ts,
               "settled_ts": value.settled_ts, "result": value.result,
               "settlement_value": _fit(value.settlement_value, "price", bad, "settlement_value")}
        return "market_lifecycle", [{"ts": ts, **row, **tail, "bad_fields": ",".join(bad)}]
    assert isinstance(value, v.EventLifecycle)
    row = {"event_ticker": value.event_ticker, "series_ticker": value.series_ticker, "title": value.title,
           "subtitle": value.subtitle}
    return "event_lifecycle", [{"ts": ts, **row, **tail, "bad_fields": ",".join(bad)}]


def _normal(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out.pop("nats_seq", None)
    out.pop("date", None)
    for key, value in out.items():
        if hasattr(value, "timestamp"):
            seconds = value.timestamp()
            out[key] = int(seconds * 1000) if key == "ts" else int(seconds)
    return out


def test_bulk_export_equals_the_tolerant_path_for_every_frame(tmp_path: Path, samples: list[bytes]) -> None:
    frames = samples + [orjson.dumps(f) for f in ODD] + [b"not json", b'{"type": 5}', b"[1, 2]"]
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", frames[:20]), ("1215.jsonl.gz", frames[20:])])
    out = tmp_path / "out"
    result = CliRunner().invoke(archive_group_cmd(), ["export", str(tmp_path / "arc"), "--to", "parquet", str(out)])
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)
    want: dict[str, list[dict[str, Any]]] = {}
    for raw in frames:
        rows = _expected(raw)
        if rows is not None:
            want.setdefault(rows[0], []).extend(rows[1])
    exported = sum(1 for raw in frames if _expected(raw) is not None)
    assert summary["frames"] == exported
    assert summary["not_exported"] == len(frames) - exported
    for table, rows in want.items():
        got = [_normal(r) for r in ds.dataset(out / table, format="parquet", partitioning="hive").to_table()
               .to_pylist()]
        key = _sort_key
        assert sorted(got, key=key) == sorted(rows, key=key), table
    assert {p.name for p in out.iterdir() if p.is_dir()} == {*want, "book_top"}
    odd_trades = {r["trade_id"]: r for r in want["trades"]}
    assert odd_trades["too-fine"]["bad_fields"] == "yes_price"
    assert odd_trades["unreadable"]["yes_price"] == Decimal("0.41")
    assert "yes_price_dollars" in odd_trades["unreadable"]["bad_fields"]


def _sort_key(row: dict[str, Any]) -> str:
    return orjson.dumps(row, default=str, option=orjson.OPT_SORT_KEYS).decode()


def archive_group_cmd() -> Any:
    from ssmd.archive.cli import archive_group

    return archive_group
