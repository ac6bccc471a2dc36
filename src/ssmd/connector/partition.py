"""Partitions: N connector processes split the market list between them, deterministically.

Market ``t`` belongs to partition ``zlib.crc32(t.encode("utf-8")) % N``: a hash every process (and any other
tool, in any language) computes the same, unlike Python's ``hash()``, which is salted per process. It depends on
the ticker alone, so a market stays in its partition across discovery refreshes and restarts, and a new market
lands in exactly one partition. Global channels (no market list: ``ticker``, ``trade``, ``market_lifecycle_v2``)
are captured by partition 0 only.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

_FORM = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def partition_of(ticker: str, count: int) -> int:
    """The partition (``0 .. count-1``) that captures ``ticker``."""
    return zlib.crc32(ticker.encode("utf-8")) % count


@dataclass(frozen=True)
class Partition:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"expected i/N with N >= 1 and 0 <= i < N, got {self}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def has_global_channels(self) -> bool:
        return self.index == 0

    def owns(self, ticker: str) -> bool:
        return self.count == 1 or partition_of(ticker, self.count) == self.index

    def select(self, tickers: Iterable[str]) -> list[str]:
        """This partition's tickers, in the given order, each once."""
        return [t for t in dict.fromkeys(tickers) if self.owns(t)]


WHOLE = Partition()
"""No partitioning: every market and the global channels (the default)."""


def parse_partition(text: str) -> Partition:
    """``"i/N"`` (e.g. ``"1/3"``) -> :class:`Partition`; ``ValueError`` saying what was expected."""
    match = _FORM.fullmatch(text)
    if match is None:
        raise ValueError(f"expected i/N with N >= 1 and 0 <= i < N (e.g. 0/2), got {text!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1 or index >= count:
        raise ValueError(f"expected i/N with N >= 1 and 0 <= i < N (e.g. 0/2), got {text!r}")
    return Partition(index, count)
