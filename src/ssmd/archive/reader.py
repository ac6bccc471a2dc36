"""``ssmd.archive.open``: frames of an archive, in file order across files and days, filtered cheaply.

Nothing is decoded unless a filter or the caller needs it: with no filters a frame costs one line split and one
small object. Type/ticker/time filters decode each line once (:mod:`ssmd.archive._head`); ``.value`` parses the
full frame into ``ssmd.kalshi.values`` types only when asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import orjson

from ssmd.archive._head import Head, decode_head
from ssmd.archive._layout import ArchiveError, Day, find_days, window_start
from ssmd.archive._lines import BAD_LINE, GZIP_ERRORS, is_envelope, iter_lines, unwrap
from ssmd.archive._window import Window
from ssmd.bus.subjects import type_token
from ssmd.kalshi import values

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
) -> Iterator[ArchiveFrame]:
    """Frames under ``path`` (archive root, feed dir, day dir or one file) in file order.

    ``start``/``end`` (datetime, date, ISO string or epoch ms; ``end`` exclusive, a bare date as ``end`` means
    the end of that day) skip whole days and files outside the window, then frames whose exchange time is
    outside it; frames without a time are kept when their file is in the window. ``types`` matches a frame's
    ``type`` or its subject token (``orderbook`` covers snapshots and deltas); ``tickers`` the raw ticker.
    ``parsed=True`` fills ``.value`` eagerly. Raises :class:`ssmd.archive.ArchiveError` for a path that is not
    an archive, and while iterating for a file that is not valid gzip (naming the file).
    """
    window = Window.of(start, end)
    days = find_days(path, feed)
    type_set = _as_set(types)
    ticker_set = _as_set(tickers)
    return _frames(days, window, type_set, ticker_set, parsed)


def _frames(
    days: list[Day], window: Window, types: frozenset[str] | None, tickers: frozenset[str] | None, parsed: bool
) -> Iterator[ArchiveFrame]:
    need_head = types is not None or tickers is not None or window.bounded
    for day in days:
        if not window.overlaps_day(day.date):
            continue
        fmt = day.manifest_format()
        ends = _file_ends(day)
        for file in day.data_files():
            if not window.overlaps(window_start(day.date, file.name), ends.get(file.name)):
                continue
            for frame in iter_file(file, fmt, need_head):
                if need_head and not _matches(frame, window, types, tickers):
                    continue
                if parsed:
                    frame.value  # noqa: B018 - fill the cache now, as asked
                yield frame


def iter_file(file: Path, fmt: str, decode: bool = False) -> Iterator[ArchiveFrame]:
    """Every frame of one file; ``decode`` decodes each frame's head up front (filters need it)."""
    name = str(file)
    envelope = fmt == "envelope"
    number = 0
    try:
        for number, line in enumerate(iter_lines(file), 1):
            if number == 1 and not envelope and is_envelope(line):
                envelope = True
            if envelope:
                try:
                    raw, seq, _subject = unwrap(line)
                except BAD_LINE:
                    raw, seq = line, None
            else:
                raw, seq = line, None
            yield ArchiveFrame(raw, name, number, seq, decode_head(raw) if decode else None)
    except GZIP_ERRORS as exc:
        raise ArchiveError(f"{file}: unreadable after line {number}: {exc or type(exc).__name__} "
                           f"(run ssmd archive verify)") from None


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


def _file_ends(day: Day) -> dict[str, dt.datetime]:
    """Window ends from the manifest (a file's end is not in its name)."""
    try:
        manifest = day.manifest()
    except ArchiveError:  # an unreadable manifest only costs the file-level skip; verify reports it
        return {}
    out: dict[str, dt.datetime] = {}
    for entry in (manifest or {}).get("files") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("end"), str):
            try:
                out[entry["name"]] = dt.datetime.fromisoformat(entry["end"].replace("Z", "+00:00"))
            except ValueError:
                continue
    return out


def _as_set(values: Collection[str] | str | None) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [v for v in values.split(",") if v]
    return frozenset(values)
