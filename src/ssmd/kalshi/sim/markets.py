"""The simulated exchange: markets in a few series and events, each with a book that evolves by limit orders,
cancels and crossing trades, plus market lifecycles (close, determine, settle, replace, activate).

:meth:`MarketModel.step` advances the model by one random action and returns the frames it caused, in order.
Given a seed, the sequence of frames (apart from timestamps) is deterministic.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ssmd.kalshi.sim.config import Wire
from ssmd.kalshi.sim.orderbook import SimBook
from ssmd.kalshi.sim.wire import Renderer, dollars

# channel names as clients subscribe to them
ORDERBOOK = "orderbook_delta"
TRADE = "trade"
TICKER = "ticker"
LIFECYCLE = "market_lifecycle_v2"


class TradeRecord(NamedTuple):
    """One trade the model made, kept for ``GET /markets/trades`` (the same ``trade_id`` as on the WebSocket)."""

    ts_ms: int
    trade_id: str
    ticker: str
    yes_price: int
    size: int
    taker: str


TAPE_MAX = 500_000
"""Trades the model keeps for REST (older ones are forgotten, oldest first)."""


class Event(NamedTuple):
    """One data frame before a session gives it a sid/seq: ``body`` is the ``msg`` JSON."""

    channel: str
    type: str
    ticker: str
    body: bytes


@dataclass
class Series:
    ticker: str
    title: str
    category: str
    frequency: str
    strike: Callable[[int], str]
    """Market suffix for the i-th market of an event (realistic shapes, some with dots)."""


def _rate_strike(i: int) -> str:
    """Fed-funds style ``T3.00``, ``T3.25`` ..."""
    bp = 300 + 25 * i
    return f"T{bp // 100}.{bp % 100:02d}"


SERIES: tuple[Series, ...] = (
    Series("KXBTCD", "Bitcoin price today at 5pm EDT", "Crypto", "daily",
           lambda i: f"T{90000 + 250 * i - 1}.99"),
    Series("KXETHD", "Ethereum price today at 5pm EDT", "Crypto", "daily",
           lambda i: f"T{1800 + 20 * i - 1}.99"),
    Series("KXHIGHNY", "Highest temperature in NYC today", "Climate and Weather", "daily",
           lambda i: f"B{40 + 2 * i}.5"),
    # for fifteen_min series ``i`` is the window number, so the suffix is the window's minute (…1145-45)
    Series("KXBTC15M", "Bitcoin price up or down in 15 minutes", "Crypto", "fifteen_min",
           lambda i: f"{15 * i % 60:02d}"),
    Series("FED", "Fed funds rate after the next meeting", "Economics", "custom", _rate_strike),
    Series("KXSOLD", "Solana price today at 5pm EDT", "Crypto", "daily", lambda i: f"T{120 + i}.9999"),
)


@dataclass
class Market:
    ticker: str
    event_ticker: str
    series_ticker: str
    market_id: str
    title: str
    status: str = "active"
    """REST vocabulary: initialized, active, closed, determined, finalized."""
    book: SimBook = field(default_factory=SimBook)
    last_price: int = 0
    last_size: int = 0
    volume: int = 0
    dollar_volume: int = 0
    open_interest: int = 0
    open_ts: int = 0
    close_ts: int = 0
    result: str = ""
    created_ms: int = 0


@dataclass
class EventInfo:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    strike_date: int


class MarketModel:
    def __init__(
        self, n_markets: int, seed: int | None, wire: Wire, lifecycle_every: int = 1000, now_ms: int | None = None
    ) -> None:
        self.rng = random.Random(seed)
        self._random = self.rng.random
        self.render = Renderer(wire)
        self.whole = wire != "current"
        """Legacy wire formats carry integer counts, so the model then trades whole contracts only."""
        self.lifecycle_every = lifecycle_every
        """Every n-th step advances a lifecycle instead of a book (0 = never): counted in steps, not seconds,
        so a seeded run stays deterministic."""
        self._steps = 0
        self.trades: list[TradeRecord] = []
        """Every trade made, oldest first (at most :data:`TAPE_MAX`): the REST trade tape."""
        self.trades_forgotten = 0
        """Trades dropped from the front of :attr:`trades`; ``trades_forgotten + i`` numbers a trade for good."""
        self.markets: dict[str, Market] = {}
        self.events: dict[str, EventInfo] = {}
        self.active: list[Market] = []
        self._pending: deque[tuple[str, Market]] = deque()
        self._next_index: dict[str, int] = {}
        self._retired: deque[str] = deque()
        self._new_events: list[str] = []
        now = now_ms if now_ms is not None else _now_ms()
        self._day = dt.datetime.fromtimestamp(now / 1000, dt.UTC)
        for i in range(n_markets):
            series = SERIES[i % len(SERIES)]
            m = self._new_market(series, now, event_no=(i // len(SERIES)) // 8)
            self.active.append(m)
            self._seed_book(m)

    # ----- catalogue -------------------------------------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def _new_market(self, series: Series, now_ms: int, event_no: int, status: str = "active") -> Market:
        day = self._day + dt.timedelta(days=event_no)
        event_ticker = f"{series.ticker}-{day:%y%b%d}{17 if series.frequency == 'daily' else ''}".upper()
        if series.frequency == "fifteen_min":  # one market per 15-minute window, named after its minute
            window = self._next_index.get(series.ticker, 0)
            self._next_index[series.ticker] = window + 1
            start = self._day.replace(hour=0, minute=0, second=0) + dt.timedelta(minutes=15 * window)
            event_ticker = f"{series.ticker}-{start:%y%b%d%H%M}".upper()
            self._next_index.setdefault(event_ticker, window)
        if event_ticker not in self.events:
            self._new_events.append(event_ticker)
            self.events[event_ticker] = EventInfo(
                event_ticker, series.ticker, f"{series.title} ({day:%b %d})", f"On {day:%b %d, %Y}",
                int(day.timestamp()),
            )
        index = self._next_index.get(event_ticker, 0)
        self._next_index[event_ticker] = index + 1
        ticker = f"{event_ticker}-{series.strike(index)}"
        if ticker in self.markets:
            raise RuntimeError(f"simulator generated {ticker} twice")
        m = Market(
            ticker=ticker, event_ticker=event_ticker, series_ticker=series.ticker, market_id=self._uuid(),
            title=f"{series.title}: {series.strike(index)}", status=status, open_ts=now_ms // 1000,
            close_ts=now_ms // 1000 + 86400 * (event_no + 1), created_ms=now_ms,
        )
        self.markets[ticker] = m
        return m

    def _seed_book(self, m: Market) -> None:
        mid = self.rng.randint(10, 90)
        for _ in range(self.rng.randint(3, 8)):
            m.book.apply("yes", self.rng.randint(max(1, mid - 15), mid - 1), self._qty())
        for _ in range(self.rng.randint(3, 8)):
            m.book.apply("no", self.rng.randint(max(1, 100 - mid - 15), 99 - mid), self._qty())

    def _int(self, low: int, high: int) -> int:
        """Uniform in ``[low, high]``: ``random()`` arithmetic is several times cheaper than ``randint``."""
        return low + int(self._random() * (high - low + 1))

    def _qty(self) -> int:
        if not self.whole and self._random() < 0.2:
            return self._int(1, 5000)
        return self._int(1, 50) * 100

    # ----- frames ----------------------------------------------------------------------------------------------
    def snapshot(self, ticker: str) -> Event:
        m = self.markets[ticker]
        levels = m.book.levels()
        body = self.render.snapshot(m.ticker, m.market_id, levels["yes"], levels["no"])
        return Event(ORDERBOOK, "orderbook_snapshot", ticker, body)

    def ticker_event(self, m: Market, now_ms: int) -> Event:
        return Event(TICKER, "ticker", m.ticker, self.render.ticker(m, now_ms))

    def step(self, now_ms: int) -> list[Event]:
        """One random action on one market: the frames it produced (1 to 3), in the order Kalshi would send them."""
        rnd = self._random
        active = self.active
        self._steps += 1
        every = self.lifecycle_every
        if (every and self._steps % every == 0 and len(active) > 1) or not active:
            return self._lifecycle(now_ms)
        m = active[int(rnd() * len(active))]
        r = rnd()
        if r < 0.5:
            return self._limit(m, now_ms)
        if r < 0.85:
            return self._cancel(m, now_ms)
        return self._trade(m, now_ms)

    def _delta(self, m: Market, side: str, price: int, delta: int, now_ms: int) -> Event:
        m.book.apply(side, price, delta)
        body = self.render.delta(m.ticker, m.market_id, side, price, delta, now_ms)
        return Event(ORDERBOOK, "orderbook_delta", m.ticker, body)

    def _limit(self, m: Market, now_ms: int) -> list[Event]:
        book = m.book
        side = "yes" if self._random() < 0.5 else "no"
        levels = book.yes if side == "yes" else book.no
        top_limit = 99 - book.best("no" if side == "yes" else "yes")
        if top_limit < 1 or len(levels) >= 25:
            return self._cancel(m, now_ms)
        own = max(levels) if levels else 0
        # near the side's best (sometimes improving it); an empty side restarts just below the opposite side
        price = max(1, min(top_limit, own + self._int(-6, 1))) if own else self._int(max(1, top_limit - 10),
                                                                                        top_limit)
        out = [self._delta(m, side, price, self._qty(), now_ms)]
        if price >= own:  # a new best price or more size at the best: the top of book changed
            out.append(self.ticker_event(m, now_ms))
        return out

    def _cancel(self, m: Market, now_ms: int) -> list[Event]:
        book = m.book
        if book.yes and book.no:
            side = "yes" if self._random() < 0.5 else "no"
        elif book.yes or book.no:
            side = "yes" if book.yes else "no"
        else:
            return self._limit(m, now_ms)
        levels = book.yes if side == "yes" else book.no
        prices = list(levels)
        price = prices[int(self._random() * len(prices))]
        qty = levels[price]
        if self._random() < 0.4:
            take = qty
        elif self.whole:
            take = self._int(1, max(1, qty // 100)) * 100
        else:
            take = self._int(1, qty)
        at_top = price == max(levels)
        out = [self._delta(m, side, price, -min(take, qty), now_ms)]
        if at_top:
            out.append(self.ticker_event(m, now_ms))
        return out

    def _trade(self, m: Market, now_ms: int) -> list[Event]:
        taker = "yes" if self._random() < 0.5 else "no"
        hit = "no" if taker == "yes" else "yes"  # a YES buyer lifts the best NO bid, and vice versa
        best = m.book.best(hit)
        if not best:
            return self._limit(m, now_ms)
        count = min(m.book.side(hit)[best], self._qty())
        yes_price = 100 - best if taker == "yes" else best
        out = [self._delta(m, hit, best, -count, now_ms)]
        m.last_price, m.last_size = yes_price, count
        m.volume += count
        m.dollar_volume += count * yes_price
        m.open_interest = m.open_interest + count if self._random() < 0.6 else max(0, m.open_interest - count)
        trade_id = self._uuid()
        body = self.render.trade(trade_id, m.ticker, yes_price, count, taker, now_ms)
        out.append(Event(TRADE, "trade", m.ticker, body))
        self._record(TradeRecord(now_ms, trade_id, m.ticker, yes_price, count, taker))
        out.append(self.ticker_event(m, now_ms))
        return out

    def _record(self, trade: TradeRecord) -> None:
        tape = self.trades
        tape.append(trade)
        if len(tape) > TAPE_MAX:
            drop = len(tape) - TAPE_MAX // 2  # amortised: trim rarely, by half
            del tape[:drop]
            self.trades_forgotten += drop

    # ----- lifecycle -------------------------------------------------------------------------------------------
    def _lifecycle(self, now_ms: int) -> list[Event]:
        """Advance one market one lifecycle step. A closing market is replaced by a new one so the count holds."""
        now = now_ms // 1000
        if not self._pending:
            m = self.active.pop(int(self._random() * len(self.active)))
            m.status, m.close_ts = "closed", now
            self._pending.extend([("determined", m), ("settled", m)])
            return [self._life(m, {"event_type": "close_date_updated", "close_ts": now})]
        kind, m = self._pending.popleft()
        if kind == "determined":
            m.status, m.result = "determined", "yes" if self.rng.random() < 0.5 else "no"
            fields: dict[str, Any] = {"determination_ts": now, "result": m.result,
                                      "settlement_value": dollars(100 if m.result == "yes" else 0)}
            return [self._life(m, {**fields, "event_type": "determined"})]
        if kind == "settled":
            m.status = "finalized"
            self._retire(m.ticker)
            series = next(s for s in SERIES if s.ticker == m.series_ticker)
            self._new_events.clear()
            new = self._new_market(series, now_ms, event_no=0, status="initialized")
            self._pending.append(("activated", new))
            announce = [self._event_created(e) for e in self._new_events]
            created = self._life(new, {
                "event_type": "created", "open_ts": now, "close_ts": new.close_ts,
                "additional_metadata": {"name": new.title, "title": new.title, "event_ticker": new.event_ticker,
                                        "can_close_early": True, "expected_expiration_ts": new.close_ts},
                "price_level_structure": "linear_cent",
                "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
            })
            return [self._life(m, {"settled_ts": now, "event_type": "settled"}), *announce, created]
        m.status = "active"
        self._seed_book(m)
        self.active.append(m)
        return [self._life(m, {"event_type": "activated", "open_ts": now})]

    def _event_created(self, event_ticker: str) -> Event:
        """``event_lifecycle`` for an event the replacement market opened (its fields per kalshi-protocol §4.4)."""
        e = self.events[event_ticker]
        return Event(LIFECYCLE, "event_lifecycle", event_ticker, self.render.lifecycle({
            "event_ticker": e.event_ticker, "exchange_index": 0, "title": e.title, "subtitle": e.sub_title,
            "collateral_return_type": "MECNET", "series_ticker": e.series_ticker}))

    def _life(self, m: Market, fields: dict[str, Any]) -> Event:
        return Event(LIFECYCLE, "market_lifecycle_v2", m.ticker,
                     self.render.lifecycle({"market_ticker": m.ticker, **fields}))

    def _retire(self, ticker: str, keep: int = 1000) -> None:
        """Settled markets stay visible (REST, subscriptions) but only the newest ``keep`` of them."""
        self._retired.append(ticker)
        while len(self._retired) > keep:
            self.markets.pop(self._retired.popleft(), None)


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
