"""The coverage ledger: from coverage events, when each instance captured each channel, and the gaps, the
windows in which *no* instance did (what the merged dataset lacks), each with its causes and what was recovered.

The model, in one paragraph. A channel's markets are *wanted* once any instance subscribed to them, until one
deliberately unsubscribes them. At any moment the channel is *covered* by the union of the markets of every live
run (one process of one instance). A live run stops covering on ``disconnected``/``stalled``, a channel's markets
on ``dropped`` until they are ``subscribed`` again, one market on ``seq_gap`` until its ``resnapshot``, and all
of it when the run falls silent: no event for its heartbeat interval times :data:`GRACE_BEATS` (``kill -9`` says
no goodbye), or at once when a new run of the same instance starts (the restart proves the old process ended). A
gap is a time when ``wanted - covered`` is not empty. Backfill events overlapping a gap say what was recovered;
any channel of a gap without a complete backfill is lost for that window (book and ticker frames cannot be fetched
again).

Why sweep events in time order instead of intersecting interval lists: seq gaps, restarts and silences change
the covered set at arbitrary points, and one sweep handles all of them with the same code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ssmd.coverage._sets import NONE, MarketSet, union
from ssmd.coverage.events import LOSSES, CoverageEvent

GRACE_BEATS = 2
"""A run is live until this many heartbeat intervals after its last event (one late beat is tolerated)."""
DEFAULT_EVERY_MS = 10_000

Unit = tuple[str, str]
"""``(feed, channel)``: what coverage is computed for."""


def rfc3339(ms: int) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-02-12T12:06:45.000Z``."""
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def label(unit: Unit) -> str:
    return f"{unit[0]}/{unit[1]}"


@dataclass(frozen=True)
class Cause:
    """Why an instance was not covering a channel when a gap began (or while it lasted)."""

    instance: str
    event: str
    cause: str
    at_ms: int

    def to_json(self) -> dict[str, Any]:
        return {"instance": self.instance, "event": self.event, "cause": self.cause, "at": rfc3339(self.at_ms)}

    def describe(self) -> str:
        return f"{self.instance} {self.event} at {rfc3339(self.at_ms)} ({self.cause})"


@dataclass(frozen=True)
class Backfill:
    instance: str
    unit: Unit
    start_ms: int
    end_ms: int
    count: int
    at_ms: int

    def to_json(self) -> dict[str, Any]:
        return {"instance": self.instance, "start": rfc3339(self.start_ms), "end": rfc3339(self.end_ms),
                "count": self.count}


@dataclass
class ChannelGap:
    """One channel uncovered for ``[start_ms, end_ms)``."""

    unit: Unit
    start_ms: int
    end_ms: int
    markets: MarketSet
    causes: list[Cause]

    def backfills(self, all_backfills: Iterable[Backfill]) -> list[Backfill]:
        return [b for b in all_backfills
                if b.unit == self.unit and b.start_ms < self.end_ms and b.end_ms > self.start_ms]

    def recovered(self, all_backfills: Iterable[Backfill]) -> bool:
        """Whether backfills cover the whole window."""
        reached = self.start_ms
        for b in sorted(self.backfills(all_backfills), key=lambda b: b.start_ms):
            if b.start_ms > reached:
                return False
            reached = max(reached, b.end_ms)
        return reached >= self.end_ms


@dataclass
class Gap:
    """A maximal window in which at least one channel had no instance subscribed."""

    start_ms: int
    end_ms: int
    channels: list[ChannelGap]
    backfills: list[Backfill]

    @property
    def seconds(self) -> float:
        return (self.end_ms - self.start_ms) / 1000

    @property
    def causes(self) -> list[Cause]:
        seen: dict[Cause, None] = {}
        for channel in self.channels:
            seen.update(dict.fromkeys(channel.causes))
        return sorted(seen, key=lambda c: (c.at_ms, c.instance))

    def recovered(self) -> list[dict[str, Any]]:
        out = []
        for unit in _units(self.channels):
            parts = [c for c in self.channels if c.unit == unit]
            fills = {b: None for c in parts for b in c.backfills(self.backfills)}
            if fills:
                out.append({"feed": unit[0], "channel": unit[1], "count": sum(b.count for b in fills),
                            "complete": all(c.recovered(self.backfills) for c in parts),
                            "backfills": [b.to_json() for b in fills]})
        return out

    def unrecovered(self) -> list[Unit]:
        """Channels with some part of the window not fetched again: lost for good."""
        return [u for u in _units(self.channels)
                if not all(c.recovered(self.backfills) for c in self.channels if c.unit == u)]

    def to_json(self) -> dict[str, Any]:
        return {
            "start": rfc3339(self.start_ms), "end": rfc3339(self.end_ms), "seconds": self.seconds,
            "channels": [{"feed": c.unit[0], "channel": c.unit[1], "start": rfc3339(c.start_ms),
                          "end": rfc3339(c.end_ms), "markets": c.markets.to_json()} for c in self.channels],
            "causes": [c.to_json() for c in self.causes],
            "recovered": self.recovered(),
            "unrecovered": [{"feed": u[0], "channel": u[1]} for u in self.unrecovered()],
        }


@dataclass
class InstanceCoverage:
    windows: dict[Unit, list[tuple[int, int]]] = field(default_factory=dict)
    incidents: list[CoverageEvent] = field(default_factory=list)
    runs: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": len(self.runs),
            "windows": {label(u): [{"start": rfc3339(a), "end": rfc3339(b)} for a, b in spans]
                        for u, spans in sorted(self.windows.items())},
            "incidents": [{k: v for k, v in e.to_json().items() if k not in ("ssmd_coverage", "type", "run")}
                          | {"at": rfc3339(e.at_ms)} for e in self.incidents],
        }


@dataclass
class CoverageReport:
    start_ms: int
    end_ms: int
    gaps: list[Gap]
    instances: dict[str, InstanceCoverage]
    units: list[Unit]
    events: int
    bad_events: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "start": rfc3339(self.start_ms), "end": rfc3339(self.end_ms), "events": self.events,
            "bad_events": self.bad_events, "channels": [label(u) for u in self.units],
            "uncovered_seconds": uncovered_seconds(self),
            "gaps": [g.to_json() for g in self.gaps],
            "instances": {name: cov.to_json() for name, cov in sorted(self.instances.items())},
        }


def uncovered_seconds(report: CoverageReport, unit: Unit | None = None) -> float:
    """Seconds in the report's range with no instance subscribed (to ``unit``, else to any wanted channel).

    The gauge ``ssmd_coverage_uncovered_seconds`` is meant to be this over a ledger fed live from the coverage
    subject: it only grows, and a rise means data that is not being captured by anyone now."""
    if unit is None:
        return sum(g.seconds for g in report.gaps)
    spans = sorted((c.start_ms, c.end_ms) for g in report.gaps for c in g.channels if c.unit == unit)
    return sum(b - a for a, b in spans) / 1000


def build(events: Iterable[CoverageEvent], start_ms: int | None = None, end_ms: int | None = None,
          grace_ms: int | None = None, bad_events: int = 0) -> CoverageReport:
    """The report for ``[start_ms, end_ms)`` (default: first to last event). Events before ``start_ms`` build
    the state; events at or after ``end_ms`` are ignored. ``grace_ms`` overrides each run's heartbeat grace."""
    ordered = sorted(events, key=lambda e: e.at_ms)
    if end_ms is not None:
        ordered = [e for e in ordered if e.at_ms < end_ms]
    lo = start_ms if start_ms is not None else (ordered[0].at_ms if ordered else 0)
    hi = end_ms if end_ms is not None else max((e.at_ms for e in ordered), default=lo)
    sweep = _Sweep(grace_ms)
    for event in ordered:
        sweep.expire(event.at_ms)
        if sweep.apply(event):
            sweep.snapshot(event.at_ms)
    sweep.expire(hi)
    sweep.close(hi)
    channel_gaps = [c for c in (_clip_gap(c, lo, hi) for c in sweep.gaps) if c is not None]
    for cov in sweep.instances.values():
        cov.windows = {u: clipped for u, spans in cov.windows.items() if (clipped := _clip(spans, lo, hi))}
    return CoverageReport(lo, hi, _merge(channel_gaps, sweep.backfills), sweep.instances, sorted(sweep.wanted),
                          len(ordered), bad_events)


@dataclass
class _Run:
    feed: str
    instance: str
    last_ms: int
    grace_ms: int
    silent: bool = False
    conns: dict[str | None, dict[str, MarketSet]] = field(default_factory=dict)

    def affected(self, conn: str | None) -> list[str | None]:
        return list(self.conns) if conn is None else [conn] if conn in self.conns else []

    @property
    def covers(self) -> bool:
        """Subscribed to something on some connection."""
        return any(any(channels.values()) for channels in self.conns.values())


@dataclass
class _Open:
    start_ms: int
    markets: MarketSet
    causes: list[Cause]


class _Sweep:
    """The state while walking events in time order; closed spans accumulate in ``gaps`` and ``instances``."""

    def __init__(self, grace_ms: int | None) -> None:
        self.grace_override = grace_ms
        self.runs: dict[tuple[str, str, str], _Run] = {}
        self.wanted: dict[Unit, MarketSet] = {}
        self.last_loss: dict[Unit, dict[str, Cause]] = {}
        self.open_gaps: dict[Unit, _Open] = {}
        self.open_windows: dict[tuple[str, Unit], int] = {}
        self.gaps: list[ChannelGap] = []
        self.backfills: list[Backfill] = []
        self.instances: dict[str, InstanceCoverage] = {}

    def expire(self, until_ms: int) -> None:
        """Runs whose grace ran out before ``until_ms`` fall silent, in the order their grace ran out."""
        while True:
            due = [r for r in self.runs.values() if not r.silent and r.last_ms + r.grace_ms < until_ms and r.covers]
            if not due:
                return
            run = min(due, key=lambda r: r.last_ms + r.grace_ms)
            why = f"no event within its {run.grace_ms / 1000:g} s grace: killed or cut off"
            self._silence(run, Cause(run.instance, "silent", why, run.last_ms))
            self.snapshot(run.last_ms + run.grace_ms)

    def _silence(self, run: _Run, cause: Cause) -> None:
        run.silent = True
        for channels in run.conns.values():
            for channel, markets in channels.items():
                if markets:
                    self._lost(_unit(run, channel), cause)

    def _supersede(self, feed: str, instance: str) -> None:
        """A new process of an instance proves its earlier ones ended (a kill -9 says no goodbye): they stop
        covering now, not at the end of their grace, which would hide a gap that began when they died."""
        for old in self.runs.values():
            if old.feed == feed and old.instance == instance and not old.silent and old.covers:
                why = "a new process of this instance started: this one ended without a goodbye (killed?)"
                self._silence(old, Cause(instance, "restarted", why, old.last_ms))

    def apply(self, e: CoverageEvent) -> bool:
        """Take one event; ``False`` when it cannot have changed coverage (a live run's heartbeat or backfill: the
        bulk of all events, so the sweep skips its snapshot)."""
        key = (e.feed, e.instance, e.run)
        grace = self.grace_override or GRACE_BEATS * (e.every_ms or DEFAULT_EVERY_MS)
        run = self.runs.get(key)
        if run is None:
            self._supersede(e.feed, e.instance)
            run = self.runs[key] = _Run(e.feed, e.instance, e.ts_ms, grace)
        revived = run.silent
        run.silent = False
        run.last_ms = max(run.last_ms, e.ts_ms)
        if e.every_ms:
            run.grace_ms = grace
        cov = self.instances.setdefault(e.instance, InstanceCoverage())
        cov.runs.add(e.run)
        unit = (e.feed, e.channel or "")
        if e.event == "subscribed":
            markets = MarketSet.of(e.markets or ())
            channels = run.conns.setdefault(e.conn, {})
            channels[unit[1]] = channels.get(unit[1], NONE) | markets
            self.wanted[unit] = self.wanted.get(unit, NONE) | markets
            self.last_loss.get(unit, {}).pop(e.instance, None)
        elif e.event in ("unsubscribed", "dropped"):
            markets = MarketSet.of(e.markets or ())
            for conn in run.affected(e.conn):
                channels = run.conns[conn]
                if unit[1] in channels:
                    channels[unit[1]] = channels[unit[1]] - markets
            if e.event == "unsubscribed":  # no longer wanted: not a loss
                self.wanted[unit] = self.wanted.get(unit, NONE) - markets
            else:
                self._lost(unit, Cause(e.instance, "dropped", e.cause or "subscription ended by the exchange",
                                       e.at_ms))
        elif e.event in LOSSES:
            cause = Cause(e.instance, e.event, e.cause or "not given", e.at_ms)
            for conn in run.affected(e.conn):
                for channel, markets in run.conns.pop(conn).items():
                    if markets:
                        self._lost(_unit(run, channel), cause)
        elif e.event in ("seq_gap", "resnapshot") and e.market is not None:
            one = MarketSet.of((e.market,))
            for conn in run.affected(e.conn):
                channels = run.conns[conn]
                if channels.get(unit[1]):
                    channels[unit[1]] = channels[unit[1]] - one if e.event == "seq_gap" else channels[unit[1]] | one
            if e.event == "seq_gap":
                self._lost(unit, Cause(e.instance, "seq_gap", f"{e.market}: {e.cause or 'sequence broken'}",
                                       e.at_ms))
        elif e.event == "backfill" and e.start_ms is not None and e.end_ms is not None:
            self.backfills.append(Backfill(e.instance, unit, e.start_ms, e.end_ms, e.count or 0, e.at_ms))
        if e.event not in ("heartbeat", "subscribed"):
            cov.incidents.append(e)
        return revived or e.event not in ("heartbeat", "backfill")

    def _lost(self, unit: Unit, cause: Cause) -> None:
        self.last_loss.setdefault(unit, {})[cause.instance] = cause
        if unit in self.open_gaps and cause not in self.open_gaps[unit].causes:
            self.open_gaps[unit].causes.append(cause)

    def snapshot(self, at_ms: int) -> None:
        """Open and close spans for what changed at ``at_ms``."""
        parts: dict[Unit, list[MarketSet]] = {}
        live: set[tuple[str, Unit]] = set()
        for run in self.runs.values():
            if run.silent:
                continue
            for channels in run.conns.values():
                for channel, markets in channels.items():
                    if markets:
                        unit = _unit(run, channel)
                        parts.setdefault(unit, []).append(markets)
                        live.add((run.instance, unit))
        covered = {unit: union(sets) for unit, sets in parts.items()}
        for unit, wanted in self.wanted.items():
            missing = wanted - covered.get(unit, NONE)
            gap = self.open_gaps.get(unit)
            if missing and gap is None:
                causes = sorted(self.last_loss.get(unit, {}).values(), key=lambda c: c.at_ms)
                self.open_gaps[unit] = _Open(at_ms, missing, causes)
            elif missing and gap is not None:
                gap.markets = gap.markets | missing
            elif gap is not None:
                self._close_gap(unit, at_ms)
        for unit in [u for u in self.open_gaps if u not in self.wanted]:
            self._close_gap(unit, at_ms)
        for key in live - self.open_windows.keys():
            self.open_windows[key] = at_ms
        for key in self.open_windows.keys() - live:
            self._close_window(key, at_ms)

    def close(self, at_ms: int) -> None:
        for unit in list(self.open_gaps):
            self._close_gap(unit, at_ms)
        for key in list(self.open_windows):
            self._close_window(key, at_ms)

    def _close_gap(self, unit: Unit, at_ms: int) -> None:
        gap = self.open_gaps.pop(unit)
        if at_ms > gap.start_ms:
            self.gaps.append(ChannelGap(unit, gap.start_ms, at_ms, gap.markets, gap.causes))

    def _close_window(self, key: tuple[str, Unit], at_ms: int) -> None:
        start = self.open_windows.pop(key)
        if at_ms > start:
            self.instances[key[0]].windows.setdefault(key[1], []).append((start, at_ms))


def _unit(run: _Run, channel: str) -> Unit:
    return (run.feed, channel)


def _units(channels: Iterable[ChannelGap]) -> list[Unit]:
    return list(dict.fromkeys(c.unit for c in channels))


def _clip(spans: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    return [(max(a, lo), min(b, hi)) for a, b in spans if min(b, hi) > max(a, lo)]


def _clip_gap(gap: ChannelGap, lo: int, hi: int) -> ChannelGap | None:
    start, end = max(gap.start_ms, lo), min(gap.end_ms, hi)
    if end <= start:
        return None
    return ChannelGap(gap.unit, start, end, gap.markets, gap.causes)


def _merge(channel_gaps: list[ChannelGap], backfills: list[Backfill]) -> list[Gap]:
    """Channel gaps that overlap or touch make one gap: a both-down window is one incident, not one per channel."""
    gaps: list[Gap] = []
    for part in sorted(channel_gaps, key=lambda c: (c.start_ms, c.unit)):
        if gaps and part.start_ms <= gaps[-1].end_ms:
            gaps[-1].channels.append(part)
            gaps[-1].end_ms = max(gaps[-1].end_ms, part.end_ms)
        else:
            gaps.append(Gap(part.start_ms, part.end_ms, [part], backfills))
    for gap in gaps:
        gap.backfills = [b for b in backfills if any(b in c.backfills(backfills) for c in gap.channels)]
    return gaps
