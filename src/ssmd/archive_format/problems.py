"""What can be wrong with an archive, named once for ``verify`` and for every reader.

A reader that meets a damaged archive keeps going (what is readable is still worth having) but must never be
silent about what it could not read: each problem goes into a :class:`Problems` collector, which the caller
inspects, prints (``on_problem``) or turns into :class:`ArchiveProblems`. ``verify`` reports the same kinds with
the same ``where`` and wording, because both call the classifying code in :mod:`ssmd.archive_format.lines` and
:mod:`ssmd.archive_format.days`. Public as :mod:`ssmd.archive.problems`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

BAD_GZIP = "bad_gzip"
"""The file is not a complete, valid gzip stream (also an empty file); the rest of it cannot be read."""
BAD_LINE = "bad_line"
"""A line that is not UTF-8 text, or (``format: envelope``) not a valid envelope; it is skipped, never yielded."""
TORN_LINE = "torn_line"
"""The last line has no newline: the file was cut short; that fragment is skipped."""
MISSING_FILE = "missing_file"
"""The manifest lists the file, the disk does not have it (or it cannot be opened)."""
UNREADABLE_FILE = "unreadable_file"
"""The file is there but cannot be opened (permissions)."""
MANIFEST_INVALID = "manifest_invalid"
"""``manifest.json`` is not a readable JSON object with a ``files`` list of named entries."""
RECORDS_MISMATCH = "records_mismatch"
"""The file's line count differs from the manifest's ``records`` (e.g. cut after a whole gzip member)."""
SIZE_MISMATCH = "size_mismatch"
SHA256_MISMATCH = "sha256_mismatch"



class ArchiveError(Exception):
    """A path that is not an archive, or an archive that could not be read; ``str()`` names the path."""


MAX_DETAILS = 20
"""Problems kept with their detail per kind; the counts are always complete (a garbage file has a bad line per
line, and a terminal should not scroll a million of them)."""


@dataclass(frozen=True)
class Problem:
    kind: str
    where: str
    """``feed/YYYY-MM-DD[/file[:line]]``, as ``verify`` prints it."""
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.detail}"


class Report(Protocol):
    """Where classifying code sends a problem: ``Problems.add`` or verify's per-day result."""

    def __call__(self, kind: str, where: str, detail: str) -> None: ...


class Problems:
    """Problems found while reading, in the order found. ``counts`` has every one by kind; iterating gives the first
    :data:`MAX_DETAILS` of each kind, and exactly those are passed to ``on_problem`` when found."""

    def __init__(self, on_problem: Callable[[Problem], Any] | None = None) -> None:
        self.on_problem = on_problem
        self.counts: dict[str, int] = {}
        self.shown: list[Problem] = []

    def add(self, kind: str, where: str, detail: str) -> None:
        count = self.counts.get(kind, 0)
        self.counts[kind] = count + 1
        if count < MAX_DETAILS:
            problem = Problem(kind, where, detail)
            self.shown.append(problem)
            if self.on_problem is not None:
                self.on_problem(problem)

    def __len__(self) -> int:
        return sum(self.counts.values())

    def __bool__(self) -> bool:
        return bool(self.counts)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.shown)

    def not_shown(self) -> dict[str, int]:
        """Per kind, how many problems were counted beyond the ones kept with detail."""
        shown: dict[str, int] = {}
        for problem in self.shown:
            shown[problem.kind] = shown.get(problem.kind, 0) + 1
        return {kind: count - shown.get(kind, 0) for kind, count in self.counts.items() if count > shown.get(kind, 0)}

    def summary(self) -> str:
        """``3 problem(s) (bad_gzip: 1, missing_file: 2)``."""
        kinds = ", ".join(f"{kind}: {count}" for kind, count in sorted(self.counts.items()))
        return f"{len(self)} problem(s) ({kinds})"


class ArchiveProblems(ArchiveError):
    """Raised by ``ssmd.archive.open`` after the last readable frame when the archive had problems (unless
    ``ignore_problems=True``): the frames already yielded lack data. ``.problems`` says what and where."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        first = f", the first: {problems.shown[0]}" if problems.shown else ""
        super().__init__(f"{problems.summary()} while reading the archive{first}. The frames read lack that "
                         f"data; see 'ssmd archive verify', or pass ignore_problems=True to accept it")


def compare(entry: Mapping[str, Any], where: str, report: Report, **actual: Any) -> None:
    """Report each of ``actual`` (``records=``, ``bytes=``, ``sha256=``, ...) that differs from the manifest entry."""
    for key, value in actual.items():
        want = entry.get(key)
        if want is None and key.startswith("nats_"):
            continue
        if want != value:
            kind = {"sha256": SHA256_MISMATCH, "records": RECORDS_MISMATCH}.get(key, SIZE_MISMATCH)
            report(kind, where, f"manifest {key}={want!r}, file has {value!r}")
