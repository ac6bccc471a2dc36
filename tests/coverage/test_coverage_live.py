"""The live ledger (what the archiver's ``ssmd_coverage_uncovered_seconds_total`` counts) agrees with the report
built afterwards from the same events, while being fed one event at a time as they arrive."""

from __future__ import annotations

from _scenario import T0_MS, scenario

from ssmd.coverage import build, uncovered_seconds
from ssmd.coverage.events import decode
from ssmd.coverage.live import LiveCoverage


def test_live_totals_grow_during_the_gap_and_end_equal_to_the_report() -> None:
    """Events arrive second by second (a stall dated 10 s back, late for the lag): the totals never shrink, are 0
    before the both-down window [310, 340), grow inside it, and end equal to ``uncovered_seconds`` of the report."""
    events = scenario()
    live = LiveCoverage(lag_s=5.0)
    seen: dict[tuple[str, str], int] = {}
    during: dict[tuple[str, str], int] = {}
    pending = list(events)
    for t in range(0, 621):
        while pending and pending[0][0] <= t:
            live.offer(pending.pop(0)[2])
        totals = live.uncovered_ms(T0_MS + t * 1000)
        for unit, ms in totals.items():
            assert ms >= seen.get(unit, 0), (t, unit)
        seen = totals
        if t == 300:
            assert set(totals.values()) == {0}, totals
        if t == 330:  # horizon 325: 15 s into the gap
            during = totals
    report = build(decode(p) for _t, _s, p in events)
    assert set(seen) == {("kalshi", "trade"), ("kalshi", "ticker"), ("kalshi", "orderbook_delta")}
    for unit, ms in seen.items():
        assert during[unit] == 15_000, (unit, during)
        assert ms / 1000 == uncovered_seconds(report, unit) == 30.0, unit
    assert live.bad == 0


def test_a_bad_line_is_counted_and_changes_nothing() -> None:
    live = LiveCoverage()
    live.offer(b'{"ssmd_coverage":1,"event":"nonsense"}')
    assert live.bad == 1 and live.uncovered_ms(T0_MS) == {}
