"""``ssmd archive export`` on a Polymarket archive: typed tables from every wire form the feed has sent (array
frames, the three ``price_change`` schemas, ``""`` prices), exact decimals, and ``book_top`` from sizes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from click.testing import CliRunner

from ssmd.archive.cli import archive_group
from ssmd.testing import write_day

A, B, C = "71321045679252212594626385532706912750332728571942532289631379312455583992563", "5204", "9911"
M = "0xABCDEF"
FRAMES = [
    # the subscribe dump: one array, two books (bids ascending, asks descending, as the wire has them)
    b'[{"market":"' + M.encode() + b'","asset_id":"' + A.encode() + b'","timestamp":"1757908892351","hash":"h1",'
    b'"bids":[{"price":".48","size":"30"},{"price":"0.49","size":"20.5"}],'
    b'"asks":[{"price":"0.52","size":"25"},{"price":"0.50","size":"150.000001"}],"event_type":"book"},'
    b'{"market":"' + M.encode() + b'","asset_id":"' + B.encode() + b'","timestamp":"1757908892351","hash":"h2",'
    b'"bids":[],"asks":[],"event_type":"book"}]',
    b"PONG",
    # current price_change: entries carry asset_id, best_bid/best_ask; "" best_ask is null
    b'{"market":"' + M.encode() + b'","price_changes":[{"asset_id":"' + A.encode() + b'","price":"0.5",'
    b'"size":"200","side":"BUY","hash":"x1","best_bid":"0.5","best_ask":""},{"asset_id":"' + A.encode() + b'",'
    b'"price":"0.52","size":"0","side":"SELL","hash":"x2","best_bid":"0.5","best_ask":"0.5"}],'
    b'"timestamp":"1757908892400","event_type":"price_change"}',
    # 2024-10 to 2025-09: asset_id at the top, "changes"
    b'{"asset_id":"' + C.encode() + b'","market":"0xold","changes":[{"price":"0.4","side":"SELL","size":"3.3"}],'
    b'"event_type":"price_change","timestamp":"1729000000000","hash":"old2"}',
    # before 2024-10: one level per message, fields at the top
    b'{"asset_id":"' + C.encode() + b'","market":"0xold","price":"0.35","side":"buy","size":"7",'
    b'"event_type":"price_change","timestamp":"1720000000000"}',
    b'{"market":"' + M.encode() + b'","asset_id":"' + A.encode() + b'","price":"0.5","size":"12.5","side":"BUY",'
    b'"fee_rate_bps":"0","event_type":"last_trade_price","timestamp":"1757908892500","transaction_hash":"0xt"}',
    # unreadable values: null and named in bad_fields, never rounded or guessed
    b'{"market":"' + M.encode() + b'","asset_id":"' + A.encode() + b'","price":"abc","size":"1.0000001",'
    b'"side":"SELL","event_type":"last_trade_price","timestamp":"1757908892600"}',
    b'{"market":"' + M.encode() + b'","asset_id":"' + A.encode() + b'","price":"1e30","size":"NaN",'
    b'"side":"SELL","event_type":"last_trade_price","timestamp":"1757908892650"}',
    b'{"market":"' + M.encode() + b'","asset_id":"' + A.encode() + b'","new_tick_size":"0.001",'
    b'"old_tick_size":"0.01","event_type":"tick_size_change","timestamp":"1757908892700"}',
]


def _rows(sql: str) -> list[dict[str, Any]]:
    rel = duckdb.sql(sql)
    assert rel is not None
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


@pytest.mark.parametrize("fmt", ["jsonl", "envelope"])
def test_polymarket_tables_are_the_frames_exactly(tmp_path: Path, fmt: str) -> None:
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", FRAMES)], feed="polymarket", fmt=fmt)
    out = tmp_path / "out"
    result = CliRunner().invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(out)])
    assert result.exit_code == 0, result.output

    def table(name: str, order: str) -> list[dict[str, Any]]:
        return _rows(f"select * exclude (date) from read_parquet('{out}/{name}/*/*.parquet', "
                     f"hive_partitioning=true) order by {order}")

    book = table("book", "asset_id, side, price")
    assert [(r["asset_id"], r["side"], r["price"], r["size"], r["hash"]) for r in book] == [
        (A, "ask", Decimal("0.50"), Decimal("150.000001"), "h1"), (A, "ask", Decimal("0.52"), Decimal(25), "h1"),
        (A, "bid", Decimal("0.48"), Decimal(30), "h1"), (A, "bid", Decimal("0.49"), Decimal("20.5"), "h1")]
    assert {r["market"] for r in book} == {M.lower()} and {r["bad_fields"] for r in book} == {""}
    assert int(book[0]["ts"].timestamp() * 1000) == 1757908892351
    changes = table("price_change", "ts, price")
    assert [(r["asset_id"], r["side"], r["price"], r["size"], r["best_bid"], r["best_ask"], r["hash"])
            for r in changes] == [
        (C, "bid", Decimal("0.35"), Decimal(7), None, None, None),
        (C, "ask", Decimal("0.4"), Decimal("3.3"), None, None, "old2"),
        (A, "bid", Decimal("0.5"), Decimal(200), Decimal("0.5"), None, "x1"),
        (A, "ask", Decimal("0.52"), Decimal(0), Decimal("0.5"), Decimal("0.5"), "x2")]
    trades = table("last_trade_price", "ts")
    assert [(r["price"], r["size"], r["side"], r["transaction_hash"], r["bad_fields"]) for r in trades] == [
        (Decimal("0.5"), Decimal("12.5"), "buy", "0xt", ""), (None, None, "sell", None, "price,size"),
        (None, None, "sell", None, "price,size")]
    if fmt == "envelope":
        assert [r["nats_seq"] for r in trades] == [6, 7, 8]
    # book_top per asset: A's book after its two changes (the 0.52 ask removed, a 200 bid at 0.50 added)
    top = table("book_top", "ts")
    last_a = [r for r in top if r["asset_id"] == A][-1]
    assert (last_a["bid_price_0"], last_a["bid_size_0"]) == (Decimal("0.5"), Decimal(200))
    assert (last_a["ask_price_0"], last_a["ask_size_0"]) == (Decimal("0.5"), Decimal("150.000001"))
    assert last_a["ask_price_1"] is None
    summary = orjson.loads(result.output.strip().splitlines()[-1])
    assert (summary["frames"], summary["not_exported"], summary["frames_with_bad_fields"]) == (7, 2, 2)


def test_every_element_of_a_mixed_array_is_exported_and_types_filter_elements(tmp_path: Path) -> None:
    """An array may mix event types: its frame is routed by the first element, yet each element goes to its own
    table (a file whose frames all start with a ``price_change`` still gives its trade). ``--types`` selects
    frames by their first element, as every archive tool does, and their elements by their own type."""
    mixed = (b'[{"market":"0x1","price_changes":[{"asset_id":"' + B.encode() + b'","price":"0.3","size":"5",'
             b'"side":"BUY"}],"timestamp":"1757908892400","event_type":"price_change"},'
             b'{"market":"0x1","asset_id":"' + B.encode() + b'","price":"0.31","size":"2","side":"SELL",'
             b'"event_type":"last_trade_price","timestamp":"1757908892401","transaction_hash":"0xm"}]')
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", [mixed])], feed="polymarket", fmt="envelope")
    for types, tables in ((None, {"price_change", "last_trade_price", "book_top"}),
                          ("price_change,last_trade_price", {"price_change", "last_trade_price", "book_top"}),
                          ("price_change", {"price_change", "book_top"}), ("last_trade_price", set())):
        out = tmp_path / f"out-{types}"
        argv = ["export", str(tmp_path / "arc"), "--to", "parquet", str(out)]
        result = CliRunner().invoke(archive_group, argv + (["--types", types] if types else []))
        assert result.exit_code == 0, result.output
        rows = orjson.loads(result.output.strip().splitlines()[-1])["rows"]
        assert {name for name, n in rows.items() if n} == tables, (types, rows)
        if "last_trade_price" in tables:
            assert _rows(f"select price, side, transaction_hash from read_parquet('{out}/last_trade_price/*/*')") \
                == [{"price": Decimal("0.31"), "side": "sell", "transaction_hash": "0xm"}]
