"""Where an archive's files are (docs/archive-format.md): resolve a user's path to ordered days and files.

A user may point at the archive root, a feed directory, a day directory or one ``.jsonl.gz`` file; every tool
accepts all four, so this module is the only place that knows the directory layout.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FILE_RE = re.compile(r"^(\d{2})(\d{2})(?:_(\d+))?\.jsonl\.gz$")
MANIFEST = "manifest.json"
TMP_SUFFIX = ".tmp"


class ArchiveError(Exception):
    """A path that is not an archive, or a manifest that cannot be read; ``str()`` names the path."""


def file_key(name: str) -> tuple[int, int, str]:
    """Sort key for data files: window start, then the ``_n`` counter as a number (``1200_10`` after ``1200_2``)."""
    match = FILE_RE.match(name)
    if not match:
        return (10**6, 0, name)
    return (int(match.group(1)) * 60 + int(match.group(2)), int(match.group(3) or 0), name)


def window_start(day: dt.date | None, name: str) -> dt.datetime | None:
    """The UTC start of a file's rotation window, from its ``HHMM`` name."""
    match = FILE_RE.match(name)
    if day is None or not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


def parse_day(name: str) -> dt.date | None:
    if not DAY_RE.match(name):
        return None
    try:
        return dt.date.fromisoformat(name)
    except ValueError:
        return None


@dataclass(frozen=True)
class Day:
    """One ``{feed}/{YYYY-MM-DD}`` directory, or a single file of it (``only``)."""

    feed: str
    date: dt.date | None
    path: Path
    only: str | None = None

    @property
    def label(self) -> str:
        return f"{self.feed}/{self.path.name}"

    def data_files(self) -> list[Path]:
        """Closed data files, in window order. A ``.tmp`` file is still being written and is never read."""
        if self.only is not None:
            return [self.path / self.only]
        names = [p.name for p in self.path.iterdir() if p.name.endswith(".jsonl.gz") and p.is_file()]
        return [self.path / n for n in sorted(names, key=file_key)]

    def tmp_files(self) -> list[Path]:
        if self.only is not None:
            return []
        return sorted(p for p in self.path.iterdir() if p.name.endswith(TMP_SUFFIX))

    def manifest(self) -> dict[str, Any] | None:
        """The day's manifest, ``None`` if there is none; unreadable JSON raises :class:`ArchiveError`."""
        path = self.path / MANIFEST
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ArchiveError(f"{path}: cannot read manifest: {exc}") from None
        if not isinstance(data, dict):
            raise ArchiveError(f"{path}: manifest is not a JSON object")
        return data

    def manifest_format(self) -> str:
        """``jsonl`` or ``envelope``; a day without a readable manifest is assumed ``jsonl`` and sniffed per file."""
        try:
            manifest = self.manifest()
        except ArchiveError:
            return "jsonl"
        fmt = manifest.get("format") if manifest else None
        return fmt if fmt in ("jsonl", "envelope") else "jsonl"


def find_days(path: str | Path, feed: str | None = None) -> list[Day]:
    """Resolve ``path`` (root, feed dir, day dir or one file) to days in (feed, date) order."""
    root = Path(path)
    if not root.exists():
        raise ArchiveError(f"{root}: no such file or directory")
    if root.is_file():
        if not root.name.endswith(".jsonl.gz"):
            raise ArchiveError(f"{root}: expected an archive file named HHMM.jsonl.gz")
        return [Day(feed=root.parent.parent.name, date=parse_day(root.parent.name), path=root.parent, only=root.name)]
    if _is_day_dir(root):
        return [Day(feed=root.parent.name, date=parse_day(root.name), path=root)]
    if _day_dirs(root):
        if feed is not None and feed != root.name:
            raise ArchiveError(f"{root}: this is the directory of feed {root.name!r}, not {feed!r}")
        return [Day(feed=root.name, date=parse_day(d.name), path=d) for d in _day_dirs(root)]
    feeds = sorted(d for d in root.iterdir() if d.is_dir() and _day_dirs(d))
    if feed is not None:
        feeds = [d for d in feeds if d.name == feed]
        if not feeds:
            raise ArchiveError(f"{root}: no feed {feed!r} here (expected {root / feed}/YYYY-MM-DD/)")
    if not feeds:
        raise ArchiveError(f"{root}: not an archive (expected {{feed}}/YYYY-MM-DD/HHMM.jsonl.gz below it)")
    return [Day(feed=f.name, date=parse_day(d.name), path=d) for f in feeds for d in _day_dirs(f)]


def _is_day_dir(path: Path) -> bool:
    if DAY_RE.match(path.name):
        return True
    return (path / MANIFEST).exists() or any(p.name.endswith((".jsonl.gz", ".jsonl.gz.tmp")) for p in path.iterdir())


def _day_dirs(path: Path) -> list[Path]:
    return sorted(d for d in path.iterdir() if d.is_dir() and DAY_RE.match(d.name))
