"""ArchiveWriter: durable batches, aligned rotation, never-truncated names, crash recovery, merged manifests."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest
from archiver_helpers import frame

from ssmd.archive_format.writer import ArchiveWriter, Record, window
from ssmd.kalshi import frames as kalshi_frames
from ssmd.testing import fill_disk, gunzip

T1207 = dt.datetime(2026, 11, 25, 12, 7, tzinfo=dt.UTC).timestamp()


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def records(first: int, last: int) -> list[Record]:
    return [Record(frame(i), i, f"prod.kalshi.json.ticker.T{i % 7}", 1_000 + i) for i in range(first, last + 1)]


def day_dir(root: Path, day: str = "2026-11-25") -> Path:
    return root / "kalshi" / day


def manifest(root: Path, day: str = "2026-11-25") -> dict:  # type: ignore[type-arg]
    return json.loads((day_dir(root, day) / "manifest.json").read_text())


def make(root: Path, clock: Clock, interval: int = 900, fmt: str = "jsonl") -> ArchiveWriter:
    return ArchiveWriter(root, "kalshi", interval, "15m", fmt, clock=clock, facts=kalshi_frames)  # type: ignore[arg-type]


async def test_lines_are_payloads_byte_for_byte(tmp_path: Path) -> None:
    """jsonl format: each line is the payload exactly, in sequence order."""
    w = make(tmp_path, Clock(T1207))
    await w.write_batch(records(1, 50))
    await w.write_batch(records(51, 60))
    await w.close()
    assert gunzip(day_dir(tmp_path) / "1200.jsonl.gz") == b"".join(frame(i) + b"\n" for i in range(1, 61))


async def test_envelope_format_carries_nats_metadata(tmp_path: Path) -> None:
    """envelope format: subject, seq, received_ns and the raw frame; non-JSON payloads kept as base64."""
    w = make(tmp_path, Clock(T1207), fmt="envelope")
    await w.write_batch([Record(b'{"type":"trade","x":1.50}', 7, "p.k.json.trade.T", 99),
                         Record(b"\xffnot json", 8, "p.k.json.unparsed._", 100)])
    await w.close()
    lines = gunzip(day_dir(tmp_path) / "1200.jsonl.gz").splitlines()
    assert lines[0] == b'{"subject":"p.k.json.trade.T","seq":7,"received_ns":99,"data":{"type":"trade","x":1.50}}'
    assert json.loads(lines[1]) == {"subject": "p.k.json.unparsed._", "seq": 8, "received_ns": 100,
                                    "data_b64": "/25vdCBqc29u"}


async def test_rotation_follows_aligned_wall_clock_windows(tmp_path: Path) -> None:
    """15m windows start at :00/:15/...; a file opened at 12:07 is 1200 and the next batch after 12:15 is 1215."""
    clock = Clock(T1207)
    w = make(tmp_path, clock)
    await w.write_batch(records(1, 3))
    clock.now += 8 * 60 + 1  # 12:15:01
    await w.write_batch(records(4, 5))
    await w.close()
    files = manifest(tmp_path)["files"]
    assert [(f["name"], f["nats_start_seq"], f["nats_end_seq"]) for f in files] == [
        ("1200.jsonl.gz", 1, 3), ("1215.jsonl.gz", 4, 5)]
    assert files[0]["end"] == "2026-11-25T12:15:00Z"


async def test_rotation_happens_without_new_messages(tmp_path: Path) -> None:
    """rotate_if_due closes the file at the window end even when nothing more arrives."""
    clock = Clock(T1207)
    w = make(tmp_path, clock)
    await w.write_batch(records(1, 3))
    assert not await w.rotate_if_due()
    clock.now += 9 * 60
    assert await w.rotate_if_due()
    assert (day_dir(tmp_path) / "1200.jsonl.gz").exists()
    assert not list(day_dir(tmp_path).glob("*.tmp"))
    assert [f["name"] for f in manifest(tmp_path)["files"]] == ["1200.jsonl.gz"]


async def test_date_change_closes_the_day(tmp_path: Path) -> None:
    """A 1d file opened at 23:59 closes at midnight; the next day's data goes to the next day's folder."""
    clock = Clock(dt.datetime(2026, 11, 25, 23, 59, tzinfo=dt.UTC).timestamp())
    w = ArchiveWriter(tmp_path, "kalshi", 86400, "1d", clock=clock, facts=kalshi_frames)
    await w.write_batch(records(1, 2))
    clock.now += 120
    await w.write_batch(records(3, 4))
    await w.close()
    assert [f["name"] for f in manifest(tmp_path)["files"]] == ["0000.jsonl.gz"]
    assert manifest(tmp_path)["files"][0]["end"] == "2026-11-26T00:00:00Z"
    assert manifest(tmp_path, "2026-11-26")["files"][0]["nats_start_seq"] == 3


def test_windows_never_cross_midnight() -> None:
    """Intervals that do not divide a day are aligned from midnight and cut at midnight."""
    day, start, end = window(dt.datetime(2026, 11, 25, 23, 58, tzinfo=dt.UTC).timestamp(), 7 * 60)
    assert (day, f"{start:%H%M}") == ("2026-11-25", "2355")
    assert end == dt.datetime(2026, 11, 26, tzinfo=dt.UTC).timestamp()


async def test_existing_name_is_never_truncated(tmp_path: Path) -> None:
    """A file already named 1200.jsonl.gz is left alone; the new one gets a suffix."""
    folder = day_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "1200.jsonl.gz").write_bytes(gzip.compress(b"precious\n"))
    w = make(tmp_path, Clock(T1207))
    await w.write_batch(records(1, 2))
    await w.close()
    assert gunzip(folder / "1200.jsonl.gz") == b"precious\n"
    assert gunzip(folder / "1200_1.jsonl.gz").count(b"\n") == 2


async def test_restart_same_day_lists_every_file(tmp_path: Path) -> None:
    """Three runs in one window: the manifest merges, listing 1200, 1200_1, 1200_2 (never overwritten)."""
    for run in range(3):
        w = make(tmp_path, Clock(T1207 + run))
        await w.write_batch(records(run * 10 + 1, run * 10 + 10))
        await w.close()
    names = [f["name"] for f in manifest(tmp_path)["files"]]
    assert names == ["1200.jsonl.gz", "1200_1.jsonl.gz", "1200_2.jsonl.gz"]


async def test_manifest_fields(tmp_path: Path) -> None:
    """Every manifest field: counts, bytes, sha256 of the file on disk, sequences, types, timestamps, sets."""
    clock = Clock(T1207)
    w = make(tmp_path, clock)
    batch = [*records(1, 3), Record(frame(4, "trade"), 4, "x.trade", 0), Record(b"garbage", 5, "x.unparsed", 0)]
    await w.write_batch(batch)
    await w.record_gap(5, 3)
    clock.now += 60
    await w.close()
    m = manifest(tmp_path)
    path = day_dir(tmp_path) / "1200.jsonl.gz"
    content = gunzip(path)
    assert {k: m[k] for k in ("version", "feed", "date", "format", "rotation_interval", "has_gaps")} == {
        "version": 1, "feed": "kalshi", "date": "2026-11-25", "format": "jsonl", "rotation_interval": "15m",
        "has_gaps": True}
    assert m["files"] == [{
        "name": "1200.jsonl.gz",
        "start": "2026-11-25T12:07:00Z",
        "end": "2026-11-25T12:08:00Z",
        "records": 5,
        "bytes": len(content),
        "compressed_bytes": path.stat().st_size,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "nats_start_seq": 1,
        "nats_end_seq": 5,
        "records_by_type": {"ticker": 3, "trade": 1, "unparsed": 1},
        "first_ts_ms": (1764072000 + 1) * 1000,
        "last_ts_ms": (1764072000 + 4) * 1000,
    }]
    assert m["gaps"] == [{"after_seq": 5, "missing_count": 3, "detected_at": "2026-11-25T12:07:00Z"}]
    assert m["tickers"] == ["KX-T1.5", "KX-T2.5", "KX-T3.5", "KX-T4.5"]
    assert m["message_types"] == ["ticker", "trade", "unparsed"]


async def test_recovery_cuts_a_torn_tail_and_keeps_durable_batches(tmp_path: Path) -> None:
    """After a crash mid-write, open() keeps every complete batch, drops the torn one, and reports its seq."""
    w = make(tmp_path, Clock(T1207))
    await w.write_batch(records(1, 10))
    await w.write_batch(records(11, 20))
    tmp = day_dir(tmp_path) / "1200.jsonl.gz.tmp"
    whole = tmp.read_bytes()
    with tmp.open("ab") as fh:  # a third batch, half written when the process died
        fh.write(whole[: len(whole) // 3])
    w2 = make(tmp_path, Clock(T1207 + 30))
    assert await w2.open() == 20
    assert not tmp.exists()
    assert gunzip(day_dir(tmp_path) / "1200.jsonl.gz") == b"".join(frame(i) + b"\n" for i in range(1, 21))
    assert manifest(tmp_path)["files"][0]["records"] == 20


async def test_recovery_removes_a_file_without_durable_data(tmp_path: Path) -> None:
    """A .tmp holding only a torn first batch had nothing acknowledged: it is removed, not published."""
    folder = day_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "1200.jsonl.gz.tmp").write_bytes(b"\x1f\x8b\x08\x04")
    assert await make(tmp_path, Clock(T1207)).open() == 0
    assert list(folder.iterdir()) == []


async def test_redelivered_records_are_written_once(tmp_path: Path) -> None:
    """Records with seq <= the last durable seq (redeliveries after a restart) are skipped."""
    w = make(tmp_path, Clock(T1207))
    await w.write_batch(records(1, 10))
    w2 = make(tmp_path, Clock(T1207 + 1))
    await w2.open()
    await w2.write_batch(records(5, 15))
    await w2.close()
    lines = b"".join(gunzip(p) for p in sorted(day_dir(tmp_path).glob("*.gz")))
    assert lines == b"".join(frame(i) + b"\n" for i in range(1, 16))


async def test_recovery_lists_a_file_renamed_but_missing_from_the_manifest(tmp_path: Path) -> None:
    """A crash between rename and manifest update: the next open() adds the file with its stats."""
    w = make(tmp_path, Clock(T1207))
    await w.write_batch(records(1, 4))
    folder = day_dir(tmp_path)
    (folder / "1200.jsonl.gz.tmp").rename(folder / "1200.jsonl.gz")
    assert await make(tmp_path, Clock(T1207 + 5)).open() == 4
    entry = manifest(tmp_path)["files"][0]
    assert (entry["name"], entry["records"], entry["nats_end_seq"]) == ("1200.jsonl.gz", 4, 4)


async def test_recovery_after_crash_between_link_and_unlink(tmp_path: Path) -> None:
    """Both names pointing at one file (crash inside the no-overwrite rename) resolve to the final name."""
    w = make(tmp_path, Clock(T1207))
    await w.write_batch(records(1, 4))
    folder = day_dir(tmp_path)
    os.link(folder / "1200.jsonl.gz.tmp", folder / "1200.jsonl.gz")
    assert await make(tmp_path, Clock(T1207 + 5)).open() == 4
    assert sorted(p.name for p in folder.iterdir()) == ["1200.jsonl.gz", "manifest.json"]



async def test_disk_full_raises_and_leaves_no_partial_batch(tiny_fs: Path) -> None:
    """ENOSPC: write_batch raises, the file keeps only whole batches, and the same batch succeeds later."""
    w = ArchiveWriter(tiny_fs, "kalshi", 900, "15m", clock=Clock(T1207), level=0, facts=kalshi_frames)
    await w.write_batch(records(1, 10))
    filler = tiny_fs / "filler"
    fill_disk(filler)
    big = [Record(os.urandom(300).hex().encode(), i, "s", 0) for i in range(11, 2011)]
    with pytest.raises(OSError):
        await w.write_batch(big)
    assert w.last_seq == 10
    filler.unlink()
    await w.write_batch(big)
    await w.close()
    lines = gunzip(day_dir(tiny_fs) / "1200.jsonl.gz").splitlines()
    assert lines == [frame(i) for i in range(1, 11)] + [r.payload for r in big]


async def test_recovery_removes_a_manifest_temp_left_by_a_kill(tmp_path: Path) -> None:
    """A kill during a manifest write leaves ``.manifest.json.tmp`` (the manifest itself is intact): open()
    removes it, so no tool takes it for a file being written."""
    w = make(tmp_path, Clock(T1207))
    await w.write_batch(records(1, 4))
    await w.close()
    before = (day_dir(tmp_path) / "manifest.json").read_bytes()
    (day_dir(tmp_path) / ".manifest.json.tmp").write_bytes(before[:7])
    assert await make(tmp_path, Clock(T1207 + 5)).open() == 4
    assert sorted(p.name for p in day_dir(tmp_path).iterdir()) == ["1200.jsonl.gz", "manifest.json"]
    assert (day_dir(tmp_path) / "manifest.json").read_bytes() == before
