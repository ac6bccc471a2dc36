"""Frames in, fires out: the one evaluation path shared by the live runtime and backtests.

Each frame is turned into normalised events once, by the feed (``Feed.events``, float fast path); each event is
applied to the state builders of its market, and then only the signals that require a builder the event updated
are evaluated. The engine never reads an exchange's wire format: it runs any feed. Time is the event's exchange
time, never the wall clock, so the same frames in the same order always give the same fires.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ssmd.agent.signal import BUILDERS, Fire, Signal
from ssmd.agent.state import MarketState
from ssmd.feed import Feed, get_feed
from ssmd.feed.base import BookDelta, BookSnapshot, Event, Lifecycle, TopOfBook, Trade, UnreadableFrame

log = logging.getLogger(__name__)

DEFAULT_FEED = "kalshi"
_BIT = {name: 1 << i for i, name in enumerate(BUILDERS)}
PRICES, BOOK, VOLUME, FLOW, STATUS = (_BIT[n] for n in BUILDERS)
_K_TRADE, _K_TOP, _K_SNAPSHOT, _K_DELTA, _K_STATUS = range(5)
_KINDS: dict[type, int] = {
    Trade: _K_TRADE, TopOfBook: _K_TOP, BookSnapshot: _K_SNAPSHOT, BookDelta: _K_DELTA, Lifecycle: _K_STATUS,
}
KIND_NAMES = ("trade", "top_of_book", "book_snapshot", "book_delta", "lifecycle")
"""What ``state.frame_type`` (and a fire's ``frame_type``) says: the kind of event being evaluated."""
# builders an event kind can update: events no signal needs are skipped before any state work
_FEEDS = (PRICES | VOLUME | FLOW, PRICES | BOOK, BOOK, BOOK, STATUS)


class Engine:
    """Holds every market's state and the signals; :meth:`on_frame` is the hot path."""

    def __init__(self, signals: Sequence[Signal[Any]], feed: Feed | None = None) -> None:
        self.signals = list(signals)
        self.feed = feed if feed is not None else get_feed(DEFAULT_FEED)
        self._events = self.feed.events
        self.markets: dict[str, MarketState] = {}
        self.clock: int | None = None
        self.frames = 0
        self.unparsed = 0
        self.errors: dict[str, int] = dict.fromkeys((s.id for s in self.signals), 0)
        masks = [_mask(s) for s in self.signals]
        self._needed = 0
        for mask in masks:
            self._needed |= mask
        # updated-builder bitmask -> signals to evaluate, in declaration order
        pairs = list(zip(self.signals, masks, strict=True))
        self._table: list[list[Signal[Any]]] = [
            [s for s, m in pairs if m & updated] for updated in range(1 << len(BUILDERS))
        ]

    def on_frame(self, raw: bytes | str, seq: int | None = None) -> list[Fire]:
        """Apply one raw frame; return the fires it caused (usually none)."""
        self.frames += 1
        try:
            events = self._events(raw)  # type: ignore[arg-type]
        except UnreadableFrame:
            self.unparsed += 1
            return []
        if len(events) == 1:  # the common case: one call, not one per event
            return self._apply(events[0], seq)
        fires: list[Fire] = []
        for event in events:  # none for control replies and unknown types
            fires += self._apply(event, seq)
        return fires

    def on_event(self, event: Event, seq: int | None = None) -> list[Fire]:
        """Apply one normalised event (what :meth:`on_frame` does for each event of a frame)."""
        return self._apply(event, seq)

    def _apply(self, event: Event, seq: int | None) -> list[Fire]:
        kind = _KINDS[type(event)]
        if not self._needed & _FEEDS[kind]:
            return []
        ts = event.ts_ms
        if ts is None:
            ts = self.clock  # snapshots carry no time: they happen "now" in stream time
        else:
            self.clock = ts
        market = event.market
        state = self.markets.get(market)
        if state is None:
            state = self.markets[market] = MarketState(market)
        if kind == _K_TRADE:
            state.apply_trade(event, ts)  # type: ignore[arg-type]
            updated = VOLUME | FLOW | PRICES
        elif kind == _K_TOP:
            updated = BOOK | (PRICES if state.apply_top(event, ts) else 0)  # type: ignore[arg-type]
        elif kind == _K_STATUS:
            state.status.update(event)  # type: ignore[arg-type]
            updated = STATUS
        else:
            # Seq gaps are not checked here: a filtered consumer sees only some of a sid's markets, so per-sid
            # seqs jump by design; the connector re-snapshots after a real gap.
            book = state.l2
            if kind == _K_DELTA:
                book.apply_delta(event)  # type: ignore[arg-type]
            else:
                book.apply_snapshot(event)  # type: ignore[arg-type]
            state.book.update_levels(*book.top())
            updated = BOOK
        signals = self._table[updated & self._needed]
        if not signals:
            return []
        state.ts_ms, state.seq, state.frame_type = ts, seq, KIND_NAMES[kind]
        fires: list[Fire] = []
        for signal in signals:
            try:
                fire = signal.evaluate(state)
            except Exception:
                # One broken signal must not stop the others or the stream; it is counted and logged.
                self.errors[signal.id] += 1
                if self.errors[signal.id] <= 3:
                    log.exception("signal %s failed on %s", signal.id, market)
                continue
            if fire is not None:
                if type(fire) is not Fire:
                    self._bad_return(signal, fire)
                    continue
                fires.append(fire)
        return fires

    def _bad_return(self, signal: Signal[Any], value: object) -> None:
        self.errors[signal.id] += 1
        if self.errors[signal.id] <= 3:
            log.error("signal %s returned %s, expected Fire or None (use self.fire(state, ...))", signal.id,
                      type(value).__name__)


def _mask(signal: Signal[Any]) -> int:
    mask = 0
    for name in signal.requires:
        mask |= _BIT[name]  # validated by the loader
    return mask
