"""Two instances' coverage events for ten minutes, written by the real ``CoverageRecorder`` on a test clock.

Times are seconds after 12:00:00Z on 2026-02-12. Both heartbeat every 10 s.
- A: subscribed from 0; disconnected 100-130 (backfills its trades); killed with -9 after its heartbeat at 290
  (no goodbye); a new process of A subscribes at 360; a seq gap on M1 at 400, re-snapshot at 405.
- B: subscribed from 5; stalled 190 (detected at 200) until 230; disconnected at 300, resubscribes at 340 and
  backfills 300-340.
The only time nobody captures: A's grace (2 beats) ends at 310, B is back at 340: the gap is [310, 340).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

from ssmd.coverage import CoverageRecorder
from ssmd.testing import write_day

T0_MS = int(dt.datetime(2026, 2, 12, 12, tzinfo=dt.UTC).timestamp() * 1000)
GAP = ("2026-02-12T12:05:10.000Z", "2026-02-12T12:05:40.000Z")
CHANNELS = {"trade": "all", "ticker": "all", "orderbook_delta": ["M1", "M2"]}


class Clock:
    def __init__(self) -> None:
        self.s = 0.0

    def __call__(self) -> int:
        return T0_MS + int(self.s * 1000)


def scenario() -> list[tuple[float, str, bytes]]:
    """``(seconds, subject, payload)`` in time order."""
    out: list[tuple[float, str, bytes]] = []
    clock = Clock()

    def recorder(instance: str, run: str) -> CoverageRecorder[None]:
        return CoverageRecorder(lambda subject, payload: out.append((clock.s, subject, payload)), env="prod",
                                feed="kalshi", instance=instance, run=run, clock=clock)

    a, b, a2 = recorder("a", "a-1"), recorder("b", "b-1"), recorder("a", "a-2")

    def subscribe(rec: CoverageRecorder[None]) -> None:
        for channel, markets in CHANNELS.items():
            rec.subscribed(channel, markets, conn=0)

    for t in range(0, 601):
        clock.s = float(t)
        if t == 0:
            subscribe(a)
        if t == 5:
            subscribe(b)
        if t == 100:
            a.disconnected("websocket closed 1006", conn=0)
        if t == 130:
            subscribe(a)
            a.backfilled("trade", (T0_MS + 100_000, T0_MS + 130_000), 3)
        if t == 200:
            b.stalled("no frames for 10s", conn=0, since_ms=T0_MS + 190_000)
        if t == 230:
            subscribe(b)
        if t == 300:
            b.disconnected("network unreachable", conn=0)
        if t == 340:
            subscribe(b)
            b.backfilled("trade", (T0_MS + 300_000, T0_MS + 340_000), 5)
        if t == 360:
            subscribe(a2)
        if t == 400:
            a2.seq_gap("orderbook_delta", "M1", "expected seq 41, got 43", conn=0)
        if t == 405:
            a2.resnapshot("orderbook_delta", "M1", conn=0)
        if t % 10 == 0 and t <= 290:
            a.heartbeat()
        if t % 10 == 0 and t >= 360:
            a2.heartbeat()
        if t % 10 == 5:
            b.heartbeat()
    return out


def payloads() -> list[bytes]:
    return [payload for _t, _subject, payload in scenario()]


def chunks(frames: list[bytes], data: list[bytes]) -> Iterator[list[bytes]]:
    """Coverage lines interleaved with exchange frames, split in two files."""
    mixed = [line for pair in itertools.zip_longest(frames, data) for line in pair if line is not None]
    half = len(mixed) // 2
    yield mixed[:half]
    yield mixed[half:]


def write_scenario(root: Path, data: list[bytes], fmt: str = "jsonl") -> Path:
    """The scenario's events among exchange frames in an archive under ``root``; returns ``root``."""
    first, second = chunks(payloads(), data)
    write_day(root, "2026-02-12", [("1200.jsonl.gz", first), ("1215.jsonl.gz", second)], fmt=fmt)
    return root
