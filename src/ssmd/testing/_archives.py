"""Archives for tests: written exactly as docs/archive-format.md describes (so a test need not run the archiver to
get one), and read back line by line (so a test can compare what was archived with what was sent)."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssmd.archive._head import decode_head
from ssmd.archive_format import envelope
from ssmd.archive_format.layout import MANIFEST, file_key
from ssmd.archive_format.manifest import Manifest
from ssmd.archive_format.members import compressor, encode_member
from ssmd.archive_format.problems import Problems
from ssmd.archive_format.stats import FileStats
from ssmd.bus.subjects import subject_for, unparsed_subject
from ssmd.kalshi import frames as kalshi_frames

_DEFLATE = compressor("isal", 3)


def gz(data: bytes) -> bytes:
    """Deterministic plain gzip (no timestamp, no member framing), as another tool would write it."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def envelope_line(raw: bytes, seq: int, prefix: str = "prod.kalshi") -> bytes:
    """One line of the ``envelope`` format (without its newline), on the subject the connector would have used."""
    head = decode_head(raw)
    subject = subject_for(prefix, head.type, head.ticker) if head.type else unparsed_subject(prefix)
    return envelope.encode(raw, seq, subject, 1_700_000_000_000_000_000 + seq)[:-1]


def write_day(
    root: Path,
    day: str,
    files: Sequence[tuple[str, Sequence[bytes]]],
    feed: str = "kalshi",
    fmt: str = "jsonl",
    interval_min: int = 15,
    first_seq: int = 1,
    gaps: Sequence[dict[str, Any]] = (),
) -> Path:
    """Write ``files`` (``HHMM.jsonl.gz`` name, frames) into ``root/feed/day`` with a complete manifest, as the
    archiver would (one gzip member per file, the manifest model of :mod:`ssmd.archive_format`); returns the day
    directory. Stream seqs are numbered from ``first_seq``; each file spans its whole ``interval_min`` window."""
    day_dir = root / feed / day
    day_dir.mkdir(parents=True, exist_ok=True)
    date = dt.date.fromisoformat(day)
    manifest = Manifest(feed, day, fmt, f"{interval_min}m", gaps=[dict(g) for g in gaps])
    seq = first_seq
    for name, frames in files:
        last = seq + len(frames) - 1
        lines = [envelope_line(raw, seq + i) if fmt == "envelope" else raw for i, raw in enumerate(frames)]
        body = b"".join(line + b"\n" for line in lines)
        blob = encode_member(body, seq, last, len(lines), _DEFLATE) if lines else gz(body)
        (day_dir / name).write_bytes(blob)
        stats = FileStats()
        if frames:
            stats.add_frames(list(frames), [kalshi_frames.classify(raw) for raw in frames], seq, last, len(body),
                             kalshi_frames)
        seq = last + 1
        start = dt.datetime(date.year, date.month, date.day, int(name[:2]), int(name[2:4]), tzinfo=dt.UTC)
        manifest.add_file(name, start, start + dt.timedelta(minutes=interval_min), stats, len(blob),
                          hashlib.sha256(blob).hexdigest())
    manifest.save(day_dir)
    return day_dir


def write_archive(root: Path, frames: Sequence[bytes], feed: str = "kalshi", date: str = "2026-02-12",
                  per_file: int = 0) -> Path:
    """``frames`` as one day of 15-minute files from 12:00 (``per_file`` frames each; 0: one file); returns
    ``root``. For tests that only need frames in an archive, in order."""
    chunks = [frames[i:i + per_file] for i in range(0, len(frames), per_file)] if per_file else [frames]
    write_day(root, date, [(f"{12 + index // 4:02d}{(index % 4) * 15:02d}.jsonl.gz", chunk)
                           for index, chunk in enumerate(chunks)], feed=feed)
    return root


def read_samples(samples_path: Path) -> list[bytes]:
    """The frames of a captured-frames file (one raw frame a line)."""
    return [line for line in samples_path.read_bytes().split(b"\n") if line]


def gunzip(path: Path) -> bytes:
    """The whole decompressed content of a ``.gz`` file."""
    with gzip.open(path) as fh:
        return fh.read()


def read_archive(feed_dir: Path) -> list[bytes]:
    """Every line of every closed file of one feed, day by day in manifest order; fails if a day's manifest does
    not list exactly the files on disk (an unlisted file is invisible to readers)."""
    lines: list[bytes] = []
    for day in sorted(p for p in feed_dir.iterdir() if p.is_dir()):
        problems = Problems()
        manifest = Manifest.read(day, problems.add, day.name)
        assert manifest is not None and not problems, f"{day}: no valid {MANIFEST}: {list(problems)}"
        names = list(manifest.files)  # in the order listed
        on_disk = sorted((p.name for p in day.glob("*.jsonl.gz")), key=file_key)
        assert names == on_disk, f"{day}: manifest lists {names}, disk has {on_disk}"
        for name in names:
            lines.extend(gunzip(day / name).splitlines())
    return lines


def archived_lines(root: Path) -> Counter[bytes]:
    """Every line of every closed archive file under ``root``, counted (order across files and feeds aside)."""
    lines: Counter[bytes] = Counter()
    for path in sorted(root.rglob("*.jsonl.gz")):
        lines.update(gunzip(path).splitlines())
    return lines


def sent_lines(log: Path) -> Counter[bytes]:
    """The simulator's ``--sent-log``, counted: one line per data frame written to a socket."""
    return Counter(log.read_bytes().splitlines()) if log.exists() else Counter()


def assert_archived_as_sent(archived: Counter[bytes], sent: Counter[bytes]) -> None:
    """Every frame the exchange sent is archived exactly as many times as it was sent.

    A count, not a set: a new connection can legitimately be sent a frame identical to one sent before (same sid,
    same seq, same unchanged book), and then the archive must hold it twice. A frame archived more often than sent
    is a duplicate; less often, a loss.
    """
    missing = sent - archived
    extra = archived - sent
    assert not missing and not extra, (
        f"{sum(missing.values())} sent frames missing from the archive (e.g. {list(missing)[:3]}), "
        f"{sum(extra.values())} archived more often than sent (e.g. {list(extra)[:3]})")
