"""Where an archive's files are: resolve a user's path to ordered days and files (docs/archive-format.md).

A user may point at the archive root, a feed directory, a day directory or one ``.jsonl.gz`` file; every tool
accepts all four, and every reader lists, orders and checks a day's files here (names and order are
:mod:`ssmd.archive_format.layout`'s).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ssmd.archive_format.layout import DAY_RE, MANIFEST, SUFFIX, TMP, file_key, is_data_file, parse_day
from ssmd.archive_format.manifest import FileEntry, Manifest
from ssmd.archive_format.problems import MISSING_FILE, ArchiveError, Report

__all__ = ["ArchiveError", "Day", "find_days"]


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
        """Closed data files, in archive order. A ``.tmp`` file is still being written and is never read."""
        if self.only is not None:
            return [self.path / self.only]
        names = [p.name for p in self.path.iterdir() if is_data_file(p.name) and p.is_file()]
        return [self.path / n for n in sorted(names, key=file_key)]

    def tmp_files(self) -> list[Path]:
        if self.only is not None:
            return []
        return sorted(p for p in self.path.iterdir() if p.name.endswith(TMP))

    def where(self, name: str) -> str:
        """How problems name a file of this day: ``feed/YYYY-MM-DD/HHMM.jsonl.gz``."""
        return f"{self.label}/{name}"

    def listing(self, report: Report) -> tuple[Manifest | None, dict[str, FileEntry]]:
        """The manifest (``None`` if there is none or it is unreadable) and its file entries by name, only this
        day's single file when ``only`` is set. An unreadable manifest or malformed entry is ``manifest_invalid``."""
        manifest = Manifest.read(self.path, report, self.label)
        if manifest is None:
            return None, {}
        entries = manifest.files
        if self.only is not None:
            entries = {k: v for k, v in entries.items() if k == self.only}
        return manifest, entries

    def files(self, entries: dict[str, FileEntry]) -> list[tuple[str, Path | None]]:
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


def find_days(path: str | Path, feed: str | None = None) -> list[Day]:
    """Resolve ``path`` (root, feed dir, day dir or one file) to days in (feed, date) order."""
    root = Path(path)
    if not root.exists():
        raise ArchiveError(f"{root}: no such file or directory")
    if root.is_file():
        if not is_data_file(root.name):
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
    return (path / MANIFEST).exists() or any(p.name.endswith((SUFFIX, f"{SUFFIX}{TMP}")) for p in path.iterdir())


def _day_dirs(path: Path) -> list[Path]:
    return sorted(d for d in path.iterdir() if d.is_dir() and DAY_RE.match(d.name))
