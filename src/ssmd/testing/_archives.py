"""Archives for tests: written exactly as docs/archive-format.md describes (so a test need not run the archiver to
get one), and read back line by line (so a test can compare what was archived with what was sent)."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ssmd.archive.reader import feed_for
from ssmd.archiver.manifest import name_order
from ssmd.bus.subjects import subject_for, unparsed_subject


def gz(data: bytes) -> bytes:
    """Deterministic gzip (no timestamp), so the same lines always give the same file and hash."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def envelope_line(raw: bytes, seq: int, prefix: str = "prod.kalshi") -> bytes:
    """One line of the ``envelope`` format, on the subject the connector would have used."""
    head = feed_for(prefix.rsplit(".", 1)[-1]).inspect(raw)
    subject = subject_for(prefix, head.type, head.key) if head.type else unparsed_subject(prefix)
    body: dict[str, Any] = {"subject": subject, "seq": seq, "received_ns": 1_700_000_000_000_000_000 + seq}
    try:
        orjson.loads(raw)
        body["data"] = orjson.Fragment(raw)
    except orjson.JSONDecodeError:
        body["data_b64"] = base64.b64encode(raw).decode()  # as the archiver writes a payload that is not JSON
    return orjson.dumps(body)


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
    """Write ``files`` (``HHMM.jsonl.gz`` name, frames) into ``root/feed/day`` with a complete manifest; returns
    the day directory. Stream seqs are numbered from ``first_seq``."""
    day_dir = root / feed / day
    day_dir.mkdir(parents=True, exist_ok=True)
    date = dt.date.fromisoformat(day)
    seq = first_seq
    entries = []
    tickers: set[str] = set()
    types: set[str] = set()
    inspect = feed_for(feed).inspect
    for name, frames in files:
        lines = []
        start_seq = seq
        by_type: Counter[str] = Counter()
        stamps = []
        for raw in frames:
            lines.append(envelope_line(raw, seq) if fmt == "envelope" else raw)
            seq += 1
            head = inspect(raw)
            by_type[head.type or "unparsed"] += 1
            if head.type:
                types.add(head.type)
            if head.key:
                tickers.add(head.key)
            if (ts := head.ts_ms()) is not None:
                stamps.append(ts)
        body = b"".join(line + b"\n" for line in lines)
        blob = gz(body)
        (day_dir / name).write_bytes(blob)
        hh, mm = int(name[:2]), int(name[2:4])
        start = dt.datetime(date.year, date.month, date.day, hh, mm, tzinfo=dt.UTC)
        entries.append({
            "name": name,
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + dt.timedelta(minutes=interval_min)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "records": len(lines),
            "bytes": len(body),
            "compressed_bytes": len(blob),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "nats_start_seq": start_seq,
            "nats_end_seq": seq - 1,
            "records_by_type": dict(sorted(by_type.items())),
            "first_ts_ms": stamps[0] if stamps else None,
            "last_ts_ms": stamps[-1] if stamps else None,
        })
    manifest = {
        "version": 1, "feed": feed, "date": day, "format": fmt, "rotation_interval": f"{interval_min}m",
        "files": entries, "gaps": list(gaps), "tickers": sorted(tickers), "message_types": sorted(types),
        "has_gaps": bool(gaps),
    }
    (day_dir / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
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
        manifest = orjson.loads((day / "manifest.json").read_bytes())
        names = [f["name"] for f in manifest["files"]]
        on_disk = sorted((p.name for p in day.glob("*.jsonl.gz")), key=name_order)
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
