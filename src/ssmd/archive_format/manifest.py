"""``manifest.json``, one per day: the one typed model the writer merges and saves and every reader loads.

The manifest is the index readers trust: it lists every closed file of the day across restarts, the gaps, and
day-wide ticker and message-type sets (docs/archive-format.md). The writer merges into it (never overwrites an
entry it did not write) and replaces it atomically; readers load it through :meth:`Manifest.read`, which
validates what they rely on and reports the rest as ``manifest_invalid``. Unknown top-level keys are kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

import orjson

from ssmd.archive_format.layout import MANIFEST, file_key, iso, write_atomic
from ssmd.archive_format.problems import MANIFEST_INVALID, ArchiveError, Report
from ssmd.archive_format.stats import FileStats

VERSION = 1
Format = Literal["jsonl", "envelope"]
FORMATS: tuple[Format, ...] = ("jsonl", "envelope")
_KNOWN = {"version", "feed", "date", "format", "rotation_interval", "files", "gaps", "tickers", "message_types",
          "has_gaps", "possible_gaps"}


class FileEntry(TypedDict, total=False):
    """One closed file (docs/archive-format.md): as written, and as read back (readers check every key)."""

    name: str
    start: str
    end: str
    records: int
    bytes: int
    compressed_bytes: int
    sha256: str
    nats_start_seq: int | None
    nats_end_seq: int | None
    records_by_type: dict[str, int]
    first_ts_ms: int | None
    last_ts_ms: int | None


@dataclass
class Manifest:
    feed: str
    date: str
    format: str
    rotation_interval: str
    files: dict[str, FileEntry] = field(default_factory=dict)
    """By name; saved in archive order (:func:`~ssmd.archive_format.layout.file_key`)."""
    gaps: list[dict[str, Any]] = field(default_factory=list)
    possible_gaps: list[dict[str, Any]] = field(default_factory=list)
    tickers: set[str] = field(default_factory=set)
    message_types: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)

    # -- loading ---------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, day_dir: Path, feed: str, date: str, fmt: str, interval: str) -> Manifest:
        """The writer's view: the day's manifest if it exists (keeping every entry), else an empty one."""
        path = day_dir / MANIFEST
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return cls(feed, date, fmt, interval)
        return cls.from_json(data, str(path), None, feed, date, fmt, interval)

    @classmethod
    def read(cls, day_dir: Path, report: Report, where: str) -> Manifest | None:
        """The readers' view: ``None`` if there is none; an unreadable manifest is reported (``manifest_invalid``,
        at ``where``) and ``None``; malformed file entries are reported and left out."""
        path = day_dir / MANIFEST
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as exc:
            report(MANIFEST_INVALID, where, f"{path}: cannot read manifest: {exc}")
            return None
        try:
            return cls.from_json(data, str(path), _Located(report, where))
        except ArchiveError as exc:
            report(MANIFEST_INVALID, where, str(exc))
            return None

    @classmethod
    def from_json(cls, data: Any, path: str, report: _Located | None = None, feed: str = "", date: str = "",
                  fmt: str = "jsonl", interval: str = "") -> Manifest:
        """Parse a decoded manifest. Raises :class:`ArchiveError` if it is not an object; with ``report``, a
        missing ``files`` list and bad entries are reported (the writer, without one, keeps what it can)."""
        if not isinstance(data, dict):
            raise ArchiveError(f"{path}: manifest is not a JSON object")
        files = data.get("files", [])
        if not isinstance(files, list):
            if report is not None:
                report("manifest.json has no 'files' list")
            files = []
        entries: dict[str, FileEntry] = {}
        for index, entry in enumerate(files):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                if report is not None:
                    report(f"files[{index}] has no name")
                continue
            if entry["name"] in entries and report is not None:
                report(f"files[{index}]: {entry['name']} listed twice")
            entries[entry["name"]] = entry  # type: ignore[assignment]
        if report is not None and "files" not in data:
            report("manifest.json has no 'files' list")
        return cls(
            feed=data.get("feed", feed),
            date=data.get("date", date),
            format=data.get("format", fmt),
            rotation_interval=data.get("rotation_interval", interval),
            files=entries,
            gaps=_dicts(data.get("gaps")),
            possible_gaps=_dicts(data.get("possible_gaps")),
            tickers=set(_strings(data.get("tickers"))),
            message_types=set(_strings(data.get("message_types"))),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )

    # -- what readers ask ------------------------------------------------------------------------------------

    @property
    def line_format(self) -> Format:
        """``jsonl`` or ``envelope`` (anything else is read as ``jsonl``, and readers sniff each file)."""
        return "envelope" if self.format == "envelope" else "jsonl"

    def last_seq(self) -> int:
        return max((f.get("nats_end_seq") or 0 for f in self.files.values()), default=0)

    def file_end(self, name: str) -> dt.datetime | None:
        """The end of a file's window as recorded (a file's end is not in its name); ``None`` if unknown."""
        end = self.files.get(name, {}).get("end")
        if not isinstance(end, str):
            return None
        try:
            return dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
        except ValueError:
            return None

    # -- what the writer changes -----------------------------------------------------------------------------

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

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "version": VERSION,
            "feed": self.feed,
            "date": self.date,
            "format": self.format,
            "rotation_interval": self.rotation_interval,
            "files": [self.files[k] for k in sorted(self.files, key=file_key)],
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


@dataclass(frozen=True)
class _Located:
    """A report bound to the day it is about (every manifest problem is ``manifest_invalid`` at the day)."""

    report: Report
    where: str

    def __call__(self, detail: str) -> None:
        self.report(MANIFEST_INVALID, self.where, detail)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
