"""The one retry-delay policy (``ssmd.runtime.backoff``) the connector's shards and discovery and the archiver use."""

from __future__ import annotations

import pytest

from ssmd.runtime.backoff import Backoff


def test_delays_double_up_to_the_cap_with_jitter_and_reset_after_success() -> None:
    backoff = Backoff(0.25, 2.0)
    for ceiling in (0.25, 0.5, 1.0, 2.0, 2.0, 2.0):
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 0.25


def test_jitter_spreads_clients_that_failed_together() -> None:
    delays = {Backoff(1.0, 30.0).next_delay() for _ in range(50)}
    assert len(delays) > 40 and all(0.5 <= d <= 1.0 for d in delays)


def test_a_thousand_failures_stay_at_the_cap() -> None:
    backoff = Backoff(0.1, 5.0)
    for _ in range(1000):
        delay = backoff.next_delay()
    assert 2.5 <= delay <= 5.0


@pytest.mark.parametrize(("base", "cap"), [(0, 1), (-1, 1), (2, 1)])
def test_nonsense_bounds_are_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="0 < base <= cap"):
        Backoff(base, cap)
