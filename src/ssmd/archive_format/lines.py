"""Lines out of one archive file: fast gzip (``isal``), chunked splitting, envelope unwrapping, and the checks that
decide what is a frame and what is a problem (:class:`FileLines`, shared by every reader and ``verify``).

``isal.igzip`` decompresses about 3x faster than the standard ``gzip`` module (see bench/archive_read.py), and
reading 1 MiB at a time keeps memory flat however large a rotation window gets.
"""

from __future__ import annotations

import mmap
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

from isal import igzip, isal_zlib

from ssmd.archive_format.envelope import BAD_ENVELOPE, is_envelope, unwrap
from ssmd.archive_format.members import Origin, record_origins
from ssmd.archive_format.problems import BAD_GZIP, BAD_LINE, MISSING_FILE, TORN_LINE, UNREADABLE_FILE, Report

CHUNK = 1 << 20


GZIP_ERRORS: tuple[type[BaseException], ...] = (EOFError, OSError, cast(type[Exception], isal_zlib.error), zlib.error)


Line = tuple[int, bytes, int | None]
"""``(line number, raw frame, stream seq)``: seq only in ``format: envelope``."""


class FileLines:
    """The frames of one closed archive file, checked as they are read.

    Iterating yields a :data:`Line` for every good line. What cannot be trusted is never yielded but reported, with
    the kinds of :mod:`ssmd.archive_format.problems`: a file that is empty or stops being valid gzip (``bad_gzip``, the
    rest of it is lost), a line that is not UTF-8 text or not a valid envelope (``bad_line``), a last line without
    its newline (``torn_line``). Exchange frames are WebSocket text, and a payload that is not JSON is kept in an
    envelope's ``data_b64``, so bytes that are not text mean damage, not data. A ``jsonl`` line that is text but
    not JSON *is* data: the connector forwards what it cannot parse.

    After iterating: ``records`` (lines, good or bad, as the manifest counts them), ``size`` (decompressed bytes),
    ``envelope`` (the format, sniffed from the first line without a manifest) and ``complete`` (read to the end).
    ``tap`` wraps the raw file before decompression (``verify`` hashes the compressed bytes through it).
    """

    def __init__(self, path: Path, where: str, fmt: str, report: Report,
                 tap: Callable[[BinaryIO], Any] | None = None) -> None:
        self.path = path
        self.where = where
        self.report = report
        self.envelope = fmt == "envelope"
        self.tap = tap
        self.records = 0
        self.size = 0
        self.complete = False

    def __iter__(self) -> Iterator[Line]:
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            self.report(MISSING_FILE, self.where, "removed from disk while being read")
            return
        except OSError as exc:
            self.report(UNREADABLE_FILE, self.where, f"cannot open: {exc.strerror or exc}")
            return
        with handle:
            if os.fstat(handle.fileno()).st_size == 0:
                self.report(BAD_GZIP, self.where, "empty file (0 bytes): not a gzip stream")
                return
            source = self.tap(handle) if self.tap is not None else handle
            try:
                with igzip.GzipFile(fileobj=source, mode="rb") as stream:  # type: ignore[no-untyped-call]
                    yield from self._lines(stream)
                while source.read(CHUNK):  # let a tap see any bytes the gzip reader left (padding)
                    pass
            except GZIP_ERRORS as exc:
                self.report(BAD_GZIP, self.where, f"not a valid gzip file (after line {self.records}): "
                            f"{exc or type(exc).__name__}")
                return
        self.complete = True

    def with_origins(self) -> Iterator[tuple[int, bytes, int | None, Origin | None]]:
        """Like iterating, with each line's :class:`~ssmd.archive_format.members.Origin` (which connector instance
        and connection published it), from the members' ``SO`` subfields. ``None`` where it is unknown: files and
        members written without origins, and lines after a damaged member. Plain iteration never reads origins."""
        origins = self._origins()
        known = len(origins)
        for number, raw, seq in self:
            yield number, raw, seq, origins[number - 1] if number <= known else None

    def _origins(self) -> list[Origin | None]:
        try:
            with self.path.open("rb") as handle:
                if os.fstat(handle.fileno()).st_size == 0:
                    return []
                with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                    return record_origins(data)
        except OSError:
            return []  # iterating reports why the file cannot be read

    def _lines(self, stream: Any) -> Iterator[Line]:
        rest = b""
        number = 0
        while chunk := stream.read(CHUNK):
            self.size += len(chunk)
            data = rest + chunk if rest else chunk
            lines = data.split(b"\n")
            rest = lines.pop()
            if not lines:
                continue
            if number == 0 and not self.envelope and is_envelope(lines[0]):
                self.envelope = True
            text = data.isascii() or _is_utf8(memoryview(data)[:len(data) - len(rest)])
            if text and not self.envelope:  # the common case: one check per chunk, none per line
                for line in lines:
                    number += 1
                    yield number, line, None
            else:
                for line in lines:
                    number += 1
                    checked = self._check(line, number, text)
                    if checked is not None:
                        yield number, checked[0], checked[1]
            self.records = number
        if rest:
            self.records = number + 1
            self.report(TORN_LINE, self.where, "last line has no newline: the file was cut short")

    def _check(self, line: bytes, number: int, text: bool) -> tuple[bytes, int | None] | None:
        if not text and not _is_utf8(line):
            self.report(BAD_LINE, f"{self.where}:{number}", "not UTF-8 text")
            return None
        if not self.envelope:
            return line, None
        try:
            raw, seq, _subject = unwrap(line)
        except BAD_ENVELOPE:
            self.report(BAD_LINE, f"{self.where}:{number}", "not a valid envelope line")
            return None
        return raw, seq


def _is_utf8(data: bytes | memoryview) -> bool:
    try:
        str(data, "utf-8")
    except UnicodeDecodeError:
        return False
    return True
