"""Kalshi's book rule: ``seq`` counts per ``sid`` across all markets of that sid, so a jump means frames were lost
for every one of those markets. :class:`BookSet` keeps the books of one connection (the generic
:class:`ssmd.feed.book.Book`, fed Kalshi's normalised events, exact) and marks every book of a sid stale on a gap,
until a new snapshot arrives for each.
"""

from __future__ import annotations

from dataclasses import dataclass

from ssmd.feed.base import BookDelta, BookSnapshot
from ssmd.feed.book import Book
from ssmd.kalshi.events import frame_events
from ssmd.kalshi.frames import classify

__all__ = ["BookSet", "BookUpdate", "SeqTracker"]

_SEQ_CONTROL = frozenset({"ok", "unsubscribed"})


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """Which book a frame touched; ``gap`` is True when the frame's seq showed lost frames on its sid."""

    market: str
    gap: bool


class SeqTracker:
    """Per-sid ``seq`` and the markets seen on each sid. An ``ok``/``unsubscribed`` reply only advances its sid's
    seq when it is the next one, since Kalshi does not say whether replies consume a seq."""

    __slots__ = ("_last", "_markets")

    def __init__(self) -> None:
        self._last: dict[int, int] = {}
        self._markets: dict[int, set[str]] = {}

    def reset(self) -> None:
        """A new connection restarts seqs: forget them."""
        self._last.clear()
        self._markets.clear()

    def data(self, sid: int | None, seq: int | None, market: str) -> set[str] | None:
        """Account for a data frame of ``market``; the markets of the sid when it reveals a gap, else ``None``."""
        if sid is None or seq is None:
            return None
        markets = self._markets.get(sid)
        if markets is None:
            markets = self._markets[sid] = set()
        markets.add(market)
        prev = self._last.get(sid)
        self._last[sid] = seq
        if prev is None or seq == prev + 1:
            return None
        return markets

    def control(self, sid: int | None, seq: int | None) -> None:
        if sid is not None and seq is not None and self._last.get(sid) == seq - 1:
            self._last[sid] = seq


class BookSet:
    """The books of one connection, fed every raw frame. Call :meth:`reset` after reconnecting so the seq restart
    is not counted as a gap."""

    __slots__ = ("_seqs", "books", "gaps")

    def __init__(self) -> None:
        self.books: dict[str, Book] = {}
        self.gaps = 0
        self._seqs = SeqTracker()

    def reset(self) -> None:
        """Forget seqs and mark every book stale until its next snapshot."""
        self._seqs.reset()
        for book in self.books.values():
            book.invalidate()

    def on_frame(self, raw: bytes) -> BookUpdate | None:
        """Apply an ``orderbook_snapshot``/``orderbook_delta`` frame; other frames give ``None``."""
        frame = classify(raw)
        if frame.type in _SEQ_CONTROL:
            self._seqs.control(frame.sid, frame.seq)
            return None
        if frame.type not in ("orderbook_snapshot", "orderbook_delta"):
            return None
        market = frame.ticker or ""
        stale = self._seqs.data(frame.sid, frame.seq, market)
        if stale is not None:
            self.gaps += 1
            for name in stale:
                if name in self.books:
                    self.books[name].invalidate()
        book = self.books.get(market)
        if book is None:  # a delta before any snapshot cannot be applied to anything: stale until one comes
            book = self.books[market] = Book(market)
        for event in frame_events(raw, exact=True):
            if isinstance(event, BookSnapshot | BookDelta):
                book.apply(event)
        return BookUpdate(market, stale is not None)
