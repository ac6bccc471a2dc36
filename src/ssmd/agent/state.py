"""Per-market state builders, updated from frames; what signals read.

Each builder is cheap per frame (O(1) amortised) and bounded per market: histories keep at most
:data:`MAX_WINDOW_MS` of exchange time and at most a fixed number of entries. Builders are fed by
:class:`ssmd.agent.engine.Engine`, which knows which frame types update which builder.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ssmd.agent._numbers import count, dollars, taker_side
from ssmd.kalshi.values import OrderbookSnapshot

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

    def update_ticker(self, msg: dict[str, Any]) -> None:
        bid = dollars(msg, "yes_bid_dollars", "yes_bid")
        ask = dollars(msg, "yes_ask_dollars", "yes_ask")
        if bid is not None:
            self.yes_bid = bid
        if ask is not None:
            self.yes_ask = ask
        bid_size = count(msg, "yes_bid_size_fp", "yes_bid_size")
        ask_size = count(msg, "yes_ask_size_fp", "yes_ask_size")
        if bid_size is not None:
            self.yes_bid_size = bid_size
        if ask_size is not None:
            self.yes_ask_size = ask_size
        self._spread()

    def update_levels(
        self, best_bid: tuple[float, float] | None, best_ask: tuple[float, float] | None
    ) -> None:
        """From an L2 book: ``best_ask`` is (1 - best NO bid, its size)."""
        self.yes_bid, self.yes_bid_size = best_bid if best_bid else (None, None)
        self.yes_ask, self.yes_ask_size = best_ask if best_ask else (None, None)
        self._spread()

    def _spread(self) -> None:
        self.prev_spread_cents = self.spread_cents
        bid, ask = self.yes_bid, self.yes_ask
        self.spread_cents = None if bid is None or ask is None else round((ask - bid) * 100, 4)


class L2Book:
    """One market's bids (YES and NO), float prices, quantities in exact hundredths, best levels cached.

    Snapshots are parsed by :func:`ssmd.kalshi.values.parse_snapshot` (every wire format, rare frames); deltas,
    the hot path, are read here directly. Same semantics as :class:`ssmd.kalshi.book.OrderBook`: add the delta,
    drop the level at <= 0, a delta before any snapshot leaves the book ``stale`` (unknown) until one arrives.
    """

    __slots__ = ("best", "sides", "stale")

    def __init__(self) -> None:
        self.sides: dict[str, dict[float, int]] = {"yes": {}, "no": {}}
        self.best: dict[str, float | None] = {"yes": None, "no": None}
        self.stale = True

    def apply_snapshot(self, snap: OrderbookSnapshot) -> None:
        for side, levels in (("yes", snap.yes), ("no", snap.no)):
            book = {float(price): round(qty * 100) for price, qty in levels if qty > 0}
            self.sides[side] = book
            self.best[side] = max(book) if book else None
        self.stale = False

    def apply_delta(self, msg: dict[str, Any]) -> None:
        side = msg.get("side")
        price = dollars(msg, "price_dollars", "price")
        change = count(msg, "delta_fp", "delta")
        if self.stale or price is None or change is None or side not in ("yes", "no"):
            return
        book = self.sides[side]
        quantity = book.get(price, 0) + round(change * 100)
        best = self.best[side]
        if quantity > 0:
            book[price] = quantity
            if best is None or price > best:
                self.best[side] = price
        else:
            book.pop(price, None)
            if price == best:
                self.best[side] = max(book) if book else None

    def top(self) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
        """((best YES bid, size), (YES ask = 1 - best NO bid, size)) or None per side."""
        if self.stale:
            return None, None
        yes, no = self.best["yes"], self.best["no"]
        bid = (yes, self.sides["yes"][yes] / 100) if yes is not None else None
        ask = (round(1 - no, 6), self.sides["no"][no] / 100) if no is not None else None
        return bid, ask


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


_STATUS_BY_EVENT = {
    "created": "created",
    "activated": "open",
    "deactivated": "paused",
    "determined": "determined",
    "settled": "settled",
}


class MarketStatus:
    """The market's lifecycle as ``market_lifecycle_v2`` reports it."""

    __slots__ = ("close_ts", "event_type", "result", "settlement_value", "status")

    def __init__(self) -> None:
        self.status: str | None = None
        self.event_type: str | None = None
        self.result: str | None = None
        self.settlement_value: float | None = None
        self.close_ts: int | None = None

    def update(self, msg: dict[str, Any]) -> None:
        event = msg.get("event_type")
        self.event_type = event if isinstance(event, str) else None
        if event == "deactivated" and msg.get("is_deactivated") is False:
            self.status = "open"
        elif self.event_type in _STATUS_BY_EVENT:
            self.status = _STATUS_BY_EVENT[self.event_type]
        result = msg.get("result")
        if isinstance(result, str) and result:
            self.result = result
        value = dollars(msg, "settlement_value", "settlement_value_cents")
        if value is not None:
            self.settlement_value = value
        close = msg.get("close_ts")
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
    l2: L2Book = field(default_factory=L2Book)
    trade: LastTrade = field(default_factory=LastTrade)

    def apply_trade(self, msg: dict[str, Any], ts_ms: int | None) -> None:
        price = dollars(msg, "yes_price_dollars", "yes_price")
        contracts = count(msg, "count_fp", "count") or 0.0
        side = msg.get("taker_outcome_side") or msg.get("taker_side")
        if side != "yes" and side != "no":
            side = taker_side(msg)
        trade = self.trade
        trade.price, trade.contracts, trade.side, trade.trade_id = price, contracts, side, msg.get("trade_id")
        if price is not None:
            self.prices.update(ts_ms, price)
        self.volume.add(ts_ms, contracts)
        self.flow.add(ts_ms, contracts, side)

    def apply_ticker(self, msg: dict[str, Any], ts_ms: int | None) -> bool:
        """Update the top of book; also the last price when the frame carries one. True if the price changed."""
        self.book.update_ticker(msg)
        price = dollars(msg, "price_dollars", "price")
        if price is None or price == self.prices.last:
            return False
        self.prices.update(ts_ms, price)
        return True
