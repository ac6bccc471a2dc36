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

from ssmd.archive.problems import MANIFEST_INVALID, MISSING_FILE, ArchiveError, Report

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FILE_RE = re.compile(r"^(\d{2})(\d{2})(?:_(\d+))?\.jsonl\.gz$")
MANIFEST = "manifest.json"
TMP_SUFFIX = ".tmp"


__all__ = ["ArchiveError", "Day", "file_key", "find_days", "manifest_format", "parse_day", "window_start"]


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

    def where(self, name: str) -> str:
        """How problems name a file of this day: ``feed/YYYY-MM-DD/HHMM.jsonl.gz``."""
        return f"{self.label}/{name}"

    def listing(self, report: Report) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
        """The manifest (``None`` if there is none or it is unreadable) and its file entries by name, only this
        day's single file when ``only`` is set. An unreadable manifest or malformed entry is ``manifest_invalid``."""
        try:
            manifest = self.manifest()
        except ArchiveError as exc:
            report(MANIFEST_INVALID, self.label, str(exc))
            return None, {}
        if manifest is None:
            return None, {}
        files = manifest.get("files")
        if not isinstance(files, list):
            report(MANIFEST_INVALID, self.label, "manifest.json has no 'files' list")
            return manifest, {}
        entries: dict[str, dict[str, Any]] = {}
        for index, entry in enumerate(files):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                report(MANIFEST_INVALID, self.label, f"files[{index}] has no name")
                continue
            if entry["name"] in entries:
                report(MANIFEST_INVALID, self.label, f"files[{index}]: {entry['name']} listed twice")
            entries[entry["name"]] = entry
        if self.only is not None:
            entries = {k: v for k, v in entries.items() if k == self.only}
        return manifest, entries

    def files(self, entries: dict[str, dict[str, Any]]) -> list[tuple[str, Path | None]]:
        """Every closed data file on disk and every file the manifest lists (``entries``, from :meth:`listing`), in
        archive order; a listed file that is not on disk comes with ``None``: report it with :meth:`missing` where
        its data would have been."""
        on_disk = {p.name: p for p in self.data_files()}
        names = sorted(set(on_disk) | set(entries), key=file_key)
        return [(name, on_disk.get(name)) for name in names]

    def missing(self, name: str, report: Report) -> None:
        """A listed file that is not on disk: the archiver renames a file into place before it lists it, so a listed
        file is never legitimately absent."""
        report(MISSING_FILE, self.where(name), "listed in manifest.json but not on disk")


def manifest_format(manifest: dict[str, Any] | None) -> str:
    """``jsonl`` or ``envelope``; without a readable manifest ``jsonl``, and readers sniff each file's first line."""
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
