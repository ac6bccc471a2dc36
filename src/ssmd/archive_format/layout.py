"""Names and places of an archive (docs/archive-format.md "Layout"): the one home of file names, their order,
rotation windows, the ``.tmp`` rule, and the file operations that keep a name from ever being half-written.

Both sides use it: the writer to name, publish and replace files, every reader to list and order them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import re
from pathlib import Path

SUFFIX = ".jsonl.gz"
"""A closed data file: ``HHMM.jsonl.gz`` or ``HHMM_n.jsonl.gz``."""
TMP = ".tmp"
"""Appended to a name while the file is being written (or awaits crash recovery): readers never read it."""
MANIFEST = "manifest.json"
MANIFEST_TMP = f".{MANIFEST}{TMP}"
"""The manifest's own temp file while it is replaced (see :func:`write_atomic`)."""
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FILE_RE = re.compile(r"^(\d{2})(\d{2})(?:_(\d+))?\.jsonl\.gz$")


def file_name(base: str, n: int) -> str:
    """The ``n``-th file of the window starting at ``base`` (``HHMM``): ``1200.jsonl.gz``, ``1200_1.jsonl.gz`` ..."""
    return f"{base}{SUFFIX}" if n == 0 else f"{base}_{n}{SUFFIX}"


def file_key(name: str) -> tuple[int, int, str]:
    """Archive order of file names: window start, then the ``_n`` counter as a number (``1200``, ``1200_1``,
    ``1200_2`` ... ``1200_10``, then ``1215``). Names that are not data files sort last, by name."""
    match = FILE_RE.match(name)
    if not match:
        return (10**6, 0, name)
    return (int(match.group(1)) * 60 + int(match.group(2)), int(match.group(3) or 0), name)


def is_data_file(name: str) -> bool:
    return name.endswith(SUFFIX)


def is_tmp(name: str) -> bool:
    return name.endswith(TMP)


def parse_day(name: str) -> dt.date | None:
    """The date of a ``YYYY-MM-DD`` day directory name, ``None`` for anything else."""
    if not DAY_RE.match(name):
        return None
    try:
        return dt.date.fromisoformat(name)
    except ValueError:
        return None


def window_start(day: dt.date | None, name: str) -> dt.datetime | None:
    """The UTC start of a file's rotation window, from its ``HHMM`` name (``None`` if the name has none)."""
    match = FILE_RE.match(name)
    if day is None or not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


def name_time(day: str, name: str) -> dt.datetime:
    """A file's window start from its day and name; the day's midnight when the name has no valid ``HHMM``."""
    start = window_start(parse_day(day), name)
    if start is not None:
        return start
    return dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.UTC)


def window(now: float, interval_s: int) -> tuple[str, dt.datetime, float]:
    """``(day, window start, window end)`` for ``now``: windows are aligned from UTC midnight and never
    cross it (a date change closes the day)."""
    moment = utc(now)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    since = int((moment - midnight).total_seconds())
    start = midnight + dt.timedelta(seconds=since - since % interval_s)
    end = min(start + dt.timedelta(seconds=interval_s), midnight + dt.timedelta(days=1))
    return f"{midnight:%Y-%m-%d}", start, end.timestamp()


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def iso(ts: dt.datetime) -> str:
    """Manifest times: RFC 3339 UTC, fractions only when there are any (``2026-11-25T12:00:00Z``)."""
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


# -- file operations ---------------------------------------------------------------------------------------------


def publish(day_dir: Path, name: str) -> str:
    """Give ``name.tmp`` its final name without ever replacing a file: link (fails if taken), then unlink. A taken
    name moves on to the window's next free ``_n``; returns the name used."""
    tmp = day_dir / f"{name}{TMP}"
    base = name.removesuffix(SUFFIX).split("_")[0]
    candidates = itertools.chain([name], (file_name(base, n) for n in itertools.count(1)))
    for candidate in itertools.islice(candidates, 1_000_000):
        try:
            os.link(tmp, day_dir / candidate)
        except FileExistsError:
            continue
        tmp.unlink()
        fsync_dir(day_dir)
        return candidate
    raise OSError(f"no free name for {tmp}")  # pragma: no cover


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that it is the old or the new content, never half, never missing.

    The old file stays until the new one is durable (temp written and fsynced, then renamed over it). On any
    failure (a full disk) the temp is removed: a stray ``.NAME.tmp`` would look like a file being written.
    """
    tmp = path.with_name(f".{path.name}{TMP}")
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
