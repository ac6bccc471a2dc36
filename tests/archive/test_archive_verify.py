"""ssmd archive verify: a clean archive passes; every kind of damage is named and fails the run."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
from _archive_factory import ticker, trade
from click.testing import CliRunner

from ssmd.archive.cli import archive_group
from ssmd.archive.verify import verify
from ssmd.testing import gz, write_day

T0 = 1_770_897_976


def _archive(root: Path, samples: list[bytes]) -> Path:
    write_day(root, "2026-02-11", [("2300.jsonl.gz", samples[20:])])
    return write_day(root, "2026-02-12", [("1200.jsonl.gz", samples[:10]), ("1215.jsonl.gz", samples[10:20])])


def _kinds(root: Path) -> dict[str, int]:
    return verify(root, now=time.time(), show_progress=False).totals()


def test_clean_archive_passes_with_exit_0(tmp_path: Path, samples: list[bytes]) -> None:
    """An untouched archive verifies OK as a real process; every record is counted."""
    _archive(tmp_path, samples)
    proc = subprocess.run([sys.executable, "-m", "ssmd", "archive", "verify", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"OK: 2 day(s), 3 file(s), {len(samples)} records" in proc.stdout


def test_truncated_gzip_is_caught(tmp_path: Path, samples: list[bytes]) -> None:
    """A file cut short is reported as bad_gzip."""
    day = _archive(tmp_path, samples)
    blob = (day / "1200.jsonl.gz").read_bytes()
    (day / "1200.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    assert _kinds(tmp_path)["problems_bad_gzip"] == 1


def test_edited_line_is_caught_by_sha256(tmp_path: Path, samples: list[bytes]) -> None:
    """A valid gzip whose content was edited (same record count) fails the sha256 check."""
    day = _archive(tmp_path, samples)
    body = gzip.decompress((day / "1215.jsonl.gz").read_bytes()).replace(b'"yes_price":57', b'"yes_price":58')
    (day / "1215.jsonl.gz").write_bytes(gz(body))
    totals = _kinds(tmp_path)
    assert totals["problems_sha256_mismatch"] == 1
    assert "problems_records_mismatch" not in totals


def test_missing_file_is_caught(tmp_path: Path, samples: list[bytes]) -> None:
    """A file listed in the manifest but gone from disk is reported as missing_file."""
    day = _archive(tmp_path, samples)
    (day / "1215.jsonl.gz").unlink()
    assert _kinds(tmp_path)["problems_missing_file"] == 1


def test_wrong_record_count_is_caught(tmp_path: Path, samples: list[bytes]) -> None:
    """A manifest whose record count disagrees with the file is reported as records_mismatch."""
    day = _archive(tmp_path, samples)
    manifest = orjson.loads((day / "manifest.json").read_bytes())
    manifest["files"][0]["records"] += 1
    (day / "manifest.json").write_bytes(orjson.dumps(manifest))
    assert _kinds(tmp_path)["problems_records_mismatch"] == 1


def test_duplicate_trade_id_across_days_is_caught(tmp_path: Path) -> None:
    """The same trade_id twice (different sid/seq, as after a reconnect) is a duplicate_trade, even across days."""
    write_day(tmp_path, "2026-02-11", [("2345.jsonl.gz", [trade("A", T0, seq=1), trade("B", T0, seq=2)])])
    write_day(tmp_path, "2026-02-12", [("0000.jsonl.gz", [trade("C", T0, seq=3), trade("A", T0, seq=7)])])
    report = verify(tmp_path, show_progress=False)
    assert report.totals()["problems_duplicate_trade"] == 1
    assert "trade_id A" in report.days[1].problems[0].detail


def _backfilled(trade_id: str) -> bytes:
    """The REST backfill's copy of a trade (:func:`ssmd.kalshi.backfill`'s shape: no sid/seq, an origin marker)."""
    frame = orjson.loads(trade(trade_id, T0))
    del frame["sid"], frame["seq"]
    frame["ssmd_backfill"] = {"source": "rest", "endpoint": "/markets/trades", "instance": "conn-a"}
    return orjson.dumps(frame)


def test_a_backfilled_copy_of_a_live_trade_is_not_a_duplicate_but_two_backfilled_copies_are(tmp_path: Path) -> None:
    """The backfill fetches its outage window plus a margin, so it may deliver a trade the WebSocket delivered
    too (by design: the merged view keys trades on trade_id). That overlap is redundancy, not a problem; the same
    trade backfilled twice, or sent twice on the WebSocket, still is a duplicate_trade."""
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", [trade("A", T0, seq=1), _backfilled("A"), _backfilled("B"),
                                                           trade("B", T0, seq=2)])])
    assert _kinds(tmp_path).get("problems_duplicate_trade", 0) == 0
    write_day(tmp_path, "2026-02-13", [("1200.jsonl.gz", [_backfilled("C"), _backfilled("C"),
                                                           trade("D", T0, seq=3), trade("D", T0, seq=4)])])
    assert _kinds(tmp_path)["problems_duplicate_trade"] == 2


def test_identical_sequenced_frame_is_a_duplicate_but_a_reused_seq_is_not(tmp_path: Path) -> None:
    """Same sid+seq with identical content is a duplicate_frame; same sid+seq with other content (new connection)
    is normal."""
    delta = (b'{"type":"orderbook_delta","sid":3,"seq":9,'
             b'"msg":{"market_ticker":"M","price_dollars":"0.5","delta_fp":"1"}}')
    other = delta.replace(b'"delta_fp":"1"', b'"delta_fp":"2"')
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", [delta, other, delta])])
    assert _kinds(tmp_path)["problems_duplicate_frame"] == 1


def test_identical_snapshot_after_a_reconnect_is_not_a_duplicate(tmp_path: Path) -> None:
    """After a reconnect seqs restart at 1, and an unchanged book gives a snapshot identical to the previous
    connection's (same sid, same seq): that is a new subscription's frame, not a duplicate. Repeating it within the
    same subscription still is."""
    snap = (b'{"type":"orderbook_snapshot","sid":4,"seq":%d,'
            b'"msg":{"market_ticker":"M%d","yes_dollars_fp":[["0.4000","10.00"]]}}')
    first = [snap % (1, 1), snap % (2, 2)]
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", [*first, *first])])
    assert _kinds(tmp_path).get("problems_duplicate_frame", 0) == 0
    write_day(tmp_path / "again", "2026-02-12", [("1200.jsonl.gz", [*first, snap % (2, 2)])])
    assert _kinds(tmp_path / "again")["problems_duplicate_frame"] == 1


def test_stray_tmp_is_caught_but_the_open_file_is_not(tmp_path: Path, samples: list[bytes]) -> None:
    """An old .tmp is an orphan_tmp problem; the newest day's one fresh .tmp is the archiver's open file."""
    day = _archive(tmp_path, samples)
    (day / "1230.jsonl.gz.tmp").write_bytes(b"being written")
    report = verify(tmp_path, show_progress=False)
    assert report.ok and report.days[1].open_files == ["1230.jsonl.gz.tmp"]
    stray = tmp_path / "kalshi" / "2026-02-11" / "2315.jsonl.gz.tmp"
    stray.write_bytes(b"left behind")
    old = time.time() - 7200
    os.utime(stray, (old, old))
    assert _kinds(tmp_path)["problems_orphan_tmp"] == 1


def test_unlisted_file_and_recorded_gap_are_problems(tmp_path: Path, samples: list[bytes]) -> None:
    """A closed file the manifest does not list, and a gap the archiver recorded, both fail verification."""
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", samples[:3])],
              gaps=[{"after_seq": 2, "missing_count": 5, "detected_at": "2026-02-12T12:01:00Z"}])
    (tmp_path / "kalshi" / "2026-02-12" / "1215.jsonl.gz").write_bytes(gz(samples[3] + b"\n"))
    report = verify(tmp_path, show_progress=False)
    totals = report.totals()
    assert totals["problems_unlisted_file"] == 1 and totals["problems_gap"] == 1
    assert report.days[0].missing_messages == 5


def test_envelope_stream_seq_written_twice_is_caught(tmp_path: Path, samples: list[bytes]) -> None:
    """In envelope files a stream seq that does not increase (a message written twice) is seq_order."""
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", samples[:3])], fmt="envelope", first_seq=10)
    write_day(tmp_path / "second", "2026-02-12", [("1215.jsonl.gz", [samples[3]])], fmt="envelope", first_seq=12)
    src = tmp_path / "second" / "kalshi" / "2026-02-12" / "1215.jsonl.gz"
    day = tmp_path / "kalshi" / "2026-02-12"
    src.rename(day / "1215.jsonl.gz")
    manifest = orjson.loads((day / "manifest.json").read_bytes())
    extra = orjson.loads((tmp_path / "second" / "kalshi" / "2026-02-12" / "manifest.json").read_bytes())
    manifest["files"] += extra["files"]
    (day / "manifest.json").write_bytes(orjson.dumps(manifest))
    assert _kinds(tmp_path)["problems_seq_order"] == 1


def test_json_report_and_exit_code_1(tmp_path: Path, samples: list[bytes]) -> None:
    """--json prints a machine-readable report with ok=false and the command exits 1 on a problem."""
    day = _archive(tmp_path, samples)
    (day / "1215.jsonl.gz").unlink()
    result = CliRunner().invoke(archive_group, ["verify", str(tmp_path), "--json"])
    assert result.exit_code == 1
    report = orjson.loads(result.stdout)
    assert report["ok"] is False
    assert report["days"][1]["problems"][0]["kind"] == "missing_file"
    assert report["totals"]["files"] == 2


def test_date_option_limits_to_one_day(tmp_path: Path, samples: list[bytes]) -> None:
    """--date checks only that day; an unknown day is a usage error (exit 2)."""
    day = _archive(tmp_path, samples)
    (day / "1215.jsonl.gz").unlink()
    runner = CliRunner()
    assert runner.invoke(archive_group, ["verify", str(tmp_path), "--date", "2026-02-11"]).exit_code == 0
    bad = runner.invoke(archive_group, ["verify", str(tmp_path), "--date", "2026-03-01"])
    assert bad.exit_code == 2 and "no day 2026-03-01" in bad.stderr


def test_ticker_frames_without_seq_are_not_duplicates(tmp_path: Path) -> None:
    """Ticker frames carry no seq; identical ones (a quiet market) are not reported."""
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", [ticker(T0), ticker(T0)])])
    assert verify(tmp_path, show_progress=False).ok
