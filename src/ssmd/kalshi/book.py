"""L2 order book rebuilt from ``orderbook_snapshot`` + ``orderbook_delta`` frames.

Kalshi's book holds **bids only**: YES bids and NO bids, each a ``{price_dollars: quantity}`` dict. A NO bid at
``p`` is a YES offer at ``1 - p``, so the best YES ask is ``1 - best NO bid``. ``seq`` counts per sid across all
markets of that sid; a jump means frames were lost for every one of those markets, so they all become stale
(deltas ignored) until a new snapshot arrives for each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ssmd.kalshi.values import Level, OrderbookDelta, OrderbookSnapshot, parse_delta, parse_snapshot

__all__ = ["BookSet", "BookUpdate", "OrderBook"]

_ONE = Decimal(1)
_ZERO = Decimal(0)
SIDES = ("yes", "no")


class OrderBook:
    """One market's bids. ``stale`` is True after a seq gap (or before the first snapshot) until a snapshot."""

    __slots__ = ("_no", "_yes", "market_ticker", "stale")

    def __init__(self, market_ticker: str) -> None:
        self.market_ticker = market_ticker
        self.stale = False
        self._yes: dict[Decimal, Decimal] = {}
        self._no: dict[Decimal, Decimal] = {}

    def __repr__(self) -> str:
        return (f"OrderBook({self.market_ticker!r}, yes={len(self._yes)} levels, no={len(self._no)} levels"
                f"{', stale' if self.stale else ''})")

    def _side(self, side: str) -> dict[Decimal, Decimal]:
        if side == "yes":
            return self._yes
        if side == "no":
            return self._no
        raise ValueError(f"side must be 'yes' or 'no', got {side!r}")

    def apply_snapshot(self, snap: OrderbookSnapshot) -> None:
        """Replace both sides (levels at quantity <= 0 are not kept) and clear ``stale``."""
        self._yes = _side_dict(snap.yes)
        self._no = _side_dict(snap.no)
        self.stale = False

    def apply_delta(self, delta: OrderbookDelta) -> None:
        """Add ``delta.delta`` to one level; the level goes away at <= 0. Ignored while stale or when the delta
        lacks a side, price or amount (its ``bad_fields`` say why)."""
        if self.stale or delta.price is None or delta.delta is None or delta.side not in SIDES:
            return
        side = self._yes if delta.side == "yes" else self._no
        quantity = side.get(delta.price, _ZERO) + delta.delta
        if quantity > 0:
            side[delta.price] = quantity
        else:
            side.pop(delta.price, None)

    def best_yes_bid(self) -> Level | None:
        return _best(self._yes)

    def best_no_bid(self) -> Level | None:
        return _best(self._no)

    def best_yes_ask(self) -> Decimal | None:
        """``1 - best NO bid`` in dollars (a NO bid is the other side of a YES offer)."""
        best = _best(self._no)
        return None if best is None else _ONE - best[0]

    def spread(self) -> Decimal | None:
        bid, ask = self.best_yes_bid(), self.best_yes_ask()
        return None if bid is None or ask is None else ask - bid[0]

    def depth(self, side: str, levels: int = 5) -> list[Level]:
        """The ``levels`` best bids of ``side`` (``"yes"``/``"no"``), best (highest price) first."""
        return sorted(self._side(side).items(), reverse=True)[:max(levels, 0)]

    def state(self) -> str:
        """SHA-1 hex of a canonical form of both sides: equal books give equal digests whatever the wire format
        (``"0.42"``, ``"0.4200"`` and 42 cents are one price) or the order the levels arrived in."""
        digest = hashlib.sha1(usedforsecurity=False)
        for name, side in (("yes", self._yes), ("no", self._no)):
            digest.update(name.encode())
            for price, quantity in sorted(side.items()):
                digest.update(f"|{_canonical(price)}:{_canonical(quantity)}".encode())
            digest.update(b";")
        return digest.hexdigest()

    def levels(self) -> dict[str, dict[Decimal, Decimal]]:
        """A copy of both sides, ``{"yes": {price: qty}, "no": {...}}``."""
        return {"yes": dict(self._yes), "no": dict(self._no)}


def _side_dict(levels: tuple[Level, ...]) -> dict[Decimal, Decimal]:
    out: dict[Decimal, Decimal] = {}
    for price, quantity in levels:
        total = out.get(price, _ZERO) + quantity  # a price listed twice is summed, not overwritten
        if total > 0:
            out[price] = total
        else:
            out.pop(price, None)
    return out


def _best(side: dict[Decimal, Decimal]) -> Level | None:
    if not side:
        return None
    price = max(side)
    return price, side[price]


def _canonical(value: Decimal) -> str:
    return format(value.normalize(), "f")


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """Which book a frame touched; ``gap`` is True when the frame's seq showed lost frames on its sid."""

    market_ticker: str
    gap: bool


_SEQ_CONTROL = frozenset({"ok", "unsubscribed"})


class BookSet:
    """The books of one connection, fed every decoded frame. Tracks seq per sid and marks books stale on gaps.

    Seqs restart on a new connection: call :meth:`reset` after reconnecting so the restart is not counted as a gap.
    """

    __slots__ = ("_last_seq", "_sid_markets", "books", "gaps")

    def __init__(self) -> None:
        self.books: dict[str, OrderBook] = {}
        self.gaps = 0
        self._last_seq: dict[int, int] = {}
        self._sid_markets: dict[int, set[str]] = {}

    def reset(self) -> None:
        """Forget seqs (a new connection restarts them) and mark every book stale until its next snapshot."""
        self._last_seq.clear()
        self._sid_markets.clear()
        for book in self.books.values():
            book.stale = True

    def on_frame(self, payload: Mapping[str, Any]) -> BookUpdate | None:
        """Apply an ``orderbook_snapshot``/``orderbook_delta`` frame; other frames give ``None`` (an ``ok`` or
        ``unsubscribed`` reply only advances its sid's seq when it is the next one, since Kalshi does not say
        whether replies consume a seq)."""
        frame_type = payload.get("type")
        if frame_type in _SEQ_CONTROL:
            self._control_seq(payload)
            return None
        if frame_type == "orderbook_snapshot":
            snap = parse_snapshot(payload.get("msg") or {})
            ticker = snap.market_ticker
            gap = self._track(payload, ticker)
            book = self._book(ticker)
            book.apply_snapshot(snap)
            return BookUpdate(ticker, gap)
        if frame_type == "orderbook_delta":
            delta = parse_delta(payload.get("msg") or {})
            ticker = delta.market_ticker
            gap = self._track(payload, ticker)
            if ticker not in self.books:  # a delta before any snapshot cannot be applied to anything
                self._book(ticker).stale = True
            self.books[ticker].apply_delta(delta)
            return BookUpdate(ticker, gap)
        return None

    def _book(self, ticker: str) -> OrderBook:
        book = self.books.get(ticker)
        if book is None:
            book = self.books[ticker] = OrderBook(ticker)
        return book

    def _track(self, payload: Mapping[str, Any], ticker: str) -> bool:
        sid, seq = payload.get("sid"), payload.get("seq")
        if not isinstance(sid, int) or not isinstance(seq, int):
            return False
        markets = self._sid_markets.get(sid)
        if markets is None:
            markets = self._sid_markets[sid] = set()
        markets.add(ticker)
        prev = self._last_seq.get(sid)
        self._last_seq[sid] = seq
        if prev is None or seq == prev + 1:
            return False
        self.gaps += 1
        for market in markets:
            book = self.books.get(market)
            if book is not None:
                book.stale = True
        return True

    def _control_seq(self, payload: Mapping[str, Any]) -> None:
        sid, seq = payload.get("sid"), payload.get("seq")
        if isinstance(sid, int) and isinstance(seq, int) and self._last_seq.get(sid) == seq - 1:
            self._last_seq[sid] = seq
