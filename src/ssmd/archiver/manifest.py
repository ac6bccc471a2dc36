"""One ``manifest.json`` per day, merged (never overwritten) and replaced atomically.

The manifest is the index readers trust: it lists every closed file of the day across restarts, the gaps,
and day-wide ticker and message-type sets. See docs/archive-format.md for the contract.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ssmd.archiver._stats import FileStats

VERSION = 1
MANIFEST = "manifest.json"


def iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


@dataclass
class Manifest:
    feed: str
    date: str
    format: str
    rotation_interval: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    possible_gaps: list[dict[str, Any]] = field(default_factory=list)
    tickers: set[str] = field(default_factory=set)
    message_types: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, day_dir: Path, feed: str, date: str, fmt: str, interval: str) -> Manifest:
        """The day's manifest if it exists (keeping every entry), else an empty one."""
        path = day_dir / MANIFEST
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return cls(feed, date, fmt, interval)
        known = {"version", "feed", "date", "format", "rotation_interval", "files", "gaps", "tickers",
                 "message_types", "has_gaps", "possible_gaps"}
        return cls(
            feed=data.get("feed", feed),
            date=data.get("date", date),
            format=data.get("format", fmt),
            rotation_interval=data.get("rotation_interval", interval),
            files={f["name"]: f for f in data.get("files", [])},
            gaps=list(data.get("gaps", [])),
            possible_gaps=list(data.get("possible_gaps", [])),
            tickers=set(data.get("tickers", [])),
            message_types=set(data.get("message_types", [])),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def add_file(
        self, name: str, start: dt.datetime, end: dt.datetime, stats: FileStats, compressed: int, sha256: str
    ) -> None:
        self.files[name] = {
            "name": name,
            "start": iso(start),
            "end": iso(end),
            "records": stats.records,
            "bytes": stats.nbytes,
            "compressed_bytes": compressed,
            "sha256": sha256,
            "nats_start_seq": stats.first_seq,
            "nats_end_seq": stats.last_seq,
            "records_by_type": dict(sorted(stats.by_type.items())),
            "first_ts_ms": stats.first_ts_ms,
            "last_ts_ms": stats.last_ts_ms,
        }
        self.tickers |= stats.tickers
        self.message_types |= set(stats.by_type)

    def add_gap(self, after_seq: int, missing_count: int, detected_at: dt.datetime, cause: str | None = None) -> None:
        if any(g.get("after_seq") == after_seq for g in self.gaps):
            return  # the same discard seen again after a restart is one gap, not two
        gap: dict[str, Any] = {"after_seq": after_seq, "missing_count": missing_count, "detected_at": iso(detected_at)}
        if cause is not None:
            gap["cause"] = cause
        self.gaps.append(gap)

    def add_possible_gap(self, after_seq: int, discarded: int, detected_at: dt.datetime) -> None:
        """Stream messages discarded that a partial filter may or may not have matched (count unknowable)."""
        if any(g.get("after_seq") == after_seq for g in self.possible_gaps):
            return
        self.possible_gaps.append(
            {"after_seq": after_seq, "discarded_stream_seqs": discarded, "detected_at": iso(detected_at)}
        )

    def last_seq(self) -> int:
        return max((f.get("nats_end_seq") or 0 for f in self.files.values()), default=0)

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "version": VERSION,
            "feed": self.feed,
            "date": self.date,
            "format": self.format,
            "rotation_interval": self.rotation_interval,
            "files": [self.files[k] for k in sorted(self.files, key=name_order)],
            "gaps": sorted(self.gaps, key=lambda g: int(g.get("after_seq", 0))),
            "tickers": sorted(self.tickers),
            "message_types": sorted(self.message_types),
            "has_gaps": bool(self.gaps),
            **({"possible_gaps": self.possible_gaps} if self.possible_gaps else {}),
            **self.extra,
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"

    def save(self, day_dir: Path) -> None:
        """Write temp + fsync + rename + fsync dir: readers see the old or the new manifest, never half."""
        write_atomic(day_dir / MANIFEST, self.to_json())


def name_order(name: str) -> tuple[str, int, str]:
    """Archive order of file names: ``1200``, ``1200_1``, ``1200_2`` ... ``1200_10``, then ``1215``."""
    stem, _, rest = name.partition(".")
    base, _, n = stem.partition("_")
    return base, int(n) if n.isdigit() else 0, rest


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that it is the old or the new content, never half, never missing.

    The old file stays until the new one is durable (temp written and fsynced, then renamed over it). On any
    failure (a full disk) the temp is removed: a stray ``.NAME.tmp`` would look like a file being written.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until everything is written (a short write is not an error)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
