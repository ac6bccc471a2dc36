"""The ledger fed live, one event at a time: seconds with no instance subscribed, per ``(feed, channel)``, so far.

Why not :func:`ssmd.coverage.ledger.build` every few seconds: it re-reads every event since the start, and
heartbeats alone are 8,640 a day per instance. This keeps the same sweep (:class:`ssmd.coverage.ledger._Sweep`, so
the model is the one ``ssmd archive coverage`` reports) and feeds it each event once. The sweep wants time order,
and events from several hosts arrive a little out of it (a stall is dated back to its last frame), so events wait
``lag_s`` before they are applied; one older than what was already applied is applied at that point instead (its
window is shifted by at most its lateness: the archive's report, built afterwards, is exact). The totals only
grow: the archiver exports them as the counter ``ssmd_coverage_uncovered_seconds_total{feed, channel}``.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Callable

from ssmd.coverage.events import BadEvent, CoverageEvent, decode
from ssmd.coverage.ledger import Unit, _Sweep
from ssmd.coverage.recorder import wall_ms

LAG_S = 5.0
"""How long an event waits for earlier ones from other hosts before it is applied."""


class LiveCoverage:
    def __init__(self, lag_s: float = LAG_S, clock: Callable[[], int] = wall_ms) -> None:
        self._lag_ms = int(lag_s * 1000)
        self._clock = clock
        self._sweep = _Sweep(None)
        self._waiting: list[tuple[int, int, CoverageEvent]] = []
        self._order = itertools.count()
        self._applied_ms: int | None = None
        self._closed: dict[Unit, int] = {}
        self.bad = 0
        """Lines with the coverage marker that are not valid events (they change nothing)."""

    def offer(self, raw: bytes) -> None:
        """Take one coverage line (the caller tested :func:`ssmd.coverage.events.is_coverage`)."""
        try:
            event = decode(raw)
        except BadEvent:
            self.bad += 1
            return
        heapq.heappush(self._waiting, (event.at_ms, next(self._order), event))

    def uncovered_ms(self, now_ms: int | None = None) -> dict[Unit, int]:
        """Apply what has waited long enough, then the total uncovered ms per unit up to ``now - lag``."""
        horizon = (self._clock() if now_ms is None else now_ms) - self._lag_ms
        if self._applied_ms is not None:
            horizon = max(horizon, self._applied_ms)
        sweep = self._sweep
        while self._waiting and self._waiting[0][0] <= horizon:
            at, _, event = heapq.heappop(self._waiting)
            if self._applied_ms is not None and at < self._applied_ms:
                at = self._applied_ms
                event = dataclasses.replace(event, ts_ms=at, since_ms=None)
            sweep.expire(at)
            if sweep.apply(event):
                sweep.snapshot(at)
            self._applied_ms = at
        sweep.expire(horizon)
        self._applied_ms = horizon
        for closed in sweep.gaps:
            self._closed[closed.unit] = self._closed.get(closed.unit, 0) + closed.end_ms - closed.start_ms
        sweep.gaps.clear()
        self._forget_history()
        totals = {unit: 0 for unit in sweep.wanted} | self._closed  # a channel known and covered shows 0
        for unit, still in sweep.open_gaps.items():
            totals[unit] = totals.get(unit, 0) + max(0, horizon - still.start_ms)
        return totals

    def _forget_history(self) -> None:
        """The sweep also keeps each instance's windows, incidents and backfills for reports: not needed here,
        and they would grow for the life of the process."""
        sweep = self._sweep
        sweep.backfills.clear()
        for cov in sweep.instances.values():
            cov.windows.clear()
            cov.incidents.clear()
