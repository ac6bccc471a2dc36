"""``ssmd archive verify``: prove an archive is complete and unaltered, or say exactly what is wrong.

Every closed file is checked against its manifest entry (present, valid gzip, sha256, sizes, record count),
every file on disk must be in the manifest, recorded stream gaps are reported, a stray ``.tmp`` is flagged,
and duplicates are found across the whole run: trades by ``trade_id``; other sequenced frames by identical
content (which includes identical ``sid`` and ``seq``) within one subscription (a ``seq`` of 1 starts a new one:
Kalshi restarts seqs on every connection). Duplicate detection keeps a 64-bit hash per frame,
so memory grows with the number of frames verified (~60 MB per million). Gzip, line and manifest-listing problems
are classified by the code every reader uses (:class:`ssmd.archive_format.lines.FileLines`, ``Day.listing``), so a
reader and verify name the same damage alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ssmd.archive._head import decode_head
from ssmd.archive._progress import Progress
from ssmd.archive.problems import MANIFEST_INVALID, MAX_DETAILS, Problem, compare
from ssmd.archive_format.days import ArchiveError, Day, find_days
from ssmd.archive_format.layout import parse_day
from ssmd.archive_format.lines import FileLines
from ssmd.archive_format.manifest import FileEntry, Manifest
from ssmd.config.duration import parse_duration
from ssmd.coverage.collect import EventCollector
from ssmd.coverage.ledger import CoverageReport

__all__ = ["DayResult", "Problem", "VerifyReport", "verify"]


@dataclass
class DayResult:
    feed: str
    date: str
    path: str
    files: int = 0
    records: int = 0
    bytes: int = 0
    gaps: int = 0
    missing_messages: int = 0
    open_files: list[str] = field(default_factory=list)
    problem_counts: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def add(self, kind: str, where: str, detail: str) -> None:
        count = self.problem_counts.get(kind, 0)
        self.problem_counts[kind] = count + 1
        if count < MAX_DETAILS:
            self.problems.append(Problem(kind, where, detail))

    @property
    def ok(self) -> bool:
        return not self.problem_counts


@dataclass
class VerifyReport:
    days: list[DayResult]
    coverage: CoverageReport | None = None
    """From the archive's coverage events (``None`` without any); its gaps are reported, not problems."""

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.days)

    def totals(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for day in self.days:
            counts.update(day.problem_counts)
        return {
            "days": len(self.days),
            "files": sum(d.files for d in self.days),
            "records": sum(d.records for d in self.days),
            "bytes": sum(d.bytes for d in self.days),
            "problems": sum(counts.values()),
            **{f"problems_{k}": v for k, v in sorted(counts.items())},
        }

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "totals": self.totals(), "days": [asdict(d) for d in self.days],
                "coverage": self.coverage.to_json() if self.coverage is not None else None}


class _Seen:
    """Identities seen so far in this run (64-bit hashes: a false duplicate needs a 2^-64 collision)."""

    def __init__(self) -> None:
        self.trade_ids: set[int] = set()
        self.frames: set[int] = set()
        # A subscription's seq starts at 1 and restarts on every reconnect; an unchanged book then yields a
        # snapshot identical to the previous connection's. Frames are compared within one subscription only.
        self.subscriptions: dict[int | None, int] = {}
        self.coverage = EventCollector()


def verify(
    path: str | Path,
    date: str | None = None,
    feed: str | None = None,
    now: float | None = None,
    show_progress: bool = True,
) -> VerifyReport:
    """Check everything under ``path`` (root, feed, day or file); ``date`` limits to one ``YYYY-MM-DD`` day."""
    days = find_days(path, feed)
    if date is not None:
        if parse_day(date) is None:
            raise ArchiveError(f"--date {date!r}: expected YYYY-MM-DD")
        days = [d for d in days if d.path.name == date]
        if not days:
            raise ArchiveError(f"{path}: no day {date} in this archive")
    newest = {d.feed: d.path.name for d in days}
    seen = _Seen()
    total = sum(len(d.data_files()) for d in days)
    progress = Progress("verify", total=total, unit="files") if show_progress else None
    results = [_verify_day(day, seen, newest[day.feed] == day.path.name, now or time.time(), progress)
               for day in days]
    report = VerifyReport(results, seen.coverage.report() if seen.coverage.events else None)
    if progress:
        t = report.totals()
        progress.finish(f"{t['files']} files, {t['records']:,} records, {t['problems']} problems")
    return report


def _verify_day(day: Day, seen: _Seen, newest: bool, now: float, progress: Progress | None) -> DayResult:
    result = DayResult(feed=day.feed, date=day.path.name, path=str(day.path))
    manifest, entries = day.listing(result.add)
    if manifest is None and MANIFEST_INVALID not in result.problem_counts and day.only is None:
        result.add("manifest_missing", day.label, "no manifest.json: files cannot be checked against it")
    fmt = manifest.line_format if manifest is not None else "jsonl"
    last_seq: int | None = None
    for name, file in day.files(entries):
        if file is None:
            day.missing(name, result.add)
            continue
        if manifest is not None and name not in entries:
            result.add("unlisted_file", day.where(name), "file on disk is not in manifest.json")
        last_seq = _verify_file(file, entries.get(name), fmt, seen, result, day.where(name), last_seq)
        result.files += 1
        if progress:
            progress.advance(note=day.where(name))
    for gap in manifest.gaps if manifest is not None else []:
        result.gaps += 1
        missing = gap.get("missing_count")
        result.missing_messages += missing if isinstance(missing, int) else 0
        after = gap.get("after_seq")
        lost = (f"frames dropped by the connector (its buffer was full) after stream seq {after}"
                if gap.get("cause") == "connector_buffer_full" else f"stream messages lost after seq {after}")
        result.add("gap", day.label, f"{missing} {lost} (detected {gap.get('detected_at')})")
    _check_tmp(day, manifest, newest, now, result)
    return result


class _Hashing(io.RawIOBase):
    """A read-only file wrapper that hashes and counts the compressed bytes the gzip reader consumes."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: BinaryIO | None = None
        self.sha = hashlib.sha256()
        self.size = 0

    def attach(self, raw: BinaryIO) -> _Hashing:
        self.raw = raw
        return self

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        assert self.raw is not None
        count = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            self.sha.update(memoryview(buffer)[:count])
            self.size += count
        return int(count or 0)


def _verify_file(
    file: Path, entry: FileEntry | None, fmt: str, seen: _Seen, result: DayResult, where: str,
    last_seq: int | None,
) -> int | None:
    hashing = _Hashing()
    lines = FileLines(file, where, fmt, result.add, tap=hashing.attach)
    first_seq: int | None = None
    for number, raw, seq in lines:
        if not seen.coverage.offer(raw, f"{where}:{number}", result.add):
            _check_line(raw, seen, result, where, number)
        if seq is not None:
            if last_seq is not None and seq <= last_seq:
                result.add("seq_order", f"{where}:{number}",
                           f"stream seq {seq} after {last_seq}: written twice or out of order")
            first_seq = seq if first_seq is None else first_seq
            last_seq = seq
    if not lines.complete:
        return last_seq
    result.records += lines.records
    result.bytes += lines.size
    if entry is not None:
        compare(entry, where, result.add, records=lines.records, bytes=lines.size, compressed_bytes=hashing.size,
                sha256=hashing.sha.hexdigest())
        if lines.envelope and first_seq is not None:
            compare(entry, where, result.add, nats_start_seq=first_seq, nats_end_seq=last_seq)
    return last_seq


def _check_line(raw: bytes, seen: _Seen, result: DayResult, where: str, number: int) -> None:
    """Duplicate checks for one frame."""
    head = decode_head(raw)
    if head.type == "trade":
        trade_id = head.trade_id
        if trade_id:
            key = hash(trade_id)
            if key in seen.trade_ids:
                result.add("duplicate_trade", f"{where}:{number}", f"trade_id {trade_id} seen before")
            seen.trade_ids.add(key)
            return
    if head.seq is not None:
        if head.seq == 1:
            seen.subscriptions[head.sid] = seen.subscriptions.get(head.sid, 0) + 1
        key = hash((seen.subscriptions.get(head.sid, 0), raw))
        if key in seen.frames:
            result.add("duplicate_frame", f"{where}:{number}",
                       f"{head.type} sid={head.sid} seq={head.seq} identical to an earlier frame")
        seen.frames.add(key)


def _check_tmp(day: Day, manifest: Manifest | None, newest: bool, now: float, result: DayResult) -> None:
    """The archiver's one open file (newest day, recently written) is expected; any other ``.tmp`` is an orphan."""
    grace = 2 * _interval_s(manifest)
    tmps = day.tmp_files()
    for tmp in tmps:
        age = now - tmp.stat().st_mtime
        if newest and len(tmps) == 1 and age <= grace:
            result.open_files.append(tmp.name)
            continue
        result.add("orphan_tmp", f"{day.label}/{tmp.name}",
                   f"leftover .tmp file (last written {dt.timedelta(seconds=int(age))} ago); never read by tools")


def _interval_s(manifest: Manifest | None) -> int:
    try:
        return parse_duration(str(manifest.rotation_interval if manifest is not None else "30m"))
    except ValueError:
        return 1800
