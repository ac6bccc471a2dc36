"""The market model on its own: books stay valid, frames describe the book exactly, lifecycles run in order."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from ssmd.kalshi.sim.markets import MarketModel
from ssmd.kalshi.sim.wire import dollars, fp

NOW = 1_764_072_000_123


def test_books_never_cross_or_go_negative() -> None:
    """After 50,000 steps every book has best YES bid + best NO bid < 100 cents and only positive levels."""
    model = MarketModel(20, 3, "current")
    for _ in range(50_000):
        model.step(NOW)
    for m in model.markets.values():
        assert m.book.best("yes") + m.book.best("no") < 100, m.ticker
        assert all(q > 0 for q in [*m.book.yes.values(), *m.book.no.values()])


@pytest.mark.parametrize("wire", ["current", "legacy", "dual"])
def test_snapshot_plus_deltas_rebuild_the_book(wire: str) -> None:
    """Applying a market's snapshot and then every delta frame (decoded from JSON) reproduces the model's book,
    in every wire format."""
    model = MarketModel(10, 5, wire)  # type: ignore[arg-type]
    ticker = model.active[0].ticker
    snap = orjson.loads(model.snapshot(ticker).body)
    book: dict[str, dict[Decimal, Decimal]] = {"yes": {}, "no": {}}
    for side in ("yes", "no"):
        if wire == "legacy":
            book[side] = {Decimal(p): Decimal(q) for p, q in snap.get(side, [])}
        else:
            book[side] = {Decimal(p) * 100: Decimal(q) for p, q in snap.get(f"{side}_dollars_fp", [])}
    for _ in range(20_000):
        for ev in model.step(NOW):
            if ev.type == "orderbook_delta" and ev.ticker == ticker:
                msg = orjson.loads(ev.body)
                price = Decimal(msg["price"]) if wire == "legacy" else Decimal(msg["price_dollars"]) * 100
                delta = Decimal(msg["delta"]) if wire == "legacy" else Decimal(msg["delta_fp"])
                side = book[msg["side"]]
                side[price] = side.get(price, Decimal(0)) + delta
                if side[price] == 0:
                    del side[price]
    ours = model.markets[ticker].book.levels()
    for side in ("yes", "no"):
        assert book[side] == {Decimal(p): Decimal(q) / 100 for p, q in ours[side]}


def test_trades_hit_the_opposite_best_bid() -> None:
    """A YES taker trades at 100 minus the best NO bid and removes that much size from it (and vice versa)."""
    model = MarketModel(5, 11, "legacy")
    checked = 0
    for _ in range(20_000):
        before = {t: (m.book.best("yes"), m.book.best("no")) for t, m in model.markets.items()}
        events = model.step(NOW)
        trades = [orjson.loads(e.body) for e in events if e.type == "trade"]
        for t in trades:
            yes_bid, no_bid = before[t["market_ticker"]]
            expected = 100 - no_bid if t["taker_side"] == "yes" else yes_bid
            assert t["yes_price"] == expected
            delta = orjson.loads(next(e.body for e in events if e.type == "orderbook_delta"))
            assert delta["delta"] == -t["count"] and delta["side"] == ("no" if t["taker_side"] == "yes" else "yes")
            checked += 1
    assert checked > 100


def test_ticker_frames_quote_the_book_top() -> None:
    """Every ticker frame's yes_bid/yes_ask equal the book's best YES bid and 100 minus the best NO bid."""
    model = MarketModel(5, 2, "dual")
    seen = 0
    for _ in range(5_000):
        for ev in model.step(NOW):
            if ev.type == "ticker":
                msg = orjson.loads(ev.body)
                book = model.markets[ev.ticker].book
                assert msg["yes_bid"] == book.best("yes")
                assert msg["yes_ask"] == 100 - book.best("no")
                assert msg["yes_ask_dollars"] == dollars(100 - book.best("no"))
                seen += 1
    assert seen > 500


def test_tickers_are_unique_and_realistic() -> None:
    """Markets have distinct SERIES-EVENT-MARKET tickers, some with dots, spread over several series and events."""
    model = MarketModel(60, 1, "current")
    tickers = list(model.markets)
    assert len(tickers) == 60
    assert any("." in t for t in tickers)
    assert all(t.count("-") >= 2 for t in tickers)
    assert len({m.series_ticker for m in model.markets.values()}) >= 5
    assert len({m.event_ticker for m in model.markets.values()}) >= 6


def test_lifecycle_runs_close_determine_settle_then_replaces_the_market() -> None:
    """Lifecycle steps go close_date_updated -> determined -> settled for one market, then created ->
    activated for its replacement; the number of trading markets is restored."""
    model = MarketModel(6, 9, "current", lifecycle_every=1)
    kinds = []
    for _ in range(4):  # "settled" and the replacement's "created" come from one step
        kinds += [(orjson.loads(e.body)["event_type"], e.ticker) for e in model.step(NOW)]
    assert [k for k, _ in kinds] == ["close_date_updated", "determined", "settled", "created", "activated"]
    assert kinds[0][1] == kinds[1][1] == kinds[2][1] != kinds[3][1] == kinds[4][1]
    assert len(model.active) == 6
    assert model.markets[kinds[0][1]].status == "finalized"


def test_same_seed_same_frames() -> None:
    """Two models with one seed emit identical frame bodies."""
    a, b = MarketModel(8, 99, "dual"), MarketModel(8, 99, "dual")
    for _ in range(2_000):
        assert a.step(NOW) == b.step(NOW)


def test_wire_number_formats() -> None:
    """Dollar strings have 4 decimals and fixed-point counts 2, including fractions and negatives."""
    assert [dollars(0), dollars(7), dollars(42), dollars(100)] == ["0.0000", "0.0700", "0.4200", "1.0000"]
    assert [fp(0), fp(11), fp(1250), fp(-300), fp(-5)] == ["0.00", "0.11", "12.50", "-3.00", "-0.05"]


def test_a_new_event_is_announced_with_event_lifecycle() -> None:
    """When a replacement market opens a new event (15-minute series), event_lifecycle precedes its created."""
    model = MarketModel(4, 1, "current", lifecycle_every=1)
    seen: list[tuple[str, str]] = []
    for _ in range(40):
        seen += [(e.type, e.ticker) for e in model.step(NOW)]
    announced = [t for kind, t in seen if kind == "event_lifecycle"]
    assert announced and all(t in model.events for t in announced)
    i = seen.index(("event_lifecycle", announced[0]))
    assert seen[i + 1][0] == "market_lifecycle_v2" and seen[i + 1][1].startswith(announced[0])
