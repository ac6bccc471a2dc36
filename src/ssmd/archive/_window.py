"""A time window ``[start, end)`` in epoch ms, and the coarse day/file tests that let readers skip whole files.

Files are named by the archiver's wall-clock rotation window while frames carry exchange time; the two differ by
network latency, so file-level skipping keeps a few minutes of slack and the exact cut is made on frame time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

SLACK_MS = 5 * 60 * 1000
_DAY_MS = 86_400_000


def to_ms(value: dt.datetime | dt.date | str | int | None, is_end: bool = False) -> int | None:
    """Epoch ms of a bound. A bare date as an end bound means the end of that day (the day is included)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(
                text.replace("Z", "+00:00"))
        except ValueError:
            expected = "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z]"
            raise ValueError(f"not a date or time: {text!r} (expected {expected})") from None
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(moment.timestamp() * 1000)
    midnight = int(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp() * 1000)
    return midnight + _DAY_MS if is_end else midnight


@dataclass(frozen=True)
class Window:
    start_ms: int | None = None
    end_ms: int | None = None

    @classmethod
    def of(
        cls, start: dt.datetime | dt.date | str | int | None, end: dt.datetime | dt.date | str | int | None
    ) -> Window:
        window = cls(to_ms(start), to_ms(end, is_end=True))
        if window.start_ms is not None and window.end_ms is not None and window.end_ms <= window.start_ms:
            raise ValueError("end must be after start")
        return window

    @property
    def bounded(self) -> bool:
        return self.start_ms is not None or self.end_ms is not None

    def contains_ms(self, ts: int) -> bool:
        if self.start_ms is not None and ts < self.start_ms:
            return False
        return not (self.end_ms is not None and ts >= self.end_ms)

    def overlaps_day(self, day: dt.date | None) -> bool:
        if day is None or not self.bounded:
            return True
        begin = to_ms(day)
        assert begin is not None
        return self._overlaps_ms(begin, begin + _DAY_MS)

    def overlaps(self, begin: dt.datetime | None, end: dt.datetime | None) -> bool:
        """Whether a file with window ``[begin, end)`` may hold frames in this window (unknown ends are open)."""
        if not self.bounded:
            return True
        lo = int(begin.timestamp() * 1000) if begin else None
        hi = int(end.timestamp() * 1000) if end else None
        return self._overlaps_ms(lo, hi)

    def _overlaps_ms(self, lo: int | None, hi: int | None) -> bool:
        if self.end_ms is not None and lo is not None and lo >= self.end_ms + SLACK_MS:
            return False
        return not (self.start_ms is not None and hi is not None and hi <= self.start_ms - SLACK_MS)
