"""export --jobs N gives the same files as one process; envelope archives carry nats_seq; CSV has book_top too."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
from click.testing import CliRunner

from ssmd.archive._bulk import read_batches
from ssmd.archive.cli import archive_group
from ssmd.archive.problems import ArchiveError
from ssmd.kalshi.export import TABLES
from ssmd.testing import write_day

T0 = 1_770_897_600


def _frames(offset: int, count: int) -> list[bytes]:
    out = [orjson.dumps({"type": "orderbook_snapshot", "sid": 3, "seq": offset + 1, "msg": {
        "market_ticker": f"M{offset}", "yes_dollars_fp": [["0.4000", "10.00"]], "no_dollars_fp": [["0.5500", "7.00"]],
        "ts_ms": (T0 + offset) * 1000}})]
    for i in range(count):
        out.append(orjson.dumps({"type": "orderbook_delta", "sid": 3, "seq": offset + 2 + i, "msg": {
            "market_ticker": f"M{offset}", "side": "yes", "price_dollars": f"0.{10 + i % 30}00", "delta_fp": "1.00",
            "ts_ms": (T0 + offset) * 1000 + 7 * i}}))
        out.append(orjson.dumps({"type": "trade", "sid": 2, "msg": {
            "trade_id": f"{offset}-{i}", "market_ticker": f"M{offset}", "yes_price_dollars": "0.4200",
            "count_fp": "1.00", "taker_side": "no", "ts": T0 + offset + i}}))
    return out


def _contents(out: Path) -> dict[str, list[dict[str, Any]]]:
    return {str(p.relative_to(out)): pq.read_table(p).to_pylist() for p in sorted(out.rglob("*.parquet"))}


def test_jobs_give_the_same_export_as_one_process(tmp_path: Path) -> None:
    """Three archive files decoded by two worker threads: every part file equals the one-thread export, and
    book_top continues across files (it is built in file order by the calling thread)."""
    files = [(f"12{15 * k:02d}.jsonl.gz", _frames(1000 * k, 60)) for k in range(3)]
    write_day(tmp_path / "arc", "2026-02-12", files)
    runner = CliRunner()
    one = runner.invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(tmp_path / "one")])
    two = runner.invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(tmp_path / "two"),
                                        "--jobs", "2"])
    assert one.exit_code == 0 and two.exit_code == 0, (one.output, two.output)
    assert orjson.loads(one.stdout)["rows"] == orjson.loads(two.stdout)["rows"]
    assert _contents(tmp_path / "one") == _contents(tmp_path / "two")
    assert len([k for k in _contents(tmp_path / "one") if k.startswith("book_top/")]) == 3


def test_envelope_archive_keeps_nats_seq_and_csv_has_book_top(tmp_path: Path) -> None:
    frames = _frames(0, 5)
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", frames)], fmt="envelope", first_seq=500)
    runner = CliRunner()
    result = runner.invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(tmp_path / "pq")])
    assert result.exit_code == 0, result.output
    trades = pq.read_table(next((tmp_path / "pq" / "trades").rglob("*.parquet"))).to_pylist()
    assert [t["nats_seq"] for t in trades] == [502, 504, 506, 508, 510]
    book = pq.read_table(next((tmp_path / "pq" / "book_top").rglob("*.parquet"))).to_pylist()
    assert [b["nats_seq"] for b in book] == [500, 501, 503, 505, 507, 509]
    assert all(b["book_valid"] for b in book)
    as_csv = runner.invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "csv", str(tmp_path / "csv"),
                                           "--book-depth", "1"])
    assert as_csv.exit_code == 0, as_csv.output
    with next((tmp_path / "csv" / "book_top").rglob("*.csv")).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:6] == ["ts", "market_ticker", "bid_price_0", "bid_size_0", "ask_price_0", "ask_size_0"]
    # the deltas add bids below 0.40: the best bid stays; the ask is the NO bid 0.55 seen from the YES side
    assert (rows[-1]["bid_price_0"], rows[-1]["ask_price_0"], rows[-1]["ask_size_0"]) == ("0.400000", "0.450000",
                                                                                          "7.0000")


def test_bad_book_options_are_clear_errors(tmp_path: Path) -> None:
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", _frames(0, 2))])
    runner = CliRunner()
    bad = runner.invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(tmp_path / "o"),
                                        "--book-interval", "soon"])
    assert bad.exit_code == 2 and "--book-interval" in bad.stderr and "500ms" in bad.stderr
    assert not (tmp_path / "o").exists()
    zero = runner.invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(tmp_path / "o"),
                                         "--book-depth", "0"])
    assert zero.exit_code == 2 and "--book-depth" in zero.stderr
    not_archive = runner.invoke(archive_group, ["export", str(tmp_path / "nowhere"), "--to", "parquet",
                                                str(tmp_path / "o")])
    assert not_archive.exit_code == 2 and "no such file or directory" in not_archive.stderr
    assert "Traceback" not in bad.output + zero.output + not_archive.output


def test_filters_choose_frames_and_book_rows_but_not_the_book(tmp_path: Path) -> None:
    """--types/--tickers/--start/--end choose what is written, with ssmd.archive.open's rules; the books still see
    every order book frame, so a market's seq continuity is judged on the whole sid."""
    frames = _frames(0, 10) + _frames(1000, 10)  # two markets on sid 3, seqs 1..11 and 1001..1011
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", frames)])
    runner = CliRunner()
    only = runner.invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(tmp_path / "a"),
                                         "--types", "trade", "--tickers", "M1000"])
    assert only.exit_code == 0, only.output
    summary = orjson.loads(only.stdout)
    assert summary["rows"] == {"trades": 10} and summary["frames"] == 10 and summary["not_exported"] == 0
    assert not (tmp_path / "a" / "book_top").exists()
    window = runner.invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(tmp_path / "b"),
                                           "--types", "orderbook", "--tickers", "M0",
                                           "--start", "2026-02-12T12:00:00.030", "--end", "2026-02-12T12:00:00.050"])
    assert window.exit_code == 0, window.output
    deltas = pq.read_table(next((tmp_path / "b" / "orderbook_deltas").rglob("*.parquet"))).to_pylist()
    assert [d["seq"] for d in deltas] == [7, 8, 9]  # ts_ms = T0 + 7 * i for i = 5, 6, 7
    book = pq.read_table(next((tmp_path / "b" / "book_top").rglob("*.parquet"))).to_pylist()
    assert [(b["market_ticker"], b["seq"]) for b in book] == [("M0", 7), ("M0", 8), ("M0", 9)]
    # M1000's frames jump from seq 11 to 1001 on the same sid: a gap for the whole sid, counted once
    assert orjson.loads(window.stdout)["book_gaps"] == 1
    assert [b["book_valid"] for b in book] == [True, True, True]


def _batches(path: Path, prefetch: bool) -> tuple[list[Any], str | None]:
    """The batches read before the end or the error, and the error's text."""
    got: list[Any] = []
    try:
        for batch in read_batches(path, "jsonl", TABLES.msg_fields, TABLES.json_fields, batch_rows=2048,
                                  prefetch=prefetch):
            got.append(batch.frames)
    except ArchiveError as exc:
        return got, str(exc)
    return got, None


def test_prefetched_reading_gives_the_same_batches_and_the_same_damage(tmp_path: Path) -> None:
    """--jobs decodes the next batch on a thread: same batches in the same order, and a damaged file still raises
    its error (naming the file) after the batches decoded before the damage."""
    frames = _frames(0, 3000)
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", frames)])
    path = tmp_path / "arc" / "kalshi" / "2026-02-12" / "1200.jsonl.gz"
    plain, plain_error = _batches(path, prefetch=False)
    ahead, ahead_error = _batches(path, prefetch=True)
    assert plain_error is None and ahead_error is None
    assert len(plain) >= 2 and [b.to_pylist() for b in ahead] == [b.to_pylist() for b in plain]
    assert sum(b.num_rows for b in ahead) == len(frames)
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    plain, plain_error = _batches(damaged, prefetch=False)
    ahead, ahead_error = _batches(damaged, prefetch=True)
    assert plain_error is not None and str(damaged) in plain_error
    assert ahead_error == plain_error
    assert [b.to_pylist() for b in ahead] == [b.to_pylist() for b in plain]



def test_a_file_that_cannot_be_read_with_jobs_leaves_nothing(tmp_path: Path) -> None:
    """--jobs 2 with a listed file that cannot be read (a directory in its place): the problem named, exit code 1,
    and neither OUT nor its staging directory is left behind."""
    files = [(f"12{15 * k:02d}.jsonl.gz", _frames(1000 * k, 200)) for k in range(4)]
    write_day(tmp_path / "arc", "2026-02-12", files)
    broken = tmp_path / "arc" / "kalshi" / "2026-02-12" / "1215.jsonl.gz"
    broken.unlink()
    broken.mkdir()
    result = CliRunner().invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet",
                                                str(tmp_path / "out"), "--jobs", "2"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "kalshi/2026-02-12/1215.jsonl.gz: missing_file" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arc"]
