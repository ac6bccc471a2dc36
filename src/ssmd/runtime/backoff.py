"""Exponential back-off with jitter: the one retry-delay policy of the services.

Delays double from ``base`` up to ``cap``; each is drawn from ``[delay/2, delay]`` so that many clients that
failed together (every shard after an exchange restart, every partition after a REST outage) do not retry in
step. ``reset()`` after a success starts again from ``base``. :meth:`Backoff.wait` sleeps the next delay but
wakes at once on shutdown, so no retry loop holds a stopping service up.
"""

from __future__ import annotations

import asyncio
import contextlib
import random


class Backoff:
    def __init__(self, base: float, cap: float) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"need 0 < base <= cap, got base={base} cap={cap}")
        self.base = base
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before the next attempt."""
        self.failures += 1
        delay = min(self.cap, self.base * 2.0 ** min(self.failures - 1, 60))
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0

    async def wait(self, stop: asyncio.Event | None = None) -> bool:
        """Count one more failure and sleep its delay, unless ``stop`` is set first; return True if stopping."""
        return await sleep_or_stop(stop, self.next_delay())


async def sleep_or_stop(stop: asyncio.Event | None, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; return True if stopping."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
