"""``ssmd.archive.open``: frames of an archive, in file order across files and days, filtered cheaply.

Nothing is decoded unless a filter or the caller needs it: with no filters a frame costs one line split and one
small object. Type/ticker/time filters decode each line once (:mod:`ssmd.archive._head`); ``.value`` parses the
full frame into ``ssmd.kalshi.values`` types only when asked for.

A damaged archive is read as far as it can be: each problem (the kinds ``verify`` uses) is collected on the
reader's ``problems`` and passed to ``on_problem`` as it is found, and unless ``ignore_problems=True`` the
iteration ends with :class:`ssmd.archive.problems.ArchiveProblems` after the last readable frame, so nobody
mistakes a partial read for the whole archive.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import orjson

from ssmd.archive._head import Head, decode_head
from ssmd.archive._window import Window
from ssmd.archive_format.days import Day, find_days
from ssmd.archive_format.layout import window_start
from ssmd.archive_format.lines import FileLines
from ssmd.archive_format.manifest import FileEntry
from ssmd.archive_format.problems import ArchiveProblems, Problem, Problems, Report, compare
from ssmd.bus.subjects import type_token
from ssmd.kalshi import values

log = logging.getLogger("ssmd.archive")
_UNSET: Any = object()


class ArchiveFrame:
    """One archived exchange frame. ``raw`` is byte-for-byte what the exchange sent."""

    __slots__ = ("_head", "_value", "file", "line", "raw", "seq")

    def __init__(self, raw: bytes, file: str, line: int, seq: int | None, head: Head | None = None) -> None:
        self.raw = raw
        self.file = file
        self.line = line
        self.seq = seq
        self._head = head
        self._value: Any = _UNSET

    def head(self) -> Head:
        if self._head is None:
            self._head = decode_head(self.raw)
        return self._head

    @property
    def type(self) -> str | None:
        return self.head().type

    @property
    def ticker(self) -> str | None:
        return self.head().ticker

    @property
    def ts_ms(self) -> int | None:
        return self.head().ts_ms()

    @property
    def value(self) -> Any:
        """The frame as an ``ssmd.kalshi.values`` object (Trade, Ticker, ...), ``None`` for other frames."""
        if self._value is _UNSET:
            self._value = parse_value(self.raw)
        return self._value

    def __repr__(self) -> str:
        return f"ArchiveFrame({self.file}:{self.line}, type={self.type!r}, ticker={self.ticker!r})"


def parse_value(raw: bytes) -> Any:
    """The typed value of a raw frame; ``None`` for anything that is not a known data frame."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return values.parse_value(data) if isinstance(data, dict) else None


def open(
    path: str | Path,
    feed: str | None = None,
    start: dt.datetime | dt.date | str | int | None = None,
    end: dt.datetime | dt.date | str | int | None = None,
    types: Collection[str] | str | None = None,
    tickers: Collection[str] | str | None = None,
    parsed: bool = False,
    ignore_problems: bool = False,
    on_problem: Callable[[Problem], Any] | None = None,
) -> ArchiveReader:
    """Frames under ``path`` (archive root, feed dir, day dir or one file) in file order.

    ``start``/``end`` (datetime, date, ISO string or epoch ms; ``end`` exclusive, a bare date as ``end`` means
    the end of that day) skip whole days and files outside the window, then frames whose exchange time is
    outside it; frames without a time are kept when their file is in the window. ``types`` matches a frame's
    ``type`` or its subject token (``orderbook`` covers snapshots and deltas); ``tickers`` the raw ticker.
    ``parsed=True`` fills ``.value`` eagerly. Raises :class:`ssmd.archive.ArchiveError` for a path that is not
    an archive. Problems met while reading (a file that is not gzip, a missing file, a bad line, ...) do not stop
    the read: see :class:`ArchiveReader`.
    """
    window = Window.of(start, end)
    days = find_days(path, feed)
    return ArchiveReader(days, window, _as_set(types), _as_set(tickers), parsed, ignore_problems, on_problem)


class ArchiveReader:
    """What :func:`open` returns: iterate it for :class:`ArchiveFrame` objects.

    ``problems`` (:class:`ssmd.archive.problems.Problems`) collects what could not be read, in the order found;
    ``on_problem`` is called with each one as it is found (by default each is logged as a warning). After the
    last readable frame the iteration raises :class:`~ssmd.archive.problems.ArchiveProblems` if there were any,
    unless ``ignore_problems`` is set: then it just ends and ``problems`` says what is missing.
    """

    def __init__(self, days: list[Day], window: Window, types: frozenset[str] | None,
                 tickers: frozenset[str] | None, parsed: bool = False, ignore_problems: bool = False,
                 on_problem: Callable[[Problem], Any] | None = None) -> None:
        self.ignore_problems = ignore_problems
        self.problems = Problems(on_problem if on_problem is not None else _log_problem)
        self._frames = self._read(days, window, types, tickers, parsed)

    def __iter__(self) -> Iterator[ArchiveFrame]:
        return self._frames

    def __next__(self) -> ArchiveFrame:
        return next(self._frames)

    def _read(self, days: list[Day], window: Window, types: frozenset[str] | None,
              tickers: frozenset[str] | None, parsed: bool) -> Iterator[ArchiveFrame]:
        yield from _frames(days, window, types, tickers, parsed, self.problems)
        if self.problems and not self.ignore_problems:
            raise ArchiveProblems(self.problems)


def _log_problem(problem: Problem) -> None:
    log.warning("archive problem: %s", problem, extra={"kind": problem.kind, "where": problem.where})


def _frames(
    days: list[Day], window: Window, types: frozenset[str] | None, tickers: frozenset[str] | None, parsed: bool,
    problems: Problems,
) -> Iterator[ArchiveFrame]:
    need_head = types is not None or tickers is not None or window.bounded
    report = problems.add
    for day, file, fmt, entry in window_files(days, window, report):
        lines = FileLines(file, day.where(file.name), fmt, report)
        name = str(file)
        if not need_head and not parsed:
            for number, raw, seq in lines:
                yield ArchiveFrame(raw, name, number, seq)
        else:
            for number, raw, seq in lines:
                frame = ArchiveFrame(raw, name, number, seq, decode_head(raw) if need_head else None)
                if need_head and not _matches(frame, window, types, tickers):
                    continue
                if parsed:
                    frame.value  # noqa: B018 - fill the cache now, as asked
                yield frame
        if entry is not None and lines.complete:
            compare(entry, lines.where, report, records=lines.records)


def window_files(days: list[Day], window: Window,
                 report: Report) -> Iterator[tuple[Day, Path, str, FileEntry | None]]:
    """``(day, file, format, manifest entry)`` of every closed file that may hold frames of ``window``, in archive
    order. A bad manifest, or a listed file that is not on disk, goes to ``report`` where its data would have been."""
    for day in days:
        if not window.overlaps_day(day.date):
            continue
        manifest, entries = day.listing(report)
        fmt = manifest.line_format if manifest is not None else "jsonl"
        for name, file in day.files(entries):
            end = manifest.file_end(name) if manifest is not None else None
            if not window.overlaps(window_start(day.date, name), end):
                continue
            if file is None:
                day.missing(name, report)
            else:
                yield day, file, fmt, entries.get(name)


def _matches(
    frame: ArchiveFrame, window: Window, types: frozenset[str] | None, tickers: frozenset[str] | None
) -> bool:
    head = frame.head()
    if types is not None:
        kind = head.type
        if kind is None or (kind not in types and type_token(kind) not in types):
            return False
    if tickers is not None and head.ticker not in tickers:
        return False
    if window.bounded:
        ts = head.ts_ms()
        if ts is not None and not window.contains_ms(ts):
            return False
    return True


def _as_set(values: Collection[str] | str | None) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [v for v in values.split(",") if v]
    return frozenset(values)
