"""The one book (ssmd.feed.book.Book) fed Kalshi's events: snapshot + delta sequences, level removal, NO bids as
YES asks, fractional sizes, state digests; and Kalshi's seq-gap rule (BookSet)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import orjson
import pytest

from ssmd.feed.base import BookDelta, BookSnapshot
from ssmd.feed.book import Book
from ssmd.kalshi.book import BookSet, BookUpdate
from ssmd.kalshi.events import frame_events

D = Decimal
TICKER = "KXETHD-26FEB1217-T1819.99"


def snap_frame(seq: int, ticker: str = TICKER, sid: int = 2, yes: Any = None, no: Any = None) -> bytes:
    msg: dict[str, Any] = {"market_ticker": ticker}
    if yes is not None:
        msg["yes_dollars_fp"] = yes
    if no is not None:
        msg["no_dollars_fp"] = no
    return orjson.dumps({"type": "orderbook_snapshot", "sid": sid, "seq": seq, "msg": msg})


def delta_frame(seq: int, side: str, price: str, delta: str, ticker: str = TICKER, sid: int = 2) -> bytes:
    return orjson.dumps({"type": "orderbook_delta", "sid": sid, "seq": seq,
                         "msg": {"market_ticker": ticker, "side": side, "price_dollars": price, "delta_fp": delta}})


def apply(book: Book, msg: dict[str, Any], kind: str = "orderbook_delta") -> None:
    for event in frame_events(orjson.dumps({"type": kind, "sid": 2, "seq": 1, "msg": msg}), exact=True):
        assert isinstance(event, BookSnapshot | BookDelta)
        book.apply(event)


def book_from(yes: list[list[str]], no: list[list[str]]) -> Book:
    book = Book(TICKER)
    apply(book, {"market_ticker": TICKER, "yes_dollars_fp": yes, "no_dollars_fp": no}, "orderbook_snapshot")
    return book


def delta(book: Book, side: str, price: str, amount: str) -> None:
    apply(book, {"market_ticker": TICKER, "side": side, "price_dollars": price, "delta_fp": amount})


# --- Book ---------------------------------------------------------------------------------------------------------


def test_snapshot_sets_best_bid_and_no_bids_become_asks() -> None:
    """After a snapshot the best bid is the highest YES bid; the best ask is 1 - the highest NO bid."""
    book = book_from([["0.0800", "300.00"], ["0.2200", "333.00"]], [["0.5400", "20.00"], ["0.5600", "146.00"]])
    assert book.best_bid() == (D("0.22"), D(333))
    assert book.best_ask() == (D("0.44"), D(146))
    assert book.spread() == D("0.22")


def test_empty_sides_have_no_best_or_spread() -> None:
    """With an empty side, best bid/ask and spread are None."""
    book = book_from([["0.20", "1"]], [])
    assert book.best_ask() is None and book.spread() is None


def test_snapshot_replaces_both_sides() -> None:
    """A second snapshot drops every level of the first."""
    book = book_from([["0.10", "5"]], [["0.80", "5"]])
    apply(book, {"market_ticker": TICKER, "yes_dollars_fp": [["0.20", "1"]]}, "orderbook_snapshot")
    assert book.levels() == {"bid": {D("0.20"): D(1)}, "ask": {}}


def test_delta_adds_to_existing_and_new_levels() -> None:
    """A positive delta grows an existing level or creates a new one (a NO bid at 0.70 is an ask at 0.30)."""
    book = book_from([["0.10", "5"]], [])
    delta(book, "yes", "0.10", "2.00")
    delta(book, "no", "0.70", "4.00")
    assert book.levels() == {"bid": {D("0.10"): D(7)}, "ask": {D("0.30"): D(4)}}


@pytest.mark.parametrize("amount", ["-5.00", "-9.00"])
def test_delta_to_zero_or_below_removes_level(amount: str) -> None:
    """A level whose quantity reaches 0 (or would go negative) disappears."""
    book = book_from([["0.10", "5"], ["0.20", "1"]], [])
    delta(book, "yes", "0.1000", amount)
    assert book.levels()["bid"] == {D("0.20"): D(1)}
    assert book.best_bid() == (D("0.20"), D(1))


def test_fractional_quantities_are_exact() -> None:
    """Fractional sizes add exactly (0.11 + 0.09 = 0.20) and cancel out exactly to remove a level."""
    book = book_from([["0.30", "0.11"]], [])
    delta(book, "yes", "0.30", "0.09")
    assert book.best_bid() == (D("0.30"), D("0.20"))
    delta(book, "yes", "0.30", "-0.20")
    assert book.best_bid() is None


def test_float_sizes_cancel_out_like_decimal() -> None:
    """On the float path 0.1 + 0.2 - 0.3 is no level (not 5.5e-17 contracts)."""
    book = Book(TICKER)
    book.apply(BookSnapshot(TICKER, None, [(0.5, 0.1)], []))
    book.apply(BookDelta(TICKER, None, "bid", 0.5, change=0.2))
    book.apply(BookDelta(TICKER, None, "bid", 0.5, change=-0.3))
    assert book.best_bid() is None and book.bids == {}


def test_size_replaces_a_level() -> None:
    """A delta with ``size`` (feeds that send the new size) replaces the level; size 0 removes it."""
    book = Book(TICKER)
    book.apply(BookSnapshot(TICKER, None, [], [(D("0.6"), D(5))]))
    book.apply(BookDelta(TICKER, None, "ask", D("0.6"), size=D(2)))
    book.apply(BookDelta(TICKER, None, "ask", D("0.55"), size=D(1)))
    assert book.best_ask() == (D("0.55"), D(1))
    book.apply(BookDelta(TICKER, None, "ask", D("0.55"), size=D(0)))
    assert book.levels()["ask"] == {D("0.6"): D(2)}


def test_legacy_cents_and_dollar_prices_hit_the_same_level() -> None:
    """A legacy cent delta (price 30) and a dollar delta ("0.3000") update the same level."""
    book = book_from([["0.30", "1"]], [])
    apply(book, {"market_ticker": TICKER, "side": "yes", "price": 30, "delta": 2})
    assert book.levels()["bid"] == {D("0.30"): D(3)}


def test_unusable_delta_is_ignored() -> None:
    """A delta without a readable side, price or amount changes nothing."""
    book = book_from([["0.30", "1"]], [])
    before = book.state()
    delta(book, "maybe", "0.30", "1")
    delta(book, "yes", "??", "1")
    assert book.state() == before


def test_depth_best_first_and_limited() -> None:
    """depth() lists the best `levels` of a side: bids highest first, asks lowest first."""
    book = book_from([["0.10", "1"], ["0.30", "3"], ["0.20", "2"]], [["0.60", "6"], ["0.50", "5"]])
    assert book.depth("bid", 2) == [(D("0.30"), D(3)), (D("0.20"), D(2))]
    assert book.depth("ask") == [(D("0.40"), D(6)), (D("0.50"), D(5))]


def test_depth_rejects_unknown_side() -> None:
    """depth() on a side other than bid/ask is a ValueError."""
    with pytest.raises(ValueError, match="side"):
        book_from([], []).depth("yes")  # type: ignore[arg-type]


def test_state_equal_for_equal_books_however_built() -> None:
    """Books with the same levels have the same state, whatever the price spelling or arrival order."""
    a = book_from([["0.10", "1.00"], ["0.20", "2"]], [["0.5", "3"]])
    b = Book(TICKER)
    apply(b, {"market_ticker": TICKER, "yes": [[20, 2], [10, 1]], "no": [[50, 3]]}, "orderbook_snapshot")
    assert a.state() == b.state()
    c = book_from([["0.20", "1"]], [["0.5", "3"]])
    delta(c, "yes", "0.2000", "1")
    delta(c, "yes", "0.1", "1")
    assert c.state() == a.state()


def test_state_differs_for_different_books() -> None:
    """A different quantity, or the same level on the other side, changes the state."""
    base = book_from([["0.10", "1"]], [])
    assert base.state() != book_from([["0.10", "2"]], []).state()
    assert base.state() != book_from([], [["0.90", "1"]]).state()
    assert base.state() != book_from([["0.10", "1"], ["0.11", "1"]], []).state()


def test_levels_returns_a_copy() -> None:
    """Mutating the result of levels() does not touch the book."""
    book = book_from([["0.10", "1"]], [])
    book.levels()["bid"][D("0.50")] = D(9)
    assert book.best_bid() == (D("0.10"), D(1))


def test_random_deltas_match_integer_model() -> None:
    """500 random deltas in dollar strings give the same book as an integer cents/hundredths model."""
    rng = random.Random(4)
    model: dict[str, dict[int, int]] = {"yes": {}, "no": {}}
    book = book_from([], [])
    for _ in range(500):
        side, cents = rng.choice(["yes", "no"]), rng.randint(1, 99)
        current = model[side].get(cents, 0)
        change = rng.randint(1, 5000) if current == 0 or rng.random() < 0.6 else -rng.randint(1, current + 100)
        model[side][cents] = current + change
        if model[side][cents] <= 0:
            del model[side][cents]
        delta(book, side, f"{cents / 100:.4f}", f"{change / 100:.2f}")
    expected = {"bid": {D(c) / 100: D(q) / 100 for c, q in model["yes"].items()},
                "ask": {1 - D(c) / 100: D(q) / 100 for c, q in model["no"].items()}}
    assert book.levels() == expected


# --- BookSet ------------------------------------------------------------------------------------------------------


def test_bookset_applies_contiguous_sequence() -> None:
    """Snapshot then deltas with contiguous seq update the book with no gap."""
    books = BookSet()
    updates = [books.on_frame(snap_frame(1, yes=[["0.40", "10"]], no=[["0.55", "5"]])),
               books.on_frame(delta_frame(2, "yes", "0.41", "3")),
               books.on_frame(delta_frame(3, "no", "0.55", "-5"))]
    assert updates == [BookUpdate(TICKER, False)] * 3
    book = books.books[TICKER]
    assert book.best_bid() == (D("0.41"), D(3)) and book.best_ask() is None and books.gaps == 0


def test_bookset_ignores_other_frames() -> None:
    """Non-orderbook frames give None and create no book."""
    books = BookSet()
    assert books.on_frame(_raw({"type": "trade", "sid": 2, "seq": 1, "msg": {"market_ticker": "A"}})) is None
    assert books.on_frame(_raw({"type": "subscribed", "id": 1, "msg": {"sid": 2}})) is None
    assert books.books == {}


def test_seq_gap_marks_sid_books_stale_until_snapshot() -> None:
    """A seq jump counts a gap, marks every book of that sid stale (deltas ignored) until its own snapshot."""
    books = BookSet()
    books.on_frame(snap_frame(1, "A", yes=[["0.10", "1"]]))
    books.on_frame(snap_frame(2, "B", yes=[["0.20", "1"]]))
    update = books.on_frame(delta_frame(4, "yes", "0.10", "5", ticker="A"))  # seq 3 lost
    assert update == BookUpdate("A", True) and books.gaps == 1
    assert books.books["A"].stale and books.books["B"].stale
    assert books.books["A"].levels()["bid"] == {D("0.10"): D(1)}  # the delta after the gap was ignored
    books.on_frame(delta_frame(5, "yes", "0.20", "5", ticker="B"))
    assert books.books["B"].levels()["bid"] == {D("0.20"): D(1)}
    books.on_frame(snap_frame(6, "A", yes=[["0.15", "2"]]))
    assert not books.books["A"].stale and books.books["B"].stale
    books.on_frame(delta_frame(7, "yes", "0.15", "1", ticker="A"))
    assert books.books["A"].best_bid() == (D("0.15"), D(3)) and books.gaps == 1


def test_gap_on_one_sid_leaves_other_sids_alone() -> None:
    """seq is per sid: a gap on sid 2 does not stale the books of sid 3."""
    books = BookSet()
    books.on_frame(snap_frame(1, "A", sid=2))
    books.on_frame(snap_frame(1, "C", sid=3))
    books.on_frame(delta_frame(9, "yes", "0.10", "1", ticker="A", sid=2))
    assert books.books["A"].stale and not books.books["C"].stale


def test_seq_is_counted_across_markets_of_a_sid() -> None:
    """Interleaved markets on one sid share one seq counter: no gap when it is contiguous across them."""
    books = BookSet()
    for seq, ticker in enumerate(["A", "B", "A", "B"], start=1):
        frame = snap_frame(seq, ticker) if seq <= 2 else delta_frame(seq, "no", "0.5", "1", ticker=ticker)
        assert books.on_frame(frame) == BookUpdate(ticker, False)
    assert books.gaps == 0


def test_delta_before_snapshot_is_stale_and_ignored() -> None:
    """A delta for a market with no snapshot yet creates a stale, empty book."""
    books = BookSet()
    books.on_frame(delta_frame(1, "yes", "0.10", "5"))
    assert books.books[TICKER].stale and books.books[TICKER].levels() == {"bid": {}, "ask": {}}


def test_control_reply_taking_next_seq_is_not_a_gap() -> None:
    """An `ok` reply that consumed the sid's next seq does not make the following delta look like a gap."""
    books = BookSet()
    books.on_frame(snap_frame(1))
    books.on_frame(_raw({"type": "ok", "id": 5, "sid": 2, "seq": 2, "msg": {"market_tickers": [TICKER]}}))
    assert books.on_frame(delta_frame(3, "yes", "0.1", "1")) == BookUpdate(TICKER, False)


def test_control_reply_repeating_seq_is_not_a_gap() -> None:
    """An `ok` reply that repeats the last data seq does not shift the expectation either."""
    books = BookSet()
    books.on_frame(snap_frame(1))
    books.on_frame(_raw({"type": "ok", "id": 5, "sid": 2, "seq": 1, "msg": {"market_tickers": [TICKER]}}))
    assert books.on_frame(delta_frame(2, "yes", "0.1", "1")) == BookUpdate(TICKER, False)


def test_reset_after_reconnect() -> None:
    """reset() forgets seqs (seq restart is no gap) and stales books until they are snapshotted again."""
    books = BookSet()
    books.on_frame(snap_frame(1, yes=[["0.1", "1"]]))
    books.on_frame(delta_frame(2, "yes", "0.1", "1"))
    books.reset()
    assert books.books[TICKER].stale
    assert books.on_frame(snap_frame(1, yes=[["0.3", "1"]])) == BookUpdate(TICKER, False)
    assert books.gaps == 0 and not books.books[TICKER].stale


def _raw(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)
