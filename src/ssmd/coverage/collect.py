"""Coverage events picked out of archive lines, in any order: what ``ssmd archive coverage`` and ``verify``'s single
pass both use. It imports nothing from :mod:`ssmd.archive`, so the archive tools can call it without a cycle."""

from __future__ import annotations

from collections.abc import Callable

from ssmd.coverage.events import BadEvent, CoverageEvent, decode, is_coverage
from ssmd.coverage.ledger import CoverageReport, build

BAD_EVENT = "bad_coverage_event"
"""A line with the coverage marker that is not a valid event: the report may be wrong around it."""

Report = Callable[[str, str, str], None]
"""``(kind, where, detail)``: the archive tools' problem sink (``Problems.add``, verify's per-day result)."""


class EventCollector:
    def __init__(self, report: Report | None = None) -> None:
        self.events: list[CoverageEvent] = []
        self.bad = 0
        self._report = report

    def offer(self, raw: bytes, where: str, report: Report | None = None) -> bool:
        """Take ``raw`` if it is a coverage line (``True``: it is not an exchange frame). A bad event goes to
        ``report`` (default: the collector's)."""
        if not is_coverage(raw):
            return False
        try:
            self.events.append(decode(raw))
        except BadEvent as exc:
            self.bad += 1
            sink = report or self._report
            if sink is not None:
                sink(BAD_EVENT, where, str(exc))
        return True

    def report(self, start_ms: int | None = None, end_ms: int | None = None,
               grace_ms: int | None = None) -> CoverageReport:
        return build(self.events, start_ms, end_ms, grace_ms, bad_events=self.bad)
