"""ssmd archive export: typed tables whose values equal the source frames, for every wire format."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
from click.testing import CliRunner

from ssmd.archive.cli import archive_group
from ssmd.testing import write_day

# Wire formats the genuine samples lack: orderbook (current, legacy cents, dollar strings), sub-penny, Nov-2024 "".
EXTRA = [
    b'{"type":"orderbook_snapshot","sid":5,"seq":1,"msg":{"market_ticker":"FED-23DEC-T3.00","yes_dollars_fp":'
    b'[["0.0800","300.00"],["0.2200","333.50"]],"no_dollars_fp":[["0.5400","20.00"]]}}',
    b'{"type":"orderbook_snapshot","sid":6,"seq":1,"msg":{"market_ticker":"OLD-1","yes":[[8,300]],"no":[[54,20]]}}',
    b'{"type":"orderbook_snapshot","sid":7,"seq":1,"msg":{"market_ticker":"MID-1","yes_dollars":[["0.0900",12]]}}',
    b'{"type":"orderbook_delta","sid":5,"seq":2,"msg":{"market_ticker":"FED-23DEC-T3.00","price_dollars":"0.960",'
    b'"delta_fp":"-54.00","side":"yes","ts":"2022-11-22T20:44:01Z"}}',
    b'{"type":"orderbook_delta","sid":6,"seq":2,"msg":{"market_ticker":"OLD-1","price":96,"delta":-5,"side":"no",'
    b'"ts":1669149841}}',
    b'{"type":"trade","sid":9,"seq":1,"msg":{"trade_id":"legacy-1","market_ticker":"OLD-1","yes_price":7,'
    b'"no_price":93,"count":4,"taker_side":"no","ts":1669149841}}',
    b'{"type":"trade","sid":9,"seq":2,"msg":{"trade_id":"subpenny-1","market_ticker":"SUB-1",'
    b'"yes_price_dollars":"0.0125","no_price_dollars":"0.9875","count_fp":"0.11","taker_side":"yes",'
    b'"ts_ms":1784475900544}}',
    b'{"type":"event_lifecycle","sid":4,"msg":{"event_ticker":"EV-1","series_ticker":"SER","title":"T",'
    b'"subtitle":"S","created_ts":1784475900}}',
    b'{"type":"subscribed","id":1,"msg":{"channel":"trade","sid":2}}',
]


def _expected_price(msg: dict[str, Any], name: str) -> Decimal | None:
    """The dollar price as Kalshi defines it: the _dollars string, else integer cents / 100."""
    text = msg.get(f"{name}_dollars")
    if text:
        return Decimal(text)
    if text == "":
        return None
    return Decimal(msg[name]) / 100 if name in msg else None


def _export(tmp_path: Path, frames: list[bytes], fmt: str = "parquet") -> Path:
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", frames[:15]), ("1215.jsonl.gz", frames[15:])])
    out = tmp_path / "out"
    result = CliRunner().invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", fmt, str(out)])
    assert result.exit_code == 0, result.output
    return out


def _rows(sql: str) -> list[dict[str, Any]]:
    rel = duckdb.sql(sql)
    assert rel is not None
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def test_trades_round_trip_through_parquet_for_every_wire_format(tmp_path: Path, samples: list[bytes]) -> None:
    """Every trade (cents, dual, dollars-only, sub-penny, fractional _fp count) reads back from Parquet with DuckDB
    with the source's trade_id, dollar prices, count, side and time."""
    out = _export(tmp_path, samples + EXTRA)
    got = {r["trade_id"]: r for r in _rows(
        f"select * from read_parquet('{out}/trades/*/*.parquet', hive_partitioning=true)")}
    sources = [orjson.loads(f) for f in samples + EXTRA if orjson.loads(f)["type"] == "trade"]
    assert len(got) == len(sources) == 13
    for frame in sources:
        msg = frame["msg"]
        row = got[msg["trade_id"]]
        assert row["market_ticker"] == msg["market_ticker"]
        assert row["yes_price"] == _expected_price(msg, "yes_price")
        assert row["no_price"] == _expected_price(msg, "no_price")
        assert row["count"] == Decimal(msg.get("count_fp") or msg["count"])
        assert row["taker_side"] == msg["taker_side"]
        want_ms = msg.get("ts_ms") or msg["ts"] * 1000
        assert int(row["ts"].timestamp() * 1000) == want_ms
        assert str(row["date"]) == row["ts"].strftime("%Y-%m-%d")
        assert row["sid"] == frame["sid"] and row["seq"] == frame["seq"]
    assert got["subpenny-1"]["yes_price"] == Decimal("0.0125")


def test_tickers_keep_empty_price_as_null_and_dollar_units(tmp_path: Path, samples: list[bytes]) -> None:
    """Ticker prices are dollars whatever the wire; Nov-2024 price_dollars "" is null, not zero."""
    out = _export(tmp_path, samples + EXTRA)
    rows = _rows(f"select * from read_parquet('{out}/tickers/*/*.parquet') order by market_ticker")
    sources = [orjson.loads(f)["msg"] for f in samples if orjson.loads(f)["type"] == "ticker"]
    assert len(rows) == len(sources)
    by_ticker = {r["market_ticker"]: r for r in rows}
    for msg in sources:
        row = by_ticker[msg["market_ticker"]]
        assert row["price"] == _expected_price(msg, "price")
        assert row["yes_bid"] == _expected_price(msg, "yes_bid")
        assert row["yes_ask"] == _expected_price(msg, "yes_ask")
    assert by_ticker["KXBRASILEIROGAME-25NOV29CEACRU-CRU"]["price"] is None
    assert by_ticker["KXBTC15M-26JUL191145-45"]["open_interest"] == Decimal("618700.14")


def test_orderbook_levels_and_deltas_in_every_format(tmp_path: Path, samples: list[bytes]) -> None:
    """Snapshots become one row per level (current _dollars_fp, dollar strings, legacy cents); deltas keep sign."""
    out = _export(tmp_path, samples + EXTRA)
    levels = {(r["market_ticker"], r["side"], r["price"]): r["quantity"] for r in _rows(
        f"select * from read_parquet('{out}/orderbook_snapshots/*/*.parquet')")}
    assert levels == {
        ("FED-23DEC-T3.00", "yes", Decimal("0.08")): Decimal("300"),
        ("FED-23DEC-T3.00", "yes", Decimal("0.22")): Decimal("333.5"),
        ("FED-23DEC-T3.00", "no", Decimal("0.54")): Decimal("20"),
        ("OLD-1", "yes", Decimal("0.08")): Decimal("300"),
        ("OLD-1", "no", Decimal("0.54")): Decimal("20"),
        ("MID-1", "yes", Decimal("0.09")): Decimal("12"),
    }
    deltas = {r["market_ticker"]: (r["side"], r["price"], r["delta"]) for r in _rows(
        f"select * from read_parquet('{out}/orderbook_deltas/*/*.parquet')")}
    assert deltas == {"FED-23DEC-T3.00": ("yes", Decimal("0.96"), Decimal("-54")),
                      "OLD-1": ("no", Decimal("0.96"), Decimal("-5"))}


def test_lifecycle_tables_and_control_frames_not_exported(tmp_path: Path, samples: list[bytes]) -> None:
    """Lifecycle events keep result and settlement value (dollars); control frames are counted, not exported."""
    out = _export(tmp_path, samples + EXTRA)
    rows = {r["market_ticker"]: r for r in _rows(f"select * from read_parquet('{out}/market_lifecycle/*/*.parquet')")}
    determined = rows["KXMLBSPREAD-26JUL191605WSHATH-ATH4"]
    assert (determined["event_type"], determined["result"], determined["settlement_value"]) == (
        "determined", "no", Decimal("0"))
    assert rows["KXBNB15M-26JUL191830-30"]["settled_ts"].timestamp() == 1784500206
    events = _rows(f"select * from read_parquet('{out}/event_lifecycle/*/*.parquet')")
    assert [(e["event_ticker"], e["series_ticker"], e["title"]) for e in events] == [("EV-1", "SER", "T")]


def test_partitions_are_by_utc_date_with_zstd(tmp_path: Path, samples: list[bytes]) -> None:
    """Files land in date=YYYY-MM-DD folders (the frame's UTC date) and are zstd-compressed Parquet."""
    import pyarrow.parquet as pq

    out = _export(tmp_path, samples + EXTRA)
    dates = sorted(p.name for p in (out / "trades").iterdir())
    assert dates == ["date=2022-11-22", "date=2026-02-12", "date=2026-03-12", "date=2026-07-19"]
    meta = pq.ParquetFile(next((out / "trades" / "date=2026-02-12").iterdir())).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_csv_export_has_the_same_values(tmp_path: Path, samples: list[bytes]) -> None:
    """--to csv writes the same tables as CSV; DuckDB reads back the same trade prices."""
    out = _export(tmp_path, samples + EXTRA, fmt="csv")
    rows = _rows(f"select trade_id, yes_price from read_csv('{out}/trades/*/*.csv') order by trade_id")
    assert len(rows) == 13
    assert {r["trade_id"]: Decimal(str(r["yes_price"])) for r in rows}["subpenny-1"] == Decimal("0.0125")


def test_existing_output_is_refused_and_left_alone(tmp_path: Path, samples: list[bytes]) -> None:
    """An existing non-empty OUT is an error (exit 2) unless --overwrite; nothing in it is touched."""
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", samples)])
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    runner = CliRunner()
    result = runner.invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(out)])
    assert result.exit_code == 2 and "--overwrite" in result.stderr
    assert (out / "keep.txt").read_text() == "mine"
    again = runner.invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(out), "--overwrite"])
    assert again.exit_code == 0 and not (out / "keep.txt").exists() and (out / "trades").is_dir()
    assert not list(tmp_path.glob("out.partial-*"))


def test_unreadable_source_file_leaves_nothing_written(tmp_path: Path, samples: list[bytes]) -> None:
    """A truncated source file stops the export with exit 1 naming the file; OUT and the partial dir are absent."""
    day = write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", samples[:10]), ("1215.jsonl.gz", samples[10:])])
    blob = (day / "1215.jsonl.gz").read_bytes()
    (day / "1215.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    out = tmp_path / "out"
    result = CliRunner().invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(out)])
    assert result.exit_code == 1
    assert "1215.jsonl.gz" in result.stderr and "nothing was written" in result.stderr
    assert not out.exists() and not list(tmp_path.glob("out.partial-*"))
