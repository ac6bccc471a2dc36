"""Coverage events out of an archive (they are archived with the data: see :mod:`ssmd.coverage.events`).

The whole archive is read up to ``end``, not from ``start``: whether an instance was subscribed at ``start``
depends on events before it. Only lines starting with the marker are parsed; data frames cost one prefix test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ssmd.archive.problems import Problem, Problems, Report
from ssmd.coverage.events import BadEvent, CoverageEvent, decode, is_coverage
from ssmd.coverage.ledger import CoverageReport, build

BAD_EVENT = "bad_coverage_event"
"""A line with the coverage marker that is not a valid event: coverage in its window may be misjudged."""


class EventCollector:
    """Coverage events from raw lines, in any order; also fed line by line by ``verify``'s single pass."""

    def __init__(self, problems: Problems | None = None) -> None:
        self.events: list[CoverageEvent] = []
        self.problems = problems if problems is not None else Problems()
        self.bad = 0

    def offer(self, raw: bytes, where: str, report: Report | None = None) -> bool:
        """Take ``raw`` if it is a coverage line (``True``: not an exchange frame). A bad event goes to ``report``
        (default: ``problems``)."""
        if not is_coverage(raw):
            return False
        try:
            self.events.append(decode(raw))
        except BadEvent as exc:
            self.bad += 1
            (report or self.problems.add)(BAD_EVENT, where, str(exc))
        return True

    def report(self, start_ms: int | None = None, end_ms: int | None = None,
               grace_ms: int | None = None) -> CoverageReport:
        return build(self.events, start_ms, end_ms, grace_ms, bad_events=self.bad)


def load(path: str | Path, feed: str | None = None,
         on_problem: Callable[[Problem], Any] | None = None) -> EventCollector:
    """Every coverage event under ``path`` (root, feed, day or file). Archive problems and bad events go to
    the collector's ``problems`` (and ``on_problem`` as found); :class:`ssmd.archive.ArchiveError` for a path that
    is not an archive."""
    import ssmd.archive

    reader = ssmd.archive.open(path, feed=feed, ignore_problems=True, on_problem=on_problem or _quiet)
    collector = EventCollector(reader.problems)
    for frame in reader:
        collector.offer(frame.raw, f"{'/'.join(Path(frame.file).parts[-3:])}:{frame.line}")  # as verify names it
    return collector


def _quiet(problem: Problem) -> None:
    """Problems are returned on the collector; the caller decides how to show them."""
