"""``ssmd archive export``: typed columnar tables from raw frames, one table per message type, plus ``book_top``.

Layout (Hive partitions, readable by DuckDB, Polars, pyarrow.dataset, Spark)::

    OUT/{table}/date=YYYY-MM-DD/part-{feed}-{source day}-{source file}.parquet   (or .csv)
    OUT/_ssmd_export.json                                                      what was exported (incremental)

Units are the same whatever wire format a frame used (integer cents, ``_dollars`` strings, ``_fp`` counts):
prices are ``decimal128(12, 6)`` **dollars per contract** (0.42 = 42 cents), sizes and volumes are
``decimal128(20, 4)`` contracts, ``ts`` is the exchange time as ``timestamp[ms, UTC]``, and the partition
``date`` is the UTC date of ``ts`` (the archive day when a frame carries no time). Parquet files use zstd.

Speed: each archive file is decoded in bulk (:mod:`ssmd.archive._bulk`, DuckDB's JSON reader in C++) and its
columns converted whole by the feed's :class:`~ssmd.feed.tables.ExportTables` (the archive's feed directory
names the feed); ``jobs`` > 1 decodes that many files at once on threads, each
reading its next batch while it converts this one. Output is the same whatever ``jobs`` is: every part is named
after its source file, and ``book_top`` (which needs the book as it was at the end of the previous file) is built
in file order by the calling thread.

Nothing is half-written: a new export is written into ``OUT.partial-<pid>`` and renamed into place; an
incremental one stages its new parts there and moves them in before it records them in ``_ssmd_export.json``.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import contextlib
import datetime as dt
import fcntl
import gc
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Collection, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ssmd.archive import book_top, merged
from ssmd.archive._bulk import read_batches
from ssmd.archive._progress import Progress
from ssmd.archive._window import Window
from ssmd.archive.problems import BAD_GZIP, ArchiveError, ArchiveProblems, Problems, Report, compare
from ssmd.archive.reader import _as_set, window_files
from ssmd.archive_format.days import Day, find_days
from ssmd.archive_format.layout import file_key
from ssmd.archive_format.manifest import FileEntry
from ssmd.bus.subjects import type_token
from ssmd.feed.tables import BookEvents, ExportTables, export_tables

STATE_FILE = "_ssmd_export.json"
STATE_VERSION = 1
_DAY_MS = 86_400_000


class ExportError(Exception):
    """OUT exists, options differ from an earlier export, an exported file changed, or writing failed."""


@dataclass(frozen=True)
class Options:
    fmt: str = "parquet"
    feed: str | None = None
    window: Window = field(default_factory=Window)
    types: frozenset[str] | None = None
    tickers: frozenset[str] | None = None
    book_depth: int = book_top.DEFAULT_DEPTH
    book_interval_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        """What must be equal between an export and its incremental continuations."""
        return {"format": self.fmt, "feed": self.feed, "start_ms": self.window.start_ms,
                "end_ms": self.window.end_ms, "types": sorted(self.types) if self.types is not None else None,
                "tickers": sorted(self.tickers) if self.tickers is not None else None,
                "book_depth": self.book_depth, "book_interval_ms": self.book_interval_ms}


@dataclass(frozen=True)
class SourceFile:
    """One closed archive file, in archive order."""

    path: Path
    feed: str
    day: str
    fmt: str
    entry: FileEntry | None = None
    """Its manifest entry: the file's size and sha256 are checked against it, as ``verify`` does."""

    @property
    def key(self) -> str:
        return f"{self.feed}/{self.day}/{self.path.name}"

    @property
    def stem(self) -> str:
        return self.path.name.removesuffix(".jsonl.gz")

    @property
    def order(self) -> tuple[str, tuple[int, int, str]]:
        return self.day, file_key(self.path.name)


@dataclass
class FileResult:
    key: str
    size: int
    mtime_ns: int
    sha256: str
    frames: int = 0
    not_exported: int = 0
    merged_out: int = 0
    """Other connections' copies the merged view leaves out (docs/redundancy.md)."""
    bad: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    events: list[BookEvents] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    """``(kind, where, detail)``: what could not be read (collected here and reported in file order)."""


# --- selection ------------------------------------------------------------------------------------------------


def source_files(path: str | Path, feed: str | None, window: Window, report: Report) -> list[SourceFile]:
    """Closed files under ``path`` in archive order, skipping days and files outside the window (as
    ``ssmd.archive.open`` does); a bad manifest or a listed file that is missing goes to ``report``."""
    return [SourceFile(file, day.feed, _day_label(day), fmt, entry)
            for day, file, fmt, entry in window_files(find_days(path, feed), window, report)]


def _day_label(day: Day) -> str:
    return day.path.name


# --- one file (on a worker thread when jobs > 1) ----------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    source: SourceFile
    staging: str
    options: Options
    book: bool
    prefetch: bool = False
    """Decode the next batch while this one is converted (``--jobs`` > 1: more than one core is ours)."""
    dropped: tuple[int, ...] = ()
    """Line numbers (1-based, ascending) the merged view leaves out of this file."""


def _export_file(task: _Task) -> FileResult:
    """Decode one archive file in bulk, write its typed parts, hand back its book events."""
    source, options = task.source, task.options
    try:
        stat = source.path.stat()
        result = FileResult(source.key, stat.st_size, stat.st_mtime_ns, _sha256(source.path))
    except OSError as exc:
        raise ArchiveError(f"{source.path}: cannot read it: {exc.strerror or exc}") from None
    def report(kind: str, where: str, detail: str) -> None:
        result.problems.append((kind, where, detail))

    where = source.key
    if source.entry is not None:  # the checks verify makes on the bytes, which this reads anyway for the sha256
        compare(source.entry, where, report, **{key: value for key, value in (
            ("compressed_bytes", result.size), ("sha256", result.sha256)) if key in source.entry})
    tables = export_tables(source.feed)
    sink = _Sink(Path(task.staging), options.fmt, source)
    try:
        if result.size == 0:
            report(BAD_GZIP, where, "empty file (0 bytes): not a gzip stream")
        else:
            with _no_gc():
                offset = 0
                for batch in read_batches(source.path, source.fmt, tables.msg_fields, tables.json_fields,
                                          prefetch=task.prefetch, raw=tables.raw_frames):
                    frames, nats_seq = batch.frames, batch.nats_seq
                    if task.dropped:
                        frames, nats_seq = _merged(frames, nats_seq, task.dropped, offset, result)
                    offset += batch.frames.num_rows
                    _convert_batch(tables, frames, nats_seq, options, task.book, sink, result)
    except ArchiveError as exc:  # what was decoded before the damage is kept, like every reader does
        report(BAD_GZIP, where, str(exc).removeprefix(f"{source.path}: "))
    finally:
        sink.close()
    result.outputs = sink.outputs
    result.rows = sink.rows
    return result


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = False


def _merged(frames: pa.RecordBatch, nats_seq: pa.Array | None, dropped: tuple[int, ...], offset: int,
            result: FileResult) -> tuple[pa.RecordBatch, pa.Array | None]:
    """The batch without the lines the merged view leaves out (a batch's rows are the file's lines from
    ``offset``)."""
    n = frames.num_rows
    lo, hi = bisect.bisect_left(dropped, offset + 1), bisect.bisect_left(dropped, offset + n + 1)
    if lo == hi:
        return frames, nats_seq
    keep = [True] * n
    for number in dropped[lo:hi]:
        keep[number - 1 - offset] = False
    mask = pa.array(keep, pa.bool_())
    result.merged_out += hi - lo
    return frames.filter(mask), nats_seq.filter(mask) if nats_seq is not None else None


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The book events are millions of small tuples that live until the file is done: the cyclic garbage
    collector would walk them again and again (it doubled the time of a conversion) and finds no cycles there.
    Counted, because ``--jobs`` converts several files at once on threads: the last one out turns it back on."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()


def _convert_batch(feed: ExportTables, frames: pa.RecordBatch, nats_seq: pa.Array | None, options: Options,
                   book: bool, sink: _Sink, result: FileResult) -> None:
    types = feed.frame_types(frames)
    keep = _keep(feed, frames, types, options)
    converted = feed.convert(frames, nats_seq, _tables(feed, types, options))
    exported = converted.exported if keep is None else pc.and_(converted.exported, keep)
    typed = pc.sum(exported).as_py() or 0
    considered = len(types) if keep is None else (pc.sum(keep).as_py() or 0)
    result.frames += typed
    result.not_exported += considered - typed
    bad_frames: set[int] = set()
    for name, table in converted.tables.items():
        if keep is not None:
            table = table.filter(keep.take(table.column("_frame").combine_chunks()))
        if not table.num_rows:
            continue
        with_bad = table.filter(pc.not_equal(table.column("bad_fields"), ""))
        if with_bad.num_rows:
            bad_frames.update(with_bad.column("_frame").to_pylist())
        sink.write(name, table.drop_columns(["_frame"]))
    result.bad += len(bad_frames)
    if book and len(converted.book):
        result.events.append(converted.book)


def _tables(feed: ExportTables, types: pa.Array, options: Options) -> frozenset[str] | None:
    """The tables this batch goes into (``None``: all). A frame's type is its first element's, so for a feed whose
    frames may be arrays of several types (``raw_frames``) the tables come from the filter alone: an element of
    another type than its frame's still reaches its own table."""
    if feed.raw_frames:
        return None if options.types is None else feed.tables_for(options.types)
    return feed.tables_for(_allowed_types(types, options.types))


def _keep(feed: ExportTables, frames: pa.RecordBatch, types: pa.Array, options: Options) -> pa.Array | None:
    """Frames passing the type, ticker and time filters (``None``: all), with ``ssmd.archive.open``'s rules."""
    masks: list[pa.Array] = []
    if options.types is not None:
        masks.append(pc.is_in(types, pa.array(sorted(_allowed_types(types, options.types)), pa.string())))
    if options.tickers is not None:
        masks.append(pc.is_in(feed.routing_key(frames), pa.array(sorted(options.tickers), pa.string())))
    window = options.window
    if window.bounded:
        ts = feed.frame_time_ms(frames)
        inside = pc.is_valid(ts)
        if window.start_ms is not None:
            inside = pc.and_(inside, pc.greater_equal(ts, window.start_ms))
        if window.end_ms is not None:
            inside = pc.and_(inside, pc.less(ts, window.end_ms))
        masks.append(pc.or_(pc.is_null(ts), pc.fill_null(inside, False)))
    if not masks:
        return None
    keep = masks[0]
    for mask in masks[1:]:
        keep = pc.and_(keep, mask)
    return pc.fill_null(keep, False)


def _allowed_types(types: pa.Array, wanted: frozenset[str] | None) -> set[str]:
    present = set(pc.unique(types).drop_null().to_pylist())
    if wanted is None:
        return present
    return {t for t in present if t in wanted or type_token(t) in wanted}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- writing ----------------------------------------------------------------------------------------------------


class _Sink:
    """The parts of one source file: one writer per (table, date), closed when the file is done."""

    def __init__(self, root: Path, fmt: str, source: SourceFile) -> None:
        self.root = root
        self.fmt = fmt
        self.source = source
        self.writers: dict[tuple[str, str], Any] = {}
        self.outputs: list[str] = []
        self.rows: dict[str, int] = {}

    def write(self, table: str, data: pa.Table) -> None:
        for date, part in _by_date(data, self.source.day):
            key = (table, date)
            writer = self.writers.get(key) or self._open(key, data.schema)
            writer.write_table(part)
            self.rows[table] = self.rows.get(table, 0) + part.num_rows

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()

    def _open(self, key: tuple[str, str], schema: pa.Schema) -> Any:
        table, date = key
        folder = self.root / table / f"date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        ext = "parquet" if self.fmt == "parquet" else "csv"
        path = folder / f"part-{self.source.feed}-{self.source.day}-{self.source.stem}.{ext}"
        writer: Any
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            # Dictionaries for text only, and min/max statistics for the time and sequence columns only: the
            # statistics of decimal columns cost as much as the rest of the write and prune nothing useful.
            strings = [f.name for f in schema if pa.types.is_string(f.type)]
            stats = [name for name in ("ts", "sid", "seq", "nats_seq") if name in schema.names]
            writer = pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=strings,
                                      write_statistics=stats)
        else:
            import pyarrow.csv as pcsv

            writer = pcsv.CSVWriter(path, schema)
        self.writers[key] = writer
        self.outputs.append(str(path.relative_to(self.root)))
        return writer


def iso_date(day_number: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day_number)).isoformat()


def _by_date(table: pa.Table, fallback: str) -> Iterator[tuple[str, pa.Table]]:
    """Split rows by the UTC date of ``ts`` (rows without a time go to ``fallback``, the archive day)."""
    ms = pc.cast(table.column("ts"), pa.int64())
    days = pc.divide(pc.subtract(ms, pc.if_else(pc.less(ms, 0), _DAY_MS - 1, 0)), _DAY_MS)
    distinct = pc.unique(days).to_pylist()
    if len(distinct) == 1:
        only = distinct[0]
        yield (fallback if only is None else iso_date(only)), table
        return
    for day in sorted(distinct, key=lambda d: (d is None, d or 0)):
        mask = pc.is_null(days) if day is None else pc.fill_null(pc.equal(days, day), False)
        yield (fallback if day is None else iso_date(day)), table.filter(mask)


# --- the whole export -------------------------------------------------------------------------------------------


def run_export(path: str | Path, out: str | Path, fmt: str = "parquet", overwrite: bool = False,
               incremental: bool = False, feed: str | None = None, start: Any = None, end: Any = None,
               types: Collection[str] | str | None = None, tickers: Collection[str] | str | None = None,
               book_depth: int = book_top.DEFAULT_DEPTH, book_interval_ms: int | None = None, jobs: int = 1,
               show_progress: bool = True, problems: Problems | None = None,
               ignore_problems: bool = False, raw: bool = False) -> dict[str, Any]:
    """Export the archive at ``path`` into ``out``; returns a summary (rows per table, frames not exported).

    ``incremental``: add only the files ``out`` has not exported yet (``out`` may be missing); a file that changed
    since it was exported is refused. Otherwise an existing, non-empty ``out`` is refused unless ``overwrite``.

    Parts of the archive that cannot be read go into ``problems`` (the kinds ``verify`` names). Unless
    ``ignore_problems``, the export then raises :class:`ArchiveProblems` and leaves ``out`` as it was: an export
    that silently lacks data is worse than none.

    The tables hold the merged view (one copy of what several connector instances captured, docs/redundancy.md;
    ``merged_out`` counts the copies left out); ``raw`` exports every copy.
    """
    problems = Problems() if problems is None else problems
    if fmt not in ("parquet", "csv"):
        raise ExportError(f"--to: expected parquet or csv, got {fmt!r}")
    if jobs < 1:
        raise ExportError("--jobs: expected a number of files decoded at once >= 1")
    if incremental and overwrite:
        raise ExportError("--incremental adds to OUT and --overwrite replaces it: give one of them")
    try:
        window = Window.of(start, end)
    except ValueError as exc:
        raise ExportError(f"--start/--end: {exc}") from None
    options = Options(fmt=fmt, feed=feed, window=window, types=_as_set(types), tickers=_as_set(tickers),
                      book_depth=book_depth, book_interval_ms=book_interval_ms)
    if book_depth < 1:
        raise ExportError("--book-depth: expected at least 1 level")
    if book_interval_ms is not None and book_interval_ms < 1:
        raise ExportError("--book-interval: expected a positive duration")
    target = Path(out)
    started = time.monotonic()
    try:
        files = source_files(path, feed, options.window, problems.add)
    except ArchiveError as exc:  # not an archive: bad input, like a bad option
        raise ExportError(str(exc)) from None
    if incremental:
        with _locked(target):
            return _export(files, target, options, jobs, show_progress, started, True, problems, ignore_problems,
                           raw)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise ExportError(f"{target}: exists and is not empty (use --overwrite to replace it, or --incremental "
                          f"to add new archive files)")
    return _export(files, target, options, jobs, show_progress, started, False, problems, ignore_problems, raw)


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """One incremental export at a time per OUT (an hourly cron job may overlap a slow run)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}.export-lock"
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportError(f"{target}: another export into it is running ({lock} is locked)") from None
        yield


def _export(files: list[SourceFile], target: Path, options: Options, jobs: int, show_progress: bool,
            started: float, incremental: bool, problems: Problems, ignore_problems: bool,
            raw: bool = False) -> dict[str, Any]:
    state = _load_state(target) if incremental else None
    if state is not None and state["options"] != options.to_json():
        raise ExportError(f"{target}: was exported with other options ({_diff(state['options'], options.to_json())});"
                          f" use the same options, or --overwrite without --incremental")
    done: dict[str, Any] = state["files"] if state is not None else {}
    todo = _new_files(files, done, state) if state is not None else files
    books = _books(options, state)
    feeds: dict[str, ExportTables] = {}
    for source in todo:  # the archive's feed directory names the feed
        if source.feed not in feeds:
            try:
                feeds[source.feed] = export_tables(source.feed)
            except LookupError as exc:  # KeyError included: a feed directory ssmd does not know
                raise ExportError(f"{source.path.parent.parent}: {exc.args[0]}") from None
    want_book = {name: options.types is None or bool(options.types & tables.book_types)
                 for name, tables in feeds.items()}
    partial = target.parent / f"{target.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    progress = Progress("export", total=len(todo), unit="files") if show_progress else None
    summary: dict[str, Any] = {"frames": 0, "not_exported": 0, "merged_out": 0, "frames_with_bad_fields": 0,
                               "rows": {}}
    outputs: list[str] = []
    try:
        # The merge runs over every selected file in archive order (its book chains span files), also those an
        # incremental export did before, so that a file's merged lines do not depend on when it was exported.
        dropped = {} if raw else merged.dropped_lines((f.feed, f.path, f.fmt) for f in files)
        tasks = [_Task(source, str(partial), options, want_book[source.feed], jobs > 1,
                       tuple(dropped.get(source.path, ()))) for source in todo]
        with contextlib.closing(_run(tasks, jobs)) as results:  # closed (threads done) before any clean-up
            for source, result in zip(todo, results, strict=True):
                with _no_gc():
                    for events in result.events:
                        books[source.feed].feed(events)
                rows = books[source.feed].take_rows() if want_book[source.feed] and source.feed in books else None
                if rows is not None and rows.num_rows:
                    sink = _Sink(partial, options.fmt, source)
                    sink.write("book_top", rows)
                    sink.close()
                    result.outputs += sink.outputs
                    result.rows["book_top"] = rows.num_rows
                for problem in result.problems:
                    problems.add(*problem)
                outputs += result.outputs
                summary["frames"] += result.frames
                summary["not_exported"] += result.not_exported
                summary["merged_out"] += result.merged_out
                summary["frames_with_bad_fields"] += result.bad
                for name, count in result.rows.items():
                    summary["rows"][name] = summary["rows"].get(name, 0) + count
                done[result.key] = {"size": result.size, "mtime_ns": result.mtime_ns, "sha256": result.sha256,
                                    "frames": result.frames}
                if progress:
                    progress.advance(note=source.key)
        if problems and not ignore_problems:
            raise ArchiveProblems(problems)
        new_state = {"version": STATE_VERSION, "options": options.to_json(), "files": done,
                     "last": _last(files, todo, state), "books": {f: b.state() for f, b in books.items()}}
        if incremental:
            _move_in(partial, target)
            _write_state(target, new_state)
            shutil.rmtree(partial, ignore_errors=True)
        else:
            (partial / STATE_FILE).write_bytes(orjson.dumps(new_state))
            if target.exists():
                shutil.rmtree(target)
            partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    seconds = time.monotonic() - started
    summary = {"out": str(target), "format": options.fmt, **summary, "files": len(outputs),
               "source_files": len(todo), "already_exported": len(files) - len(todo),
               "book_gaps": sum(b.gaps for b in books.values()) - sum(
                   (state or {}).get("books", {}).get(f, {}).get("gaps", 0) for f in books),
               "seconds": round(seconds, 3)}
    summary["rows"] = dict(sorted(summary["rows"].items()))
    if progress:
        progress.finish(f"{summary['frames']:,} frames from {len(todo)} archive files into {len(outputs)} files, "
                        f"{summary['not_exported']:,} not exportable")
    return summary


def _run(tasks: list[_Task], jobs: int) -> Generator[FileResult, None, None]:
    """Results in task order; with ``jobs`` > 1 that many files are decoded at once, on threads: DuckDB's reader,
    Arrow's kernels and the Parquet writer work without the GIL, and threads cost nothing to start nor to hand their
    book events back (worker processes measured slower on the shared 2-core box: start-up and pickling)."""
    if jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            yield _export_file(task)
        return
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ssmd-export")
    try:
        yield from pool.map(_export_file, tasks)
    finally:  # on an error or an early stop: no file is started any more, and none is still being written
        pool.shutdown(wait=True, cancel_futures=True)


def _books(options: Options, state: dict[str, Any] | None) -> dict[str, book_top.BookTop]:
    """One book builder per feed (markets and sids belong to one feed), restored from an earlier export."""

    class _PerFeed(dict[str, book_top.BookTop]):
        def __missing__(self, feed: str) -> book_top.BookTop:
            builder = book_top.BookTop(export_tables(feed), options.book_depth, options.book_interval_ms,
                                       options.tickers, options.window)
            saved = (state or {}).get("books", {}).get(feed)
            if saved:
                builder.restore(saved)
            self[feed] = builder
            return builder

    per_feed = _PerFeed()
    for feed in (state or {}).get("books", {}):
        per_feed[feed]
    return per_feed


# --- incremental bookkeeping ------------------------------------------------------------------------------------


def _load_state(target: Path) -> dict[str, Any] | None:
    path = target / STATE_FILE
    if not target.exists() or not any(target.iterdir()):
        return None
    try:
        state = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ExportError(f"{target}: not empty and has no {STATE_FILE}: not an export made by ssmd (use another "
                          f"OUT, or --overwrite without --incremental)") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ExportError(f"{path}: cannot read it: {exc}") from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise ExportError(f"{path}: unknown version (expected {STATE_VERSION}); re-export with --overwrite")
    return state


def _new_files(files: list[SourceFile], done: dict[str, Any], state: dict[str, Any]) -> list[SourceFile]:
    """Files not exported yet. An exported file that changed is refused; so is a new file that sorts before one
    already exported (its frames would enter the book chain out of order)."""
    last: dict[str, list[Any]] = state.get("last", {})
    todo = []
    for source in files:
        record = done.get(source.key)
        if record is None:
            mark = last.get(source.feed)
            if mark is not None and list(_order_json(source)) <= mark:
                raise ExportError(f"{source.path}: new, but it sorts before {source.feed}/{mark[0]}/"
                                  f"{mark[1][2]}, which was already exported; export again from scratch "
                                  f"(--overwrite) to keep the order of frames")
            todo.append(source)
            continue
        stat = source.path.stat()
        if stat.st_size != record["size"] or (stat.st_mtime_ns != record["mtime_ns"]
                                              and _sha256(source.path) != record["sha256"]):
            raise ExportError(f"{source.path}: changed since it was exported (size {record['size']} -> "
                              f"{stat.st_size} bytes, or other content); archive files never change once closed. "
                              f"Check it with ssmd archive verify, then export again with --overwrite")
    return todo


def _order_json(source: SourceFile) -> tuple[str, list[Any]]:
    day, key = source.order
    return day, list(key)


def _last(files: list[SourceFile], todo: list[SourceFile], state: dict[str, Any] | None) -> dict[str, Any]:
    last: dict[str, Any] = dict((state or {}).get("last", {}))
    for source in todo:
        mark = list(_order_json(source))
        if source.feed not in last or mark > last[source.feed]:
            last[source.feed] = mark
    return last


def _move_in(partial: Path, target: Path) -> None:
    """Move staged parts into ``target`` (same file system: each move is atomic)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(partial.rglob("*")):
        if path.is_file():
            dest = target / path.relative_to(partial)
            dest.parent.mkdir(parents=True, exist_ok=True)
            path.replace(dest)


def _write_state(target: Path, state: dict[str, Any]) -> None:
    tmp = target / f".{STATE_FILE}.tmp"
    tmp.write_bytes(orjson.dumps(state))
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(target / STATE_FILE)


def _diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in sorted(new) if old.get(k) != new[k])


def parse_interval_ms(text: str) -> int:
    """``--book-interval``: ``500ms``, or a duration as everywhere else (``1s``, ``5m``, ``1h``)."""
    from ssmd.config.duration import parse_duration

    value = text.strip()
    if value.endswith("ms") and value[:-2].strip().isdigit():
        ms = int(value[:-2])
        if ms <= 0:
            raise ValueError(f"expected a positive duration, got {text!r}")
        return ms
    try:
        return parse_duration(value) * 1000
    except ValueError:
        raise ValueError(f"expected a duration like 500ms, 1s, 1m or 1h, got {text!r}") from None


def read_state(out: str | Path) -> dict[str, Any]:
    """The record an export keeps in ``OUT`` (files exported, options, book state)."""
    state = _load_state(Path(out))
    if state is None:
        raise ExportError(f"{out}: no export here")
    return state


__all__ = ["ExportError", "FileResult", "Options", "SourceFile", "read_state", "run_export",
           "source_files"]

