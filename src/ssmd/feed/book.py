"""One market's order book, rebuilt from normalised :class:`~ssmd.feed.base.BookSnapshot` and
:class:`~ssmd.feed.base.BookDelta` events: the one book of every feed (agent, tests, tools).

Two-sided on the YES (first outcome) price scale: a feed converts its wire sides before the book sees them
(Kalshi's NO bid at p is an ask at 1 - p). Numbers are whatever the events carry: ``float`` on the agent's fast
path, ``Decimal`` when exact. Float sizes are rounded to 1e-8 after each change so that a level taken back to
zero by the same amounts it was built from goes away, as it does in ``Decimal``.

``stale`` means "unknown": before the first snapshot, and after the feed's gap rule says frames were lost
(:meth:`invalidate`), until the next snapshot; deltas meanwhile are ignored, never guessed at.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from ssmd.feed.base import BookDelta, BookSnapshot, Number, Side

__all__ = ["Book", "Level"]

Level = tuple[Number, Number]
"""``(price, size)``."""


class Book:
    __slots__ = ("_best_ask", "_best_bid", "asks", "bids", "market", "stale")

    def __init__(self, market: str = "") -> None:
        self.market = market
        self.bids: dict[Any, Any] = {}
        self.asks: dict[Any, Any] = {}
        self._best_bid: Any = None
        self._best_ask: Any = None
        self.stale = True

    def __repr__(self) -> str:
        return (f"Book({self.market!r}, bids={len(self.bids)} levels, asks={len(self.asks)} levels"
                f"{', stale' if self.stale else ''})")

    def apply(self, event: BookSnapshot | BookDelta) -> None:
        if type(event) is BookDelta:
            self.apply_delta(event)
        else:
            self.apply_snapshot(event)  # type: ignore[arg-type]

    def apply_snapshot(self, snap: BookSnapshot) -> None:
        """Replace both sides (a price listed twice is summed; levels at size <= 0 are not kept); not stale."""
        self.bids = _side(snap.bids)
        self.asks = _side(snap.asks)
        self._best_bid = max(self.bids) if self.bids else None
        self._best_ask = min(self.asks) if self.asks else None
        self.stale = False

    def apply_delta(self, delta: BookDelta) -> None:
        """``change`` is added to the level's size, or ``size`` replaces it; the level goes away at <= 0.
        Ignored while stale."""
        if self.stale:
            return
        price = delta.price
        bid = delta.side == "bid"
        levels = self.bids if bid else self.asks
        if delta.change is not None:
            size = levels.get(price, 0) + delta.change
            if type(size) is float:
                size = round(size, 8)
        elif delta.size is not None:
            size = delta.size
        else:
            return
        if size > 0:
            levels[price] = size
            if bid:
                if self._best_bid is None or price > self._best_bid:
                    self._best_bid = price
            elif self._best_ask is None or price < self._best_ask:
                self._best_ask = price
        elif levels.pop(price, None) is not None:
            if bid:
                if price == self._best_bid:
                    self._best_bid = max(levels) if levels else None
            elif price == self._best_ask:
                self._best_ask = min(levels) if levels else None

    def invalidate(self) -> None:
        """Frames of this book were lost: unknown (deltas ignored) until the next snapshot."""
        self.stale = True

    def best_bid(self) -> Level | None:
        price = self._best_bid
        return None if price is None else (price, self.bids[price])

    def best_ask(self) -> Level | None:
        price = self._best_ask
        return None if price is None else (price, self.asks[price])

    def top(self) -> tuple[Level | None, Level | None]:
        """(best bid, best ask), each ``(price, size)`` or ``None``; both ``None`` while stale."""
        if self.stale:
            return None, None
        bid, ask = self._best_bid, self._best_ask
        return (None if bid is None else (bid, self.bids[bid]),
                None if ask is None else (ask, self.asks[ask]))

    def spread(self) -> Number | None:
        bid, ask = self._best_bid, self._best_ask
        return None if bid is None or ask is None else ask - bid

    def depth(self, side: Side, levels: int = 5) -> list[Level]:
        """The ``levels`` best levels of ``side`` (``"bid"``: highest first, ``"ask"``: lowest first)."""
        if side == "bid":
            return sorted(self.bids.items(), reverse=True)[:max(levels, 0)]
        if side == "ask":
            return sorted(self.asks.items())[:max(levels, 0)]
        raise ValueError(f"side must be 'bid' or 'ask', got {side!r}")

    def levels(self) -> dict[str, dict[Any, Any]]:
        """A copy of both sides, ``{"bid": {price: size}, "ask": {...}}``."""
        return {"bid": dict(self.bids), "ask": dict(self.asks)}

    def state(self) -> str:
        """SHA-1 hex of a canonical form of both sides: equal books give equal digests whatever the wire format
        (``"0.42"``, ``"0.4200"`` and 42 cents are one price) or the order the levels arrived in."""
        digest = hashlib.sha1(usedforsecurity=False)
        for name, side in (("bid", self.bids), ("ask", self.asks)):
            digest.update(name.encode())
            for price, size in sorted(side.items()):
                digest.update(f"|{_canonical(price)}:{_canonical(size)}".encode())
            digest.update(b";")
        return digest.hexdigest()


def _side(levels: Any) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for price, size in levels:
        total = out.get(price, 0) + size
        if type(total) is float:
            total = round(total, 8)
        if total > 0:
            out[price] = total
        else:
            out.pop(price, None)
    return out


def _canonical(value: Number) -> str:
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    return format(exact.normalize(), "f")
