"""``ssmd archive stats``: what an archive holds, by message type, ticker and UTC hour."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ssmd.archive.reader import ArchiveFrame

NO_TIME = "no-time"


@dataclass
class Stats:
    frames: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_ticker: Counter[str] = field(default_factory=Counter)
    by_hour: Counter[str] = field(default_factory=Counter)
    first_ts_ms: int | None = None
    last_ts_ms: int | None = None

    def to_json(self, top: int | None = None) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "first_ts_ms": self.first_ts_ms,
            "last_ts_ms": self.last_ts_ms,
            "by_type": dict(self.by_type.most_common()),
            "by_ticker": dict(self.by_ticker.most_common(top)),
            "tickers": len(self.by_ticker),
            "by_hour": dict(sorted(self.by_hour.items())),
        }


def collect(frames: Iterable[ArchiveFrame]) -> Stats:
    stats = Stats()
    hour_cache: dict[int, str] = {}
    for frame in frames:
        head = frame.head()
        stats.frames += 1
        stats.by_type[head.type or "unparsed"] += 1
        if (ticker := head.key) is not None:
            stats.by_ticker[ticker] += 1
        ts = head.ts_ms()
        if ts is None:
            stats.by_hour[NO_TIME] += 1
            continue
        hour = ts // 3_600_000
        label = hour_cache.get(hour)
        if label is None:
            label = dt.datetime.fromtimestamp(hour * 3600, dt.UTC).strftime("%Y-%m-%dT%H:00Z")
            hour_cache[hour] = label
        stats.by_hour[label] += 1
        stats.first_ts_ms = ts if stats.first_ts_ms is None else min(stats.first_ts_ms, ts)
        stats.last_ts_ms = ts if stats.last_ts_ms is None else max(stats.last_ts_ms, ts)
    return stats
