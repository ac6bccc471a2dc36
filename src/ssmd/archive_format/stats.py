"""What the manifest says about one file, accumulated batch by batch (or rebuilt from a recovered file).

The format knows no exchange: which ``type`` and ticker a frame has, and its exchange time, come from
:class:`FrameFacts`, which the feed supplies (the writer's caller passes it in).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol

import orjson


class Routed(Protocol):
    """The routing view of one frame, decoded once (the writer also uses it to tell JSON from not-JSON)."""

    @property
    def type(self) -> str | None: ...

    @property
    def ticker(self) -> str | None: ...


class FrameFacts(Protocol):
    """What the manifest records of a feed's frames (``records_by_type``, ``tickers``, ``first_ts_ms``): a feed's
    frame module satisfies it (e.g. ``ssmd.kalshi.frames``)."""

    def classify(self, raw: bytes) -> Routed:
        """Never raises: a frame without a ``type`` is counted as ``unparsed``."""

    def frame_time_ms(self, payload: dict[str, Any]) -> int | None:
        """The exchange time of a decoded frame, ``None`` if it carries none."""


@dataclass
class FileStats:
    records: int = 0
    nbytes: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    by_type: Counter[str] = field(default_factory=Counter)
    tickers: set[str] = field(default_factory=set)
    first_ts_ms: int | None = None
    last_ts_ms: int | None = None

    def add_frames(
        self, payloads: Sequence[bytes], frames: Sequence[Routed], first_seq: int, last_seq: int, nbytes: int,
        facts: FrameFacts,
    ) -> None:
        """Fold one batch in; ``frames`` are the routing views of ``payloads`` (classified once)."""
        if self.first_seq is None:
            self.first_seq = first_seq
        self.last_seq = last_seq
        self.records += len(payloads)
        self.nbytes += nbytes
        by_type = self.by_type
        tickers = self.tickers
        for frame in frames:
            by_type[frame.type or "unparsed"] += 1
            ticker = frame.ticker
            if ticker is not None:
                tickers.add(ticker)
        if self.first_ts_ms is None:
            self.first_ts_ms = _first_ts(payloads, facts)
        last = _first_ts(reversed(payloads), facts)
        if last is not None:
            self.last_ts_ms = last


_TS_SEARCH = 64
"""Frames examined at each end of a batch for a timestamp: bounded, so a batch without any costs little."""


def _first_ts(payloads: Iterable[bytes], facts: FrameFacts) -> int | None:
    """Exchange time of the first frame that carries one; usually only the very first frame is parsed."""
    for payload in islice(payloads, _TS_SEARCH):
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        if isinstance(data, dict):
            ts = facts.frame_time_ms(data)
            if ts is not None:
                return ts
    return None
