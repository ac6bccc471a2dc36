"""``book_top``: the top N levels of each market's book after every change, or on a regular time grid.

The builder is fed a feed's :class:`ssmd.feed.tables.BookEvents` in chain order: today the archive's own order of
order-book frames (one connector instance), later a merged view of several captures can feed the same events.
Prices are integer ticks on the first outcome's price scale (Kalshi: bids are YES bids; an ask is a NO bid at
``p`` shown at ``1 - p``), sizes integer ticks; they become the feed's ``decimal128`` columns in bulk when a table is
built.

Validity, as the feeds' books define it: ``seq`` counts per ``sid`` across all markets of that sid, so a
jump (or a restart at 1 on the same sid) marks every market of that sid invalid; a delta for a market without a
snapshot on the same sid (none yet, or one from an earlier subscription) marks it invalid; a change that could not
be read marks it invalid. An invalid book ignores deltas; the next snapshot resets it and makes it valid again.

With an interval, one row per market per boundary ``k * interval`` (UTC epoch-aligned): the book after every frame
received before the first frame with a later time. A boundary is emitted once the data has passed it, so an
export continued later (``--incremental``) emits exactly the rows a single export would.
"""

from __future__ import annotations

import bisect
from typing import Any, cast

import pyarrow as pa

from ssmd.archive._window import Window
from ssmd.feed.tables import DELTA, LEVEL, SEQ_ONLY, SNAPSHOT, BookEvents, ExportTables, Level, from_unscaled

DEFAULT_DEPTH = 10
TS = pa.timestamp("ms", tz="UTC")


def schema(tables: ExportTables, depth: int) -> pa.Schema:
    price, size = tables.price_type, tables.size_type
    levels = []
    for i in range(depth):
        levels += [(f"bid_price_{i}", price), (f"bid_size_{i}", size), (f"ask_price_{i}", price),
                   (f"ask_size_{i}", size)]
    return pa.schema([("ts", TS), (tables.market_column, pa.string()), *levels, ("book_valid", pa.bool_()),
                      ("sid", pa.int64()), ("seq", pa.int64()), ("nats_seq", pa.int64())])


class _Book:
    """One market: bids and asks ``{price: size}`` with their prices kept sorted (ascending)."""

    __slots__ = ("ask_px", "asks", "bid_px", "bids", "nats", "seq", "sid", "snap_sid", "snapped", "top_asks",
                 "top_bids", "valid")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_px: list[int] = []
        self.ask_px: list[int] = []
        self.valid = False
        self.snapped = False
        self.snap_sid: int | None = None
        self.sid: int | None = None
        self.seq: int | None = None
        self.nats: int | None = None
        self.top_bids: _Top | None = None
        """The best levels as last shown (prices, sizes, padded to the depth); dropped when they may change."""
        self.top_asks: _Top | None = None

    def reset(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        self.bids, self.bid_px = _side(bids)
        self.asks, self.ask_px = _side(asks)
        self.top_bids = self.top_asks = None

    def apply(self, is_bid: bool, price: int, change: int, depth: int) -> None:
        """Add ``change`` to one level (gone at <= 0). A change below the shown levels keeps them."""
        if is_bid:
            side, prices = self.bids, self.bid_px
            if self.top_bids is not None and (len(prices) < depth or price >= prices[-depth]):
                self.top_bids = None
        else:
            side, prices = self.asks, self.ask_px
            if self.top_asks is not None and (len(prices) < depth or price <= prices[depth - 1]):
                self.top_asks = None
        size = side.get(price, 0) + change
        if size > 0:
            if price not in side:
                bisect.insort(prices, price)
            side[price] = size
        elif price in side:
            del side[price]
            del prices[bisect.bisect_left(prices, price)]

    def to_json(self) -> dict[str, Any]:
        return {"bids": sorted(self.bids.items()), "asks": sorted(self.asks.items()), "valid": self.valid,
                "snapped": self.snapped, "snap_sid": self.snap_sid, "sid": self.sid, "seq": self.seq,
                "nats": self.nats}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Book:
        book = cls()
        book.reset([(p, q) for p, q in data["bids"]], [(p, q) for p, q in data["asks"]])
        book.valid, book.snapped, book.snap_sid = data["valid"], data["snapped"], data["snap_sid"]
        book.sid, book.seq, book.nats = data["sid"], data["seq"], data["nats"]
        return book


_Top = tuple[list[int | None], list[int | None]]


def _side(levels: list[tuple[int, int]]) -> tuple[dict[int, int], list[int]]:
    side: dict[int, int] = {}
    for price, size in levels:
        total = side.get(price, 0) + size  # a price listed twice is summed, as the feeds' books do
        if total > 0:
            side[price] = total
        else:
            side.pop(price, None)
    return side, sorted(side)


class BookTop:
    """Feeds books from events and collects ``book_top`` rows; its state survives between exports."""

    def __init__(self, tables: ExportTables, depth: int = DEFAULT_DEPTH, interval_ms: int | None = None,
                 tickers: frozenset[str] | None = None, window: Window | None = None) -> None:
        if depth < 1:
            raise ValueError("book depth must be at least 1")
        if interval_ms is not None and interval_ms < 1:
            raise ValueError("book interval must be at least 1 ms")
        self.tables = tables
        self.depth = depth
        self.interval = interval_ms
        self.tickers = tickers
        self.window = window or Window()
        self.books: dict[str, _Book] = {}
        self.last_seq: dict[int, int] = {}
        self.sid_markets: dict[int, set[str]] = {}
        self.next_boundary: int | None = None
        self.gaps = 0
        self._reset_rows()

    def _reset_rows(self) -> None:
        """Rows are collected column-wise (levels flattened, ``depth`` per row): no tuple per row."""
        self._ts: list[int | None] = []
        self._market: list[str] = []
        self._valid: list[bool] = []
        self._sid: list[int | None] = []
        self._seq: list[int | None] = []
        self._nats: list[int | None] = []
        self._levels: tuple[list[int | None], ...] = ([], [], [], [])
        """Bid prices, bid sizes, ask prices, ask sizes."""

    # -- feeding ---------------------------------------------------------------------------------------------

    def feed(self, events: BookEvents) -> None:
        grid = self.interval is not None
        books = self.books
        last_seq = self.last_seq
        emit = self._emit
        depth = self.depth
        for _frame, kind, market, sid, seq, ts, change, nats in events.rows:
            if grid and ts is not None and kind != SEQ_ONLY and market is not None:
                self._advance(ts)  # the boundaries this frame passes show the book before it
            if sid is not None and seq is not None:
                if kind == SEQ_ONLY:
                    if last_seq.get(sid) == seq - 1:
                        last_seq[sid] = seq
                    continue
                prev = last_seq.get(sid)
                last_seq[sid] = seq
                if prev is not None and seq != prev + 1:
                    self.gaps += 1
                    for stale in self.sid_markets.get(sid, ()):
                        books[stale].valid = False
            if kind == SEQ_ONLY or market is None:
                continue
            book = books.get(market)
            if book is None:
                book = books[market] = _Book()
                if sid is not None:
                    self.sid_markets.setdefault(sid, set()).add(market)
            elif sid is not None and book.sid != sid:
                self.sid_markets.setdefault(sid, set()).add(market)
            if kind == SNAPSHOT:
                book.snapped, book.snap_sid = True, sid
                if change is None:
                    book.reset([], [])
                    book.valid = False
                else:
                    snapshot = cast(tuple[list[Level], list[Level]], change)
                    book.reset(snapshot[0], snapshot[1])
                    book.valid = True
            elif kind in (DELTA, LEVEL):
                if change is None or not book.snapped or book.snap_sid != sid:
                    book.valid = False
                elif book.valid:
                    is_bid: bool
                    price: int
                    size: int
                    is_bid, price, size = change  # type: ignore[misc]
                    if kind == LEVEL:  # a new size: the change from the size the book has
                        size -= (book.bids if is_bid else book.asks).get(price, 0)
                    book.apply(is_bid, price, size, depth)
            book.sid, book.seq, book.nats = sid, seq, nats
            if not grid:
                emit(ts, market, book)

    def _advance(self, ts: int) -> None:
        """Emit every boundary the data has now passed (before applying the frame at ``ts``)."""
        interval = self.interval
        assert interval is not None
        boundary = self.next_boundary
        if boundary is None:
            self.next_boundary = -(-ts // interval) * interval
            return
        if ts <= boundary:
            return
        markets = sorted(self.books)
        while boundary < ts:
            for market in markets:
                self._emit(boundary, market, self.books[market])
            boundary += interval
        self.next_boundary = boundary

    def _emit(self, ts: int | None, market: str, book: _Book) -> None:
        if self.tickers is not None and market not in self.tickers:
            return
        if ts is not None and self.window.bounded and not self.window.contains_ms(ts):
            return
        depth = self.depth
        bids = book.top_bids
        if bids is None:
            prices = book.bid_px[-1:-depth - 1:-1]
            pad = [None] * (depth - len(prices))
            bids = book.top_bids = ([*prices, *pad], [*map(book.bids.__getitem__, prices), *pad])
        asks = book.top_asks
        if asks is None:
            prices = book.ask_px[:depth]
            pad = [None] * (depth - len(prices))
            asks = book.top_asks = ([*prices, *pad], [*map(book.asks.__getitem__, prices), *pad])
        self._ts.append(ts)
        self._market.append(market)
        self._valid.append(book.valid)
        self._sid.append(book.sid)
        self._seq.append(book.seq)
        self._nats.append(book.nats)
        levels = self._levels
        levels[0].extend(bids[0])
        levels[1].extend(bids[1])
        levels[2].extend(asks[0])
        levels[3].extend(asks[1])

    # -- output ----------------------------------------------------------------------------------------------

    def take_rows(self) -> pa.Table:
        """The rows collected since the last call, as a ``book_top`` table (``ts`` may be null)."""
        n = len(self._ts)
        depth = self.depth
        price, size = self.tables.price_type, self.tables.size_type
        columns: list[pa.Array] = [pa.array(self._ts, pa.int64()).cast(TS), pa.array(self._market, pa.string())]
        flat = [from_unscaled(pa.array(values, pa.int64()), typ)  # one conversion per side and part, then a take
                for values, typ in zip(self._levels, (price, size, price, size), strict=True)]
        for i in range(depth):
            pick = pa.array(range(i, n * depth, depth), pa.int64())
            columns += [part.take(pick) for part in flat]
        columns += [pa.array(self._valid, pa.bool_()), pa.array(self._sid, pa.int64()),
                    pa.array(self._seq, pa.int64()), pa.array(self._nats, pa.int64())]
        self._reset_rows()
        return pa.Table.from_arrays(columns, schema=schema(self.tables, depth))

    # -- state between exports -------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "depth": self.depth, "interval_ms": self.interval, "gaps": self.gaps,
            "next_boundary": self.next_boundary,
            "last_seq": {str(k): v for k, v in self.last_seq.items()},
            "sid_markets": {str(k): sorted(v) for k, v in self.sid_markets.items()},
            "books": {market: book.to_json() for market, book in self.books.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.gaps = state["gaps"]
        self.next_boundary = state["next_boundary"]
        self.last_seq = {int(k): v for k, v in state["last_seq"].items()}
        self.sid_markets = {int(k): set(v) for k, v in state["sid_markets"].items()}
        self.books = {market: _Book.from_json(data) for market, data in state["books"].items()}

