"""Per-market state builders, updated from a feed's normalised events; what signals read.

Each builder is cheap per event (O(1) amortised) and bounded per market: histories keep at most
:data:`MAX_WINDOW_MS` of exchange time and at most a fixed number of entries. Builders are fed by
:class:`ssmd.agent.engine.Engine`, which knows which events update which builder. Numbers are floats (the
feed's fast path): signals compare against thresholds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ssmd.feed import base as ev
from ssmd.feed.book import Book

MAX_WINDOW_MS = 15 * 60_000
"""The longest window any builder keeps (and so the longest window a signal parameter may ask for)."""
MAX_ENTRIES = 4096
MAX_WINDOW_TRADES = 100_000
"""A running flow window drops its oldest trades beyond this, so one market's memory stays bounded."""
BUCKET_MS = 60_000
MAX_BUCKETS = 60


class PriceHistory:
    """Last trade price, the one before it, and the recent (ts_ms, price) history."""

    __slots__ = ("history", "last", "last_ts", "prev")

    def __init__(self) -> None:
        self.last: float | None = None
        self.prev: float | None = None
        self.last_ts: int | None = None
        self.history: deque[tuple[int, float]] = deque(maxlen=MAX_ENTRIES)

    def update(self, ts_ms: int | None, price: float) -> None:
        self.prev, self.last, self.last_ts = self.last, price, ts_ms
        if ts_ms is None:
            return
        history = self.history
        history.append((ts_ms, price))
        cutoff = ts_ms - MAX_WINDOW_MS
        while history[0][0] < cutoff:
            history.popleft()

    def oldest_since(self, since_ms: int) -> float | None:
        """The earliest price at or after ``since_ms`` within the kept history (for change-over-window signals)."""
        found = None
        for ts, price in reversed(self.history):
            if ts < since_ms:
                break
            found = price
        return found


class TopOfBook:
    """Best YES bid/ask (dollars) and sizes, from ``ticker`` frames or the L2 book, and the spread in cents."""

    __slots__ = ("prev_spread_cents", "spread_cents", "yes_ask", "yes_ask_size", "yes_bid", "yes_bid_size")

    def __init__(self) -> None:
        self.yes_bid: float | None = None
        self.yes_ask: float | None = None
        self.yes_bid_size: float | None = None
        self.yes_ask_size: float | None = None
        self.spread_cents: float | None = None
        self.prev_spread_cents: float | None = None

    @property
    def mid(self) -> float | None:
        if self.yes_bid is None or self.yes_ask is None:
            return None
        return (self.yes_bid + self.yes_ask) / 2

    def update_top(self, top: ev.TopOfBook) -> None:
        """A top-of-book event: a field it does not carry (``None``) keeps its previous value."""
        if top.bid is not None:
            self.yes_bid = top.bid  # type: ignore[assignment]
        if top.ask is not None:
            self.yes_ask = top.ask  # type: ignore[assignment]
        if top.bid_size is not None:
            self.yes_bid_size = top.bid_size  # type: ignore[assignment]
        if top.ask_size is not None:
            self.yes_ask_size = top.ask_size  # type: ignore[assignment]
        self._spread()

    def update_levels(
        self, best_bid: tuple[Any, Any] | None, best_ask: tuple[Any, Any] | None
    ) -> None:
        """From the L2 book's best levels (YES scale)."""
        self.yes_bid, self.yes_bid_size = best_bid if best_bid else (None, None)
        self.yes_ask, self.yes_ask_size = best_ask if best_ask else (None, None)
        self._spread()

    def _spread(self) -> None:
        self.prev_spread_cents = self.spread_cents
        bid, ask = self.yes_bid, self.yes_ask
        self.spread_cents = None if bid is None or ask is None else round((ask - bid) * 100, 4)


class VolumeProfile:
    """Traded contracts per one-minute bucket of exchange time (current bucket + up to 60 previous)."""

    __slots__ = ("bucket", "buckets", "current", "first_bucket", "last_added", "total")

    def __init__(self) -> None:
        self.bucket: int | None = None
        self.first_bucket: int | None = None
        self.current = 0.0
        self.last_added = 0.0
        self.total = 0.0
        self.buckets: deque[tuple[int, float]] = deque(maxlen=MAX_BUCKETS)

    def add(self, ts_ms: int | None, contracts: float) -> None:
        if ts_ms is not None:
            bucket = ts_ms // BUCKET_MS
            if self.bucket is None:
                self.bucket = self.first_bucket = bucket
            elif bucket > self.bucket:
                self.buckets.append((self.bucket, self.current))
                self.bucket, self.current = bucket, 0.0
        self.current += contracts
        self.last_added = contracts
        self.total += contracts

    def mean_previous(self, n: int) -> float:
        """Mean volume of the ``n`` buckets before the current one (empty minutes count as 0)."""
        if self.bucket is None or n <= 0:
            return 0.0
        oldest = self.bucket - n
        total = 0.0
        for bucket, volume in reversed(self.buckets):
            if bucket < oldest:
                break
            total += volume
        return total / n

    @property
    def history_buckets(self) -> int:
        """Whole buckets of history before the current one (how much a rolling mean can be trusted)."""
        if self.bucket is None or self.first_bucket is None:
            return 0
        return self.bucket - self.first_bucket


class _FlowWindow:
    """Running taker totals over one window length, in hundredths of a contract so sums stay exact."""

    __slots__ = ("no", "trades", "window_ms", "yes")

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.trades: deque[tuple[int, int, int]] = deque()
        self.yes = 0
        self.no = 0

    def add(self, entry: tuple[int, int, int]) -> None:
        self.trades.append(entry)
        self.yes += entry[1]
        self.no += entry[2]
        if len(self.trades) > MAX_WINDOW_TRADES:
            self._drop()

    def expire(self, now_ms: int) -> None:
        cutoff = now_ms - self.window_ms
        trades = self.trades
        while trades and trades[0][0] <= cutoff:
            self._drop()

    def _drop(self) -> None:
        _, yes, no = self.trades.popleft()
        self.yes -= yes
        self.no -= no


class TradeFlow:
    """Taker YES vs NO contracts over recent exchange time: the buy/sell pressure on a market.

    A window length asked for the first time is seeded from the bounded history, then kept as running totals:
    O(1) per trade and per query however busy the market is.
    """

    __slots__ = ("trades", "windows")

    def __init__(self) -> None:
        self.trades: deque[tuple[int, int, int]] = deque(maxlen=MAX_ENTRIES)
        self.windows: dict[int, _FlowWindow] = {}

    def add(self, ts_ms: int | None, contracts: float, side: str | None) -> None:
        if ts_ms is None or side is None:
            return
        hundredths = round(contracts * 100)
        entry = (ts_ms, hundredths, 0) if side == "yes" else (ts_ms, 0, hundredths)
        trades = self.trades
        trades.append(entry)
        cutoff = ts_ms - MAX_WINDOW_MS
        while trades[0][0] < cutoff:
            trades.popleft()
        for window in self.windows.values():
            window.add(entry)

    def totals(self, now_ms: int, window_ms: int) -> tuple[float, float]:
        """(yes, no) taker contracts with ts in ``(now_ms - window_ms, now_ms]`` (``now_ms`` moves forward)."""
        window = self.windows.get(window_ms)
        if window is None:
            window = self.windows[window_ms] = _FlowWindow(window_ms)
            for entry in self.trades:
                if entry[0] <= now_ms:
                    window.add(entry)
        window.expire(now_ms)
        return window.yes / 100, window.no / 100

    def imbalance(self, now_ms: int, window_ms: int) -> tuple[float | None, float]:
        """((yes - no) / (yes + no) or None without trades, yes + no)."""
        yes, no = self.totals(now_ms, window_ms)
        total = yes + no
        return ((yes - no) / total if total else None), total


class MarketStatus:
    """The market's lifecycle as its feed reports it: ``status`` (created, open, paused, determined, settled),
    ``changed`` (the last lifecycle event set it), ``event_type`` (the exchange's own name of that event)."""

    __slots__ = ("changed", "close_ts", "event_type", "result", "settlement_value", "status")

    def __init__(self) -> None:
        self.status: str | None = None
        self.changed = False
        self.event_type: str | None = None
        self.result: str | None = None
        self.settlement_value: float | None = None
        self.close_ts: int | None = None

    def update(self, event: ev.Lifecycle) -> None:
        detail = event.detail
        kind = detail.get("event_type")
        self.event_type = kind if isinstance(kind, str) else None
        self.changed = bool(event.status)
        if event.status:
            self.status = event.status
        result = detail.get("result")
        if isinstance(result, str) and result:
            self.result = result
        value = detail.get("settlement_value")
        if isinstance(value, float):
            self.settlement_value = value
        close = detail.get("close_ts")
        if isinstance(close, int) and not isinstance(close, bool):
            self.close_ts = close


@dataclass(slots=True)
class LastTrade:
    price: float | None = None
    contracts: float | None = None
    side: str | None = None
    trade_id: object = None
    """As sent (a string); kept opaque."""


@dataclass(slots=True)
class MarketState:
    """Everything known about one market; ``ts_ms``/``seq``/``frame_type`` describe the frame being evaluated."""

    market: str
    ts_ms: int | None = None
    seq: int | None = None
    frame_type: str = ""
    prices: PriceHistory = field(default_factory=PriceHistory)
    book: TopOfBook = field(default_factory=TopOfBook)
    volume: VolumeProfile = field(default_factory=VolumeProfile)
    flow: TradeFlow = field(default_factory=TradeFlow)
    status: MarketStatus = field(default_factory=MarketStatus)
    l2: Book = field(default_factory=Book)
    trade: LastTrade = field(default_factory=LastTrade)

    def apply_trade(self, trade: ev.Trade, ts_ms: int | None) -> None:
        price: float = trade.price  # type: ignore[assignment]  # the float path
        contracts: float = trade.size  # type: ignore[assignment]
        side = trade.taker_side
        last = self.trade
        last.price, last.contracts, last.side, last.trade_id = price, contracts, side, trade.trade_id
        self.prices.update(ts_ms, price)
        self.volume.add(ts_ms, contracts)
        self.flow.add(ts_ms, contracts, side)

    def apply_top(self, top: ev.TopOfBook, ts_ms: int | None) -> bool:
        """Update the top of book; also the last price when the event carries one. True if the price changed."""
        self.book.update_top(top)
        price = top.last
        if price is None or price == self.prices.last:
            return False
        self.prices.update(ts_ms, price)  # type: ignore[arg-type]
        return True
