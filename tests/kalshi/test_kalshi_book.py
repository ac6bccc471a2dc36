"""L2 book: snapshot + delta sequences, level removal, yes ask, fractional sizes, seq gaps, state digests."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from ssmd.kalshi.book import BookSet, BookUpdate, OrderBook
from ssmd.kalshi.values import parse_delta, parse_snapshot

D = Decimal
TICKER = "KXETHD-26FEB1217-T1819.99"


def snap_frame(seq: int, ticker: str = TICKER, sid: int = 2, yes: Any = None, no: Any = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"market_ticker": ticker}
    if yes is not None:
        msg["yes_dollars_fp"] = yes
    if no is not None:
        msg["no_dollars_fp"] = no
    return {"type": "orderbook_snapshot", "sid": sid, "seq": seq, "msg": msg}


def delta_frame(seq: int, side: str, price: str, delta: str, ticker: str = TICKER, sid: int = 2) -> dict[str, Any]:
    return {"type": "orderbook_delta", "sid": sid, "seq": seq,
            "msg": {"market_ticker": ticker, "side": side, "price_dollars": price, "delta_fp": delta}}


def book_from(yes: list[list[str]], no: list[list[str]]) -> OrderBook:
    book = OrderBook(TICKER)
    book.apply_snapshot(parse_snapshot({"market_ticker": TICKER, "yes_dollars_fp": yes, "no_dollars_fp": no}))
    return book


def delta(side: str, price: str, amount: str) -> Any:
    return parse_delta({"market_ticker": TICKER, "side": side, "price_dollars": price, "delta_fp": amount})


# --- OrderBook ----------------------------------------------------------------------------------------------------


def test_snapshot_sets_best_bids() -> None:
    """After a snapshot the best bids are the highest prices on each side, with their quantities."""
    book = book_from([["0.0800", "300.00"], ["0.2200", "333.00"]], [["0.5400", "20.00"], ["0.5600", "146.00"]])
    assert book.best_yes_bid() == (D("0.22"), D(333))
    assert book.best_no_bid() == (D("0.56"), D(146))


def test_yes_ask_is_one_minus_best_no_bid() -> None:
    """Best YES ask = 1 - best NO bid; spread = ask - best YES bid."""
    book = book_from([["0.2200", "1"]], [["0.5600", "1"], ["0.5400", "1"]])
    assert book.best_yes_ask() == D("0.44")
    assert book.spread() == D("0.22")


def test_empty_sides_have_no_best_or_spread() -> None:
    """With an empty side, best bid/ask and spread are None."""
    book = book_from([["0.20", "1"]], [])
    assert book.best_no_bid() is None and book.best_yes_ask() is None and book.spread() is None


def test_snapshot_replaces_both_sides() -> None:
    """A second snapshot drops every level of the first."""
    book = book_from([["0.10", "5"]], [["0.80", "5"]])
    book.apply_snapshot(parse_snapshot({"market_ticker": TICKER, "yes_dollars_fp": [["0.20", "1"]]}))
    assert book.levels() == {"yes": {D("0.20"): D(1)}, "no": {}}


def test_delta_adds_to_existing_and_new_levels() -> None:
    """A positive delta grows an existing level or creates a new one."""
    book = book_from([["0.10", "5"]], [])
    book.apply_delta(delta("yes", "0.10", "2.00"))
    book.apply_delta(delta("no", "0.70", "4.00"))
    assert book.levels() == {"yes": {D("0.10"): D(7)}, "no": {D("0.70"): D(4)}}


@pytest.mark.parametrize("amount", ["-5.00", "-9.00"])
def test_delta_to_zero_or_below_removes_level(amount: str) -> None:
    """A level whose quantity reaches 0 (or would go negative) disappears."""
    book = book_from([["0.10", "5"], ["0.20", "1"]], [])
    book.apply_delta(delta("yes", "0.1000", amount))
    assert book.levels()["yes"] == {D("0.20"): D(1)}
    assert book.best_yes_bid() == (D("0.20"), D(1))


def test_fractional_quantities_are_exact() -> None:
    """Fractional sizes add exactly (0.11 + 0.09 = 0.20) and cancel out exactly to remove a level."""
    book = book_from([["0.30", "0.11"]], [])
    book.apply_delta(delta("yes", "0.30", "0.09"))
    assert book.best_yes_bid() == (D("0.30"), D("0.20"))
    book.apply_delta(delta("yes", "0.30", "-0.20"))
    assert book.best_yes_bid() is None


def test_legacy_cents_and_dollar_prices_hit_the_same_level() -> None:
    """A legacy cent delta (price 30) and a dollar delta ("0.3000") update the same level."""
    book = book_from([["0.30", "1"]], [])
    book.apply_delta(parse_delta({"market_ticker": TICKER, "side": "yes", "price": 30, "delta": 2}))
    assert book.levels()["yes"] == {D("0.30"): D(3)}


def test_unusable_delta_is_ignored() -> None:
    """A delta without a readable side, price or amount changes nothing."""
    book = book_from([["0.30", "1"]], [])
    before = book.state()
    book.apply_delta(delta("maybe", "0.30", "1"))
    book.apply_delta(delta("yes", "??", "1"))
    assert book.state() == before


def test_depth_best_first_and_limited() -> None:
    """depth() lists the best `levels` bids, highest price first."""
    book = book_from([["0.10", "1"], ["0.30", "3"], ["0.20", "2"]], [["0.60", "6"]])
    assert book.depth("yes", 2) == [(D("0.30"), D(3)), (D("0.20"), D(2))]
    assert book.depth("no") == [(D("0.60"), D(6))]


def test_depth_rejects_unknown_side() -> None:
    """depth() on a side other than yes/no is a ValueError."""
    with pytest.raises(ValueError, match="side"):
        book_from([], []).depth("bid")


def test_state_equal_for_equal_books_however_built() -> None:
    """Books with the same levels have the same state, whatever the price spelling or arrival order."""
    a = book_from([["0.10", "1.00"], ["0.20", "2"]], [["0.5", "3"]])
    b = OrderBook(TICKER)
    b.apply_snapshot(parse_snapshot({"market_ticker": TICKER, "yes": [[20, 2], [10, 1]], "no": [[50, 3]]}))
    assert a.state() == b.state()
    c = book_from([["0.20", "1"]], [["0.5", "3"]])
    c.apply_delta(delta("yes", "0.2000", "1"))
    c.apply_delta(delta("yes", "0.1", "1"))
    assert c.state() == a.state()


def test_state_differs_for_different_books() -> None:
    """A different quantity, or the same level on the other side, changes the state."""
    base = book_from([["0.10", "1"]], [])
    assert base.state() != book_from([["0.10", "2"]], []).state()
    assert base.state() != book_from([], [["0.10", "1"]]).state()
    assert base.state() != book_from([["0.10", "1"], ["0.11", "1"]], []).state()


def test_levels_returns_a_copy() -> None:
    """Mutating the result of levels() does not touch the book."""
    book = book_from([["0.10", "1"]], [])
    book.levels()["yes"][D("0.50")] = D(9)
    assert book.best_yes_bid() == (D("0.10"), D(1))


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
        book.apply_delta(delta(side, f"{cents / 100:.4f}", f"{change / 100:.2f}"))
    expected = {s: {D(c) / 100: D(q) / 100 for c, q in levels.items()} for s, levels in model.items()}
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
    assert book.best_yes_bid() == (D("0.41"), D(3)) and book.best_no_bid() is None and books.gaps == 0


def test_bookset_ignores_other_frames() -> None:
    """Non-orderbook frames give None and create no book."""
    books = BookSet()
    assert books.on_frame({"type": "trade", "sid": 2, "seq": 1, "msg": {"market_ticker": "A"}}) is None
    assert books.on_frame({"type": "subscribed", "id": 1, "msg": {"sid": 2}}) is None
    assert books.books == {}


def test_seq_gap_marks_sid_books_stale_until_snapshot() -> None:
    """A seq jump counts a gap, marks every book of that sid stale (deltas ignored) until its own snapshot."""
    books = BookSet()
    books.on_frame(snap_frame(1, "A", yes=[["0.10", "1"]]))
    books.on_frame(snap_frame(2, "B", yes=[["0.20", "1"]]))
    update = books.on_frame(delta_frame(4, "yes", "0.10", "5", ticker="A"))  # seq 3 lost
    assert update == BookUpdate("A", True) and books.gaps == 1
    assert books.books["A"].stale and books.books["B"].stale
    assert books.books["A"].levels()["yes"] == {D("0.10"): D(1)}  # the delta after the gap was ignored
    books.on_frame(delta_frame(5, "yes", "0.20", "5", ticker="B"))
    assert books.books["B"].levels()["yes"] == {D("0.20"): D(1)}
    books.on_frame(snap_frame(6, "A", yes=[["0.15", "2"]]))
    assert not books.books["A"].stale and books.books["B"].stale
    books.on_frame(delta_frame(7, "yes", "0.15", "1", ticker="A"))
    assert books.books["A"].best_yes_bid() == (D("0.15"), D(3)) and books.gaps == 1


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
    assert books.books[TICKER].stale and books.books[TICKER].levels() == {"yes": {}, "no": {}}


def test_control_reply_taking_next_seq_is_not_a_gap() -> None:
    """An `ok` reply that consumed the sid's next seq does not make the following delta look like a gap."""
    books = BookSet()
    books.on_frame(snap_frame(1))
    books.on_frame({"type": "ok", "id": 5, "sid": 2, "seq": 2, "msg": {"market_tickers": [TICKER]}})
    assert books.on_frame(delta_frame(3, "yes", "0.1", "1")) == BookUpdate(TICKER, False)


def test_control_reply_repeating_seq_is_not_a_gap() -> None:
    """An `ok` reply that repeats the last data seq does not shift the expectation either."""
    books = BookSet()
    books.on_frame(snap_frame(1))
    books.on_frame({"type": "ok", "id": 5, "sid": 2, "seq": 1, "msg": {"market_tickers": [TICKER]}})
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
