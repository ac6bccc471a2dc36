"""Rotated ``.jsonl.gz`` files that are durable batch by batch and recoverable after ``kill -9``.

Used by the archiver (JetStream -> files) and by the connector's file mode. Each ``write_batch`` appends one
self-describing gzip member (see :mod:`ssmd.archive_format.members`) to ``NAME.jsonl.gz.tmp`` and fsyncs it before
returning, so a caller may acknowledge the batch as soon as the call returns. A file is renamed to its final
name (never over an existing one) when its window ends, and the day's manifest is merged and replaced
atomically. On start, :meth:`ArchiveWriter.open` finishes whatever a crash left behind and reports the last
sequence that is on disk, so that redelivered records are written once only.

One caller at a time: the methods serialise on a lock, and the blocking file work runs in a thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TypeVar

from ssmd.archive_format.envelope import BAD_ENVELOPE, encode, unwrap
from ssmd.archive_format.layout import (
    MANIFEST_TMP,
    SUFFIX,
    TMP,
    file_name,
    fsync_dir,
    name_time,
    publish,
    utc,
    window,
    write_all,
)
from ssmd.archive_format.manifest import Format, Manifest
from ssmd.archive_format.members import (
    Codec,
    Origin,
    compressor,
    encode_member,
    encode_origins,
    scan_members,
    split_by_origin,
)
from ssmd.archive_format.stats import FileStats, FrameFacts, Routed

log = logging.getLogger(__name__)

Clock = Callable[[], float]
"""Wall-clock seconds since the epoch (``time.time``); injectable so tests can cross boundaries."""

_T = TypeVar("_T")


class Record(NamedTuple):
    payload: bytes
    seq: int
    """Increasing sequence (the JetStream stream sequence in the archiver); used for exactly-once."""
    subject: str
    received_ns: int
    origin: Origin | None = None
    """Which connector instance and connection published it (from its headers); kept in the member's ``SO``."""


@dataclass
class _OpenFile:
    day: str
    name: str
    window_end: float
    opened: float
    fd: int
    size: int = 0
    sha: hashlib._Hash = field(default_factory=hashlib.sha256)
    stats: FileStats = field(default_factory=FileStats)


@dataclass(frozen=True)
class ClosedFile:
    day: str
    name: str
    records: int


class ArchiveWriter:
    def __init__(
        self,
        root: Path,
        feed: str,
        interval_s: int,
        rotation_label: str,
        fmt: Format = "jsonl",
        clock: Clock = time.time,
        codec: Codec = "isal",
        level: int = 3,
        *,
        facts: FrameFacts,
    ) -> None:
        """``facts``: what the manifest records of a frame (its type, ticker, exchange time), from the feed."""
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.feed_dir = Path(root) / feed
        self.feed = feed
        self.interval_s = interval_s
        self.rotation_label = rotation_label
        self.fmt: Format = fmt
        self.clock = clock
        self.facts = facts
        self._deflate = compressor(codec, level)
        self._lock = asyncio.Lock()
        # One thread for all file work: a pool would spread batches over threads, and glibc gives each
        # thread its own malloc arena, which roughly tripled peak RSS in bench/archiver.py.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="archive-writer")
        self._file: _OpenFile | None = None
        self._opened = False
        self.last_seq = 0
        """Highest sequence durably on disk (0 before anything)."""
        self.bytes_written = 0
        self.compressed_bytes_written = 0
        self.closed_files: list[ClosedFile] = []
        self._unsaved: list[tuple[str, Callable[[Manifest], None]]] = []
        """Manifest changes that failed to save (disk full): retried before the next file operation."""

    # -- public API ------------------------------------------------------------------------------------

    async def open(self) -> int:
        """Recover files a crash left behind; return the last sequence on disk (0 if none). Idempotent."""
        async with self._lock:
            if not self._opened:
                self.last_seq = await self._run(self._recover)
                self._opened = True
            return self.last_seq

    async def write_batch(self, records: Sequence[Record]) -> None:
        """Append ``records`` (increasing ``seq``) and return once they are on disk (flushed + fsync).

        Records with ``seq <= last_seq`` are already on disk and are skipped. On ``OSError`` nothing of the
        batch counts as written (the partial write is cut off); the caller retries the same batch later.
        """
        await self.open()
        async with self._lock:
            fresh = _after(records, self.last_seq)
            if fresh:
                await self._run(self._write, fresh)

    async def rotate_if_due(self) -> bool:
        """Close the current file if its window has ended (also when no message arrives); True if closed."""
        async with self._lock:
            current = self._file
            if current is None or self.clock() < current.window_end:
                return False
            await self._run(self._close_current)
            return True

    async def record_gap(self, after_seq: int, missing_count: int, exact: bool = True,
                         cause: str | None = None) -> None:
        """Note messages lost upstream in the day's manifest (written now: a gap must not wait for a close).

        ``exact=False``: ``missing_count`` upstream messages were lost, but how many of them this archive
        would have held is unknown; recorded under ``possible_gaps``, never as a gap. ``cause`` says where they
        were lost when that is known (``connector_buffer_full``: before they reached the stream).
        """
        async with self._lock:
            await self._run(self._save_gap, after_seq, missing_count, exact, self.clock(), cause)

    async def close(self) -> None:
        """Close the current file (rename + manifest). Safe to call twice."""
        async with self._lock:
            if self._file is not None:
                await self._run(self._close_current)
            else:
                await self._run(self._flush_manifests)

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def seconds_until_rotation(self) -> float | None:
        current = self._file
        return None if current is None else max(0.0, current.window_end - self.clock())

    def current_file_age(self) -> float:
        current = self._file
        return 0.0 if current is None else max(0.0, self.clock() - current.opened)

    # -- blocking work (runs in a thread) --------------------------------------------------------------

    def _write(self, records: Sequence[Record]) -> None:
        self._flush_manifests()
        now = self.clock()
        current = self._file
        if current is not None and now >= current.window_end:
            self._close_current()
            current = None
        if current is None:
            current = self._open_new(now)
        payloads = [r.payload for r in records]
        classify = self.facts.classify
        frames = [classify(p) for p in payloads]
        body = self._body(records, payloads, frames)
        origins = [r.origin for r in records]
        if origins.count(None) == len(origins):
            member = encode_member(body, records[0].seq, records[-1].seq, len(records), self._deflate)
        else:
            member = self._with_origins(records, payloads, frames, origins, body)
        try:
            write_all(current.fd, member)
            os.fsync(current.fd)
        except OSError:
            self._cut(current)
            raise
        current.size += len(member)
        current.sha.update(member)
        current.stats.add_frames(payloads, frames, records[0].seq, records[-1].seq, len(body), self.facts)
        self.last_seq = records[-1].seq
        self.bytes_written += len(body)
        self.compressed_bytes_written += len(member)

    def _body(self, records: Sequence[Record], payloads: Sequence[bytes], frames: Sequence[Routed]) -> bytes:
        if self.fmt == "jsonl":
            return b"\n".join(payloads) + b"\n"
        return b"".join(encode(r.payload, r.seq, r.subject, r.received_ns, f.type is not None)
                        for r, f in zip(records, frames, strict=True))

    def _with_origins(self, records: Sequence[Record], payloads: Sequence[bytes], frames: Sequence[Routed],
                      origins: Sequence[Origin | None], body: bytes) -> bytes:
        """The batch's member(s) with an ``SO`` subfield: one member unless the origins outgrow FEXTRA."""
        start = 0
        members = []
        cuts = split_by_origin(origins)
        for end in cuts:
            piece = body if len(cuts) == 1 else self._body(records[start:end], payloads[start:end], frames[start:end])
            members.append(encode_member(piece, records[start].seq, records[end - 1].seq, end - start,
                                         self._deflate, encode_origins(origins[start:end])))
            start = end
        return b"".join(members)

    def _cut(self, current: _OpenFile) -> None:
        """Remove a partly written member so that later members stay reachable; if that fails too, the
        file is set aside (recovery keeps its durable prefix) and the next batch starts a new file."""
        try:
            os.ftruncate(current.fd, current.size)
            os.fsync(current.fd)
        except OSError:
            log.error("cannot cut a failed write; setting the file aside", extra={"file": current.name})
            os.close(current.fd)
            self._file = None

    def _open_new(self, now: float) -> _OpenFile:
        day, start, end = window(now, self.interval_s)
        day_dir = self.feed_dir / day
        day_dir.mkdir(parents=True, exist_ok=True)
        base = f"{start:%H%M}"
        manifest = Manifest.load(day_dir, self.feed, day, self.fmt, self.rotation_label)
        for n in range(0, 1_000_000):
            name = file_name(base, n)
            if name in manifest.files or (day_dir / name).exists():
                continue
            try:
                fd = os.open(day_dir / f"{name}{TMP}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                continue
            break
        else:  # pragma: no cover - a million files in one window
            raise OSError(f"no free file name for {base} in {day_dir}")
        fsync_dir(day_dir)
        self._file = _OpenFile(day=day, name=name, window_end=end, opened=now, fd=fd)
        log.info("opened archive file", extra={"file": f"{day}/{name}{TMP}"})
        return self._file

    def _close_current(self) -> None:
        self._flush_manifests()
        current = self._file
        assert current is not None
        os.fsync(current.fd)
        os.close(current.fd)
        self._file = None
        day_dir = self.feed_dir / current.day
        if current.stats.records == 0:
            (day_dir / f"{current.name}{TMP}").unlink(missing_ok=True)
            return
        final = publish(day_dir, current.name)
        # Closed from here on, even if the manifest cannot be saved now (that is retried): count it once, here.
        self.closed_files.append(ClosedFile(current.day, final, current.stats.records))
        log.info("closed archive file", extra={"file": f"{current.day}/{final}", "records": current.stats.records})
        end = min(self.clock(), current.window_end)
        stats, size, sha = current.stats, current.size, current.sha.hexdigest()
        self._update_manifest(
            current.day, lambda m: m.add_file(final, utc(current.opened), utc(end), stats, size, sha)
        )

    def _save_gap(self, after_seq: int, missing: int, exact: bool, now: float, cause: str | None = None) -> None:
        at = utc(now)
        if exact:
            self._update_manifest(at.strftime("%Y-%m-%d"), lambda m: m.add_gap(after_seq, missing, at, cause))
        else:
            self._update_manifest(at.strftime("%Y-%m-%d"), lambda m: m.add_possible_gap(after_seq, missing, at))

    def _update_manifest(self, day: str, change: Callable[[Manifest], None]) -> None:
        """Apply ``change`` to the day's manifest and save it; on failure keep it for the next attempt."""
        self._unsaved.append((day, change))
        self._flush_manifests()

    def _flush_manifests(self) -> None:
        while self._unsaved:
            day, change = self._unsaved[0]
            day_dir = self.feed_dir / day
            day_dir.mkdir(parents=True, exist_ok=True)
            manifest = Manifest.load(day_dir, self.feed, day, self.fmt, self.rotation_label)
            change(manifest)
            manifest.save(day_dir)
            self._unsaved.pop(0)

    # -- recovery --------------------------------------------------------------------------------------

    def _recover(self) -> int:
        if not self.feed_dir.is_dir():
            return 0
        days = sorted((d for d in self.feed_dir.iterdir() if d.is_dir()), reverse=True)
        for day_dir in days:  # a manifest write cut short by a kill: the manifest itself is intact
            (day_dir / MANIFEST_TMP).unlink(missing_ok=True)
        last = 0
        for day_dir in days:
            if any(p.name.endswith(f"{SUFFIX}{TMP}") for p in day_dir.iterdir()):
                last = max(last, self._recover_day(day_dir))
        for day_dir in days:  # the newest day with files holds the newest data
            seen = self._recover_day(day_dir)
            if seen:
                return max(last, seen)
        return last

    def _recover_day(self, day_dir: Path) -> int:
        """Finish ``.tmp`` files and list closed files the manifest misses; return the day's last seq."""
        day = day_dir.name
        manifest = Manifest.load(day_dir, self.feed, day, self.fmt, self.rotation_label)
        changed = False
        for tmp in sorted(day_dir.glob(f"*{SUFFIX}{TMP}")):
            name = tmp.name.removesuffix(TMP)
            final = day_dir / name
            if final.exists() and final.samefile(tmp):  # crashed between link and unlink
                tmp.unlink()
                continue
            stats, size, sha = _scan(tmp, self.fmt, self.facts, truncate=True)
            if stats.records == 0:
                tmp.unlink()
                log.info("removed an archive file without durable data", extra={"file": f"{day}/{tmp.name}"})
                continue
            published = publish(day_dir, name)
            mtime = utc(final.stat().st_mtime) if final.exists() else utc(self.clock())
            manifest.add_file(published, name_time(day, name), mtime, stats, size, sha)
            changed = True
            log.warning("recovered archive file after a crash",
                        extra={"file": f"{day}/{published}", "records": stats.records, "last_seq": stats.last_seq})
        for path in sorted(day_dir.glob(f"*{SUFFIX}")):
            if path.name not in manifest.files:
                stats, size, sha = _scan(path, self.fmt, self.facts, truncate=False)
                mtime = utc(path.stat().st_mtime)
                manifest.add_file(path.name, name_time(day, path.name), mtime, stats, size, sha)
                changed = True
        if changed:
            manifest.save(day_dir)
        return manifest.last_seq()


# -- helpers ---------------------------------------------------------------------------------------------


def _after(records: Sequence[Record], last_seq: int) -> Sequence[Record]:
    if not records or records[0].seq > last_seq:
        return records
    return [r for r in records if r.seq > last_seq]


def _scan(path: Path, fmt: Format, facts: FrameFacts, truncate: bool) -> tuple[FileStats, int, str]:
    """Rebuild a file's stats from its members; with ``truncate``, cut a torn tail off (its data was
    never acknowledged, so it will be delivered again)."""
    data = path.read_bytes()
    stats = FileStats()
    end = 0
    for info, body in scan_members(data):
        lines = body.split(b"\n")[:-1]
        payloads = lines if fmt == "jsonl" else [_unwrap(line) for line in lines]
        frames = [facts.classify(p) for p in payloads]
        stats.add_frames(payloads, frames, info.first_seq, info.last_seq, len(body), facts)
        stats.records += info.records - len(payloads)  # the member's count is authoritative
        end = info.end
    if truncate and end < len(data):
        log.warning("cut a torn tail off a crashed archive file",
                    extra={"file": str(path), "kept_bytes": end, "cut_bytes": len(data) - end})
        with path.open("r+b") as fh:
            fh.truncate(end)
            fh.flush()
            os.fsync(fh.fileno())
    return stats, end, hashlib.sha256(data[:end]).hexdigest()


def _unwrap(line: bytes) -> bytes:
    """An envelope line's frame for recovery's statistics; a damaged line counts as itself (never raises)."""
    try:
        return unwrap(line)[0]
    except BAD_ENVELOPE:
        return line


__all__ = ["ArchiveWriter", "Clock", "ClosedFile", "Format", "Record", "window"]
