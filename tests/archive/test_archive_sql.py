"""ssmd archive sql: every recipe in docs/archive-tools.md runs against a real export and gives the answer worked
out here by hand, so the docs cannot rot."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from ssmd.archive.cli import archive_group
from ssmd.testing import write_day

DOCS = Path(__file__).resolve().parents[2] / "docs" / "archive-tools.md"
M = "KXBTCD-26FEB1217-T67749.99"
T0 = 1_770_897_600  # 2026-02-12T12:00:00Z


def _trade(tid: str, market: str, at_s: int, price: str, count: str, side: str) -> dict[str, Any]:
    return {"type": "trade", "sid": 2, "msg": {"trade_id": tid, "market_ticker": market, "yes_price_dollars": price,
                                               "count_fp": count, "taker_side": side, "ts_ms": at_s * 1000}}


FRAMES = [
    {"type": "orderbook_snapshot", "sid": 3, "seq": 1, "msg": {
        "market_ticker": M, "yes_dollars_fp": [["0.4000", "10.00"], ["0.3900", "4.00"]],
        "no_dollars_fp": [["0.5500", "7.00"]], "ts_ms": T0 * 1000}},
    _trade("t1", M, T0 + 5, "0.4000", "10.00", "yes"),
    {"type": "orderbook_delta", "sid": 3, "seq": 2, "msg": {"market_ticker": M, "side": "yes", "price_dollars":
                                                            "0.4100", "delta_fp": "2.00", "ts_ms": T0 * 1000 + 10_000}},
    _trade("t2", M, T0 + 30, "0.4200", "30.00", "yes"),
    _trade("t3", "KXETHD-26FEB1217-T1819.99", T0 + 40, "0.1000", "1.00", "no"),
    {"type": "orderbook_delta", "sid": 3, "seq": 3, "msg": {"market_ticker": M, "side": "no", "price_dollars": "0.5500",
                                                            "delta_fp": "-7.00", "ts_ms": T0 * 1000 + 50_000}},
    _trade("t4", M, T0 + 65, "0.4200", "5.00", "no"),
    {"type": "orderbook_delta", "sid": 3, "seq": 4, "msg": {"market_ticker": M, "side": "no", "price_dollars":
                                                            "0.5700", "delta_fp": "3.00", "ts_ms": T0 * 1000 + 70_000}},
    {"type": "market_lifecycle_v2", "sid": 1, "seq": 9, "msg": {"market_ticker": M, "event_type": "determined",
                                                                "result": "yes", "settlement_value": "1.0000",
                                                                "determination_ts": T0 + 300}},
    _trade("t5", M, T0 + 1200, "0.9900", "1.00", "yes"),
]


def _recipes() -> dict[str, str]:
    text = DOCS.read_text()
    section = text[text.index("## `ssmd archive sql"):]
    section = section[:section.index("\n## ", 1)]
    found = re.findall(r"^### (.+?)\n\n```sql\n(.*?)```", section, flags=re.S | re.M)
    return {title.strip(): query.strip() for title, query in found}


def _iso(seconds: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def _check_vwap(rows: list[dict[str, Any]]) -> None:
    got = [(r["market_ticker"], r["minute"], round(Decimal(str(r["vwap"])), 9), Decimal(r["contracts"]))
           for r in rows]
    assert got == [
        (M, _iso(T0), Decimal("0.415"), Decimal(40)),  # (0.40 * 10 + 0.42 * 30) / 40
        (M, _iso(T0 + 60), Decimal("0.42"), Decimal(5)),
        (M, _iso(T0 + 1200), Decimal("0.99"), Decimal(1)),
        ("KXETHD-26FEB1217-T1819.99", _iso(T0), Decimal("0.1"), Decimal(1)),
    ]


def _check_spread(rows: list[dict[str, Any]]) -> None:
    got = [(r["ts"], r["bid"] and Decimal(r["bid"]), r["ask"] and Decimal(r["ask"]),
            r["spread"] and Decimal(r["spread"])) for r in rows]
    assert got == [
        (_iso(T0), Decimal("0.40"), Decimal("0.45"), Decimal("0.05")),
        (_iso(T0 + 10), Decimal("0.41"), Decimal("0.45"), Decimal("0.04")),
        (_iso(T0 + 50), Decimal("0.41"), None, None),  # the only ask was taken away
        (_iso(T0 + 70), Decimal("0.41"), Decimal("0.43"), Decimal("0.02")),
    ]


def _check_lifecycle(rows: list[dict[str, Any]]) -> None:
    got = [(r["market_ticker"], r["result"], Decimal(r["yes_price"]), Decimal(r["count"]), r["taker_side"])
           for r in rows]
    assert got == [(M, "yes", Decimal("0.40"), Decimal(10), "yes"), (M, "yes", Decimal("0.42"), Decimal(30), "yes"),
                   (M, "yes", Decimal("0.42"), Decimal(5), "no")]  # t5 is 15 minutes after: outside the window
    assert str(rows[0]["after_event"]).startswith("-")  # DuckDB prints intervals as text


def _check_imbalance(rows: list[dict[str, Any]]) -> None:
    got = [(r["ts"], Decimal(r["bid_size_0"]), Decimal(r["ask_size_0"]), round(Decimal(str(r["imbalance"])), 9))
           for r in rows]
    assert got == [
        (_iso(T0), Decimal(10), Decimal(7), round(Decimal(3) / 17, 9)),
        (_iso(T0 + 10), Decimal(2), Decimal(7), round(Decimal(-5) / 9, 9)),
        (_iso(T0 + 70), Decimal(2), Decimal(3), round(Decimal(-1) / 5, 9)),
    ]


def _check_fills(rows: list[dict[str, Any]]) -> None:
    got = [(Decimal(r["yes_price"]), r["taker_side"], r["trades"], Decimal(r["contracts"])) for r in rows]
    assert got == [(Decimal("0.40"), "yes", 1, Decimal(10)), (Decimal("0.42"), "no", 1, Decimal(5)),
                   (Decimal("0.42"), "yes", 1, Decimal(30)), (Decimal("0.99"), "yes", 1, Decimal(1))]


CHECKS = {"VWAP per minute": _check_vwap, "Spread over time": _check_spread,
          "Trades around a lifecycle event": _check_lifecycle, "Book imbalance": _check_imbalance,
          "Fills at a price level": _check_fills}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sql")
    write_day(root / "arc", "2026-02-12", [("1200.jsonl.gz", [orjson.dumps(f) for f in FRAMES])])
    result = CliRunner().invoke(archive_group, ["export", str(root / "arc"), "--to", "parquet", str(root / "out")])
    assert result.exit_code == 0, result.output
    return root / "out"


def test_the_docs_have_the_five_recipes() -> None:
    assert sorted(_recipes()) == sorted(CHECKS)


@pytest.mark.parametrize("title", sorted(CHECKS))
def test_recipe_runs_against_a_real_export(export: Path, title: str) -> None:
    result = CliRunner().invoke(archive_group, ["sql", str(export), _recipes()[title], "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    CHECKS[title](rows)


def test_table_and_csv_output(export: Path) -> None:
    query = "SELECT market_ticker, sum(count) AS contracts FROM trades GROUP BY ALL ORDER BY 1"
    table = CliRunner().invoke(archive_group, ["sql", str(export), query])
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["market_ticker", "contracts"]
    assert lines[1].split() == ["KXBTCD-26FEB1217-T67749.99", "46.0000"]
    as_csv = CliRunner().invoke(archive_group, ["sql", str(export), query, "--format", "csv"])
    assert as_csv.stdout.splitlines() == ["market_ticker,contracts", f"{M},46.0000", "KXETHD-26FEB1217-T1819.99,1.0000"]


def test_bad_query_and_missing_export_are_clear_errors(export: Path, tmp_path: Path) -> None:
    bad = CliRunner().invoke(archive_group, ["sql", str(export), "SELECT nope FROM trades"])
    assert bad.exit_code == 2 and "query failed" in bad.stderr and "book_top" in bad.stderr
    assert "Traceback" not in bad.output
    missing = CliRunner().invoke(archive_group, ["sql", str(tmp_path / "none"), "SELECT 1"])
    assert missing.exit_code == 2 and "no such export directory" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = CliRunner().invoke(archive_group, ["sql", str(tmp_path / "empty"), "SELECT 1"])
    assert empty.exit_code == 2 and "not an export" in empty.stderr
