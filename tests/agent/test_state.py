"""State builders, fed through the engine exactly as live and backtest feed them."""

from __future__ import annotations

from typing import Any

from _agent_frames import T0, delta, lifecycle, snapshot, ticker, trade

from ssmd.agent import Fire, MarketState, Signal
from ssmd.agent.engine import Engine
from ssmd.agent.state import MAX_ENTRIES, MAX_WINDOW_MS

M = "KXBTCD-26FEB1217-T67749.99"


class _Probe(Signal[Any]):
    """Records every state it is shown (requires every builder)."""

    name = "probe"
    requires = ("prices", "book", "volume", "flow", "status")

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, int | None]] = []

    def evaluate(self, state: MarketState) -> Fire | None:
        self.seen.append((state.frame_type, state.ts_ms))
        return None


def _engine() -> tuple[Engine, _Probe]:
    probe = _Probe()
    return Engine([probe]), probe


def test_trade_updates_price_volume_and_flow() -> None:
    """A trade sets the last price, adds its contracts to the minute's volume and to the taker side's flow."""
    engine, _ = _engine()
    engine.on_frame(trade(M, 0.57, 90, "no", T0))
    engine.on_frame(trade(M, 0.61, 100.5, "yes", T0 + 1000))
    state = engine.markets[M]
    assert (state.prices.prev, state.prices.last) == (0.57, 0.61)
    assert state.volume.current == 190.5
    assert state.flow.totals(T0 + 1000, 60_000) == (100.5, 90.0)


def test_legacy_cent_trade_parses_like_dollars() -> None:
    """Integer-cent legacy trades (before 2026-03-12) give the same dollar price and count as the current format."""
    old, new = _engine()[0], _engine()[0]
    old.on_frame(trade(M, 0.57, 90, "yes", T0, legacy=True))
    new.on_frame(trade(M, 0.57, 90, "yes", T0))
    assert old.markets[M].prices.last == new.markets[M].prices.last == 0.57
    assert old.markets[M].volume.current == new.markets[M].volume.current == 90


def test_ticker_sets_top_of_book_and_spread_in_cents() -> None:
    """ticker frames set the YES bid/ask; the spread is in cents and a missing field keeps the previous value."""
    engine, _ = _engine()
    engine.on_frame(ticker(M, T0, bid=0.37, ask=0.43, legacy=True))
    assert engine.markets[M].book.spread_cents == 6.0
    engine.on_frame(ticker(M, T0 + 1, ask=0.45))
    book = engine.markets[M].book
    assert (book.yes_bid, book.yes_ask, book.spread_cents, book.prev_spread_cents) == (0.37, 0.45, 8.0, 6.0)


def test_empty_dollar_price_is_no_price() -> None:
    """A Nov-2024 ticker with price_dollars "" (no trade yet) leaves the last price unknown instead of 0."""
    engine, _ = _engine()
    engine.on_frame(b'{"type":"ticker","sid":1,"msg":{"market_ticker":"X","price":0,"price_dollars":"","ts":1732579880}}')
    assert engine.markets["X"].prices.last is None


def test_orderbook_snapshot_and_delta_set_best_levels() -> None:
    """The L2 book (bids only) gives best YES bid and YES ask = 1 - best NO bid; deltas move them."""
    engine, _ = _engine()
    engine.on_frame(trade(M, 0.5, 1, "yes", T0))
    engine.on_frame(snapshot(M, [("0.0800", "300.00"), ("0.2200", "333.00")], [("0.5400", "20.00"), ("0.5600", "146")]))
    book = engine.markets[M].book
    assert (book.yes_bid, book.yes_ask, book.yes_bid_size) == (0.22, 0.44, 333.0)
    engine.on_frame(delta(M, "yes", "0.2200", "-333.00", T0 + 5))
    assert engine.markets[M].book.yes_bid == 0.08


def test_delta_before_snapshot_leaves_book_unknown() -> None:
    """A delta for a market with no snapshot cannot be applied: the top of book stays unknown, not guessed."""
    engine, _ = _engine()
    engine.on_frame(delta(M, "yes", "0.2200", "10.00", T0))
    assert engine.markets[M].book.spread_cents is None


def test_lifecycle_sets_status_and_result() -> None:
    """market_lifecycle_v2 events move the status; determined carries the result and settlement value."""
    engine, _ = _engine()
    engine.on_frame(lifecycle(M, "activated", T0 // 1000))
    assert engine.markets[M].status.status == "open"
    engine.on_frame(lifecycle(M, "determined", T0 // 1000 + 60, result="yes", settlement_value="1.0000"))
    status = engine.markets[M].status
    assert (status.status, status.result, status.settlement_value) == ("determined", "yes", 1.0)


def test_legacy_integer_settlement_value_is_cents() -> None:
    """Before 2026-02-26 an integer settlement_value was cents: 100 settles at $1.00, as the export reads it."""
    engine, _ = _engine()
    engine.on_frame(lifecycle(M, "determined", T0 // 1000, result="yes", settlement_value=100))
    assert engine.markets[M].status.settlement_value == 1.0


def test_frame_without_time_uses_stream_clock() -> None:
    """Snapshots carry no time: they are evaluated at the last exchange time seen, never the wall clock."""
    engine, probe = _engine()
    engine.on_frame(trade(M, 0.5, 1, "yes", T0 + 123))
    engine.on_frame(snapshot(M, [("0.4000", "1")], []))
    assert probe.seen[-1] == ("book_snapshot", T0 + 123)


def test_histories_are_bounded_in_time_and_count() -> None:
    """Price and flow histories keep at most 15 minutes of exchange time and MAX_ENTRIES entries per market."""
    engine, _ = _engine()
    for i in range(MAX_ENTRIES + 100):
        engine.on_frame(trade(M, 0.5, 1, "yes", T0 + i))
    state = engine.markets[M]
    assert len(state.prices.history) == len(state.flow.trades) == MAX_ENTRIES
    engine.on_frame(trade(M, 0.5, 1, "yes", T0 + MAX_WINDOW_MS + 10_000))
    assert len(state.prices.history) == 1 and len(state.flow.trades) == 1


def test_unparsable_frames_are_counted_not_fatal() -> None:
    """Non-JSON and non-object frames are counted as unparsed and skipped; the next frame is still evaluated."""
    engine, probe = _engine()
    engine.on_frame(b"not json")
    engine.on_frame(b"[1,2]")
    engine.on_frame(trade(M, 0.5, 1, "yes", T0))
    assert engine.unparsed == 2 and engine.frames == 3 and len(probe.seen) == 1


def test_only_signals_whose_builders_changed_are_evaluated() -> None:
    """A signal requiring only 'status' is not evaluated on trades: requires decides when evaluate runs."""

    class StatusOnly(_Probe):
        name = "status_only"
        requires = ("status",)

    probe = StatusOnly()
    engine = Engine([probe])
    engine.on_frame(trade(M, 0.5, 1, "yes", T0))
    engine.on_frame(lifecycle(M, "settled", T0 // 1000))
    assert [kind for kind, _ in probe.seen] == ["lifecycle"]


def test_a_raising_signal_is_counted_and_others_still_run() -> None:
    """An exception in one signal's evaluate is counted against it; the other signals still see the frame."""

    class Broken(_Probe):
        name = "broken"

        def evaluate(self, state: MarketState) -> Fire | None:
            raise ZeroDivisionError

    probe = _Probe()
    engine = Engine([Broken(), probe])
    engine.on_frame(trade(M, 0.5, 1, "yes", T0))
    assert engine.errors["broken"] == 1 and len(probe.seen) == 1


def test_oldest_price_since_a_time() -> None:
    """prices.oldest_since(t) is the first kept price at or after t: the base of a change-over-window signal."""
    engine, _ = _engine()
    for i, price in enumerate([0.40, 0.45, 0.50]):
        engine.on_frame(trade(M, price, 1, "yes", T0 + i * 1000))
    prices = engine.markets[M].prices
    assert (prices.oldest_since(T0 + 500), prices.oldest_since(T0 - 1), prices.oldest_since(T0 + 5000)) == (
        0.45, 0.40, None)


def test_a_signal_returning_a_non_fire_is_counted_not_published() -> None:
    """evaluate() must return Fire or None; anything else is counted as that signal's error and dropped."""

    class Wrong(_Probe):
        name = "wrong"

        def evaluate(self, state: MarketState) -> Fire | None:
            return {"fired": True}  # type: ignore[return-value]

    engine = Engine([Wrong()])
    assert engine.on_frame(trade(M, 0.5, 1, "yes", T0)) == [] and engine.errors["wrong"] == 1


def test_fire_values_json_cannot_represent_become_strings() -> None:
    """A Decimal in a fire's values is written as a string rather than failing the publish."""
    from decimal import Decimal

    fire = Fire("s", M, T0, {"price": Decimal("0.61")})
    assert b'"price":"0.61"' in fire.to_json()
