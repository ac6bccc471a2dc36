"""Frames in, fires out: the one evaluation path shared by the live runtime and backtests.

Each frame is decoded once (orjson), applied to the state builders of its market, and then only the signals
that require a builder this frame updated are evaluated. Time is the frame's exchange time, never the wall
clock, so the same frames in the same order always give the same fires.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson

from ssmd.agent.signal import BUILDERS, Fire, Signal
from ssmd.agent.state import MarketState
from ssmd.kalshi.frames import frame_time_ms
from ssmd.kalshi.values import parse_snapshot

log = logging.getLogger(__name__)

_BIT = {name: 1 << i for i, name in enumerate(BUILDERS)}
PRICES, BOOK, VOLUME, FLOW, STATUS = (_BIT[n] for n in BUILDERS)
_K_TRADE, _K_TICKER, _K_BOOK, _K_STATUS = range(4)
_KINDS = {
    "trade": _K_TRADE,
    "ticker": _K_TICKER,
    "ticker_v2": _K_TICKER,
    "orderbook_snapshot": _K_BOOK,
    "orderbook_delta": _K_BOOK,
    "market_lifecycle_v2": _K_STATUS,
}
# builders a frame kind can update: frames no signal needs are skipped before any state work
_FEEDS = {_K_TRADE: PRICES | VOLUME | FLOW, _K_TICKER: PRICES | BOOK, _K_BOOK: BOOK, _K_STATUS: STATUS}


class Engine:
    """Holds every market's state and the signals; :meth:`on_frame` is the hot path."""

    def __init__(self, signals: Sequence[Signal[Any]]) -> None:
        self.signals = list(signals)
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
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.unparsed += 1
            return []
        if type(payload) is not dict:
            self.unparsed += 1
            return []
        return self.on_payload(payload, seq)

    def on_payload(self, payload: dict[str, Any], seq: int | None = None) -> list[Fire]:
        msg = payload.get("msg")
        if type(msg) is not dict:
            return []  # control replies carry no market data
        ticker = msg.get("market_ticker")
        if type(ticker) is not str:
            return []  # event lifecycle, fee updates: no market to key state on
        frame_type = payload.get("type")
        kind = _KINDS.get(frame_type)  # type: ignore[arg-type]
        if kind is None or not self._needed & _FEEDS[kind]:
            return []
        ts = msg.get("ts_ms")
        if type(ts) is not int:
            ts = frame_time_ms(payload)
        if ts is None:
            ts = self.clock  # snapshots carry no time: they happen "now" in stream time
        else:
            self.clock = ts
        state = self.markets.get(ticker)
        if state is None:
            state = self.markets[ticker] = MarketState(ticker)
        if kind == _K_TRADE:
            state.apply_trade(msg, ts)
            updated = VOLUME | FLOW | (PRICES if state.trade.price is not None else 0)
        elif kind == _K_TICKER:
            updated = BOOK | (PRICES if state.apply_ticker(msg, ts) else 0)
        elif kind == _K_BOOK:
            self._apply_book(state, frame_type, msg)  # type: ignore[arg-type]
            updated = BOOK
        else:
            state.status.update(msg)
            updated = STATUS
        signals = self._table[updated & self._needed]
        if not signals:
            return []
        state.ts_ms, state.seq, state.frame_type = ts, seq, frame_type  # type: ignore[assignment]
        fires: list[Fire] = []
        for signal in signals:
            try:
                fire = signal.evaluate(state)
            except Exception:
                # One broken signal must not stop the others or the stream; it is counted and logged.
                self.errors[signal.id] += 1
                if self.errors[signal.id] <= 3:
                    log.exception("signal %s failed on %s", signal.id, ticker)
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

    @staticmethod
    def _apply_book(state: MarketState, frame_type: str, msg: dict[str, Any]) -> None:
        """Rebuild the L2 book. Seq gaps are not checked here: a filtered consumer sees only some of a sid's
        markets, so per-sid seqs jump by design; the connector resubscribes (fresh snapshot) after a real gap."""
        book = state.l2
        if frame_type == "orderbook_snapshot":
            book.apply_snapshot(parse_snapshot(msg))
        else:
            book.apply_delta(msg)
        state.book.update_levels(*book.top())


def _mask(signal: Signal[Any]) -> int:
    mask = 0
    for name in signal.requires:
        mask |= _BIT[name]  # validated by the loader
    return mask
