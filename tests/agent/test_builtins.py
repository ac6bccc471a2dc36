"""Each built-in signal on crafted frame sequences: it fires when its condition starts, once, with its values."""

from __future__ import annotations

from typing import Any

import pytest
from _agent_frames import T0, lifecycle, snapshot, ticker, trade

from ssmd.agent.builtins import FlowImbalance, MarketStatusChange, PriceCross, SpreadWide, VolumeSpike
from ssmd.agent.engine import Engine
from ssmd.agent.signal import Fire, Signal

M = "KXETHD-26FEB1217-T1819.99"
MIN = 60_000


def _fires(signal: Signal[Any], frames: list[bytes]) -> list[Fire]:
    engine = Engine([signal])
    return [fire for i, frame in enumerate(frames) for fire in engine.on_frame(frame, i + 1)]


def test_price_cross_fires_once_on_upward_cross() -> None:
    """Crossing 0.60 from below fires once with the prices; staying above does not fire again."""
    frames = [trade(M, p, 1, "yes", T0 + i * 1000) for i, p in enumerate([0.55, 0.58, 0.61, 0.63, 0.62])]
    fires = _fires(PriceCross({"threshold": 0.6}), frames)
    assert [(f.values["direction"], f.values["price"], f.values["previous"], f.seq) for f in fires] == [
        ("up", 0.61, 0.58, 3)
    ]
    assert fires[0].ts_ms == T0 + 2000 and fires[0].market == M and fires[0].signal == "price_cross"


def test_price_cross_direction_filter() -> None:
    """direction=down ignores the upward cross and fires on the way back down."""
    frames = [trade(M, p, 1, "yes", T0 + i) for i, p in enumerate([0.55, 0.65, 0.59])]
    fires = _fires(PriceCross({"threshold": 0.6, "direction": "down"}), frames)
    assert [(f.values["direction"], f.values["price"]) for f in fires] == [("down", 0.59)]


def test_price_cross_uses_ticker_last_price_too() -> None:
    """A ticker frame's last price (legacy cents here) counts as a price update when it changes."""
    frames = [ticker(M, T0, price=0.40, legacy=True), ticker(M, T0 + 1, price=0.40, legacy=True),
              ticker(M, T0 + 2, price=0.70, legacy=True)]
    fires = _fires(PriceCross({"threshold": 0.5}), frames)
    assert [(f.frame_type, f.values["previous"], f.values["price"]) for f in fires] == [("top_of_book", 0.4, 0.7)]


def test_spread_wide_fires_when_spread_exceeds_and_rearms() -> None:
    """Spread above N cents fires once; it fires again only after narrowing back to <= N."""
    spreads = [(0.40, 0.42), (0.40, 0.47), (0.40, 0.48), (0.40, 0.43), (0.30, 0.50)]
    frames = [ticker(M, T0 + i, bid=b, ask=a) for i, (b, a) in enumerate(spreads)]
    fires = _fires(SpreadWide({"max_cents": 5}), frames)
    assert [f.values["spread_cents"] for f in fires] == [7.0, 20.0]
    assert fires[0].values["previous_cents"] == 2.0


def test_spread_wide_from_the_order_book() -> None:
    """The spread also comes from the L2 book: YES ask = 1 - best NO bid."""
    frames = [snapshot(M, [("0.4000", "10")], [("0.5000", "10")])]  # ask 0.50, bid 0.40: 10 cents
    fires = _fires(SpreadWide({"max_cents": 5}), frames)
    assert [(f.frame_type, f.values["spread_cents"], f.values["yes_ask"]) for f in fires] == [
        ("book_snapshot", 10.0, 0.5)
    ]


def test_volume_spike_fires_once_per_minute_above_factor_times_mean() -> None:
    """After `lookback` minutes of ~10 contracts/min, a minute reaching > 3x the mean fires once."""
    frames = [trade(M, 0.5, 10, "yes", T0 + i * MIN) for i in range(5)]
    frames += [trade(M, 0.5, 15, "yes", T0 + 5 * MIN + j * 1000) for j in range(4)]  # 15, 30, 45, 60 contracts
    fires = _fires(VolumeSpike({"lookback": 5, "factor": 3, "min_volume": 1}), frames)
    assert [(f.values["volume"], f.values["mean"]) for f in fires] == [(45.0, 10.0)]


def test_volume_spike_needs_history() -> None:
    """A market's first busy minute is not a spike: there is no rolling mean to compare with yet."""
    frames = [trade(M, 0.5, 100, "yes", T0 + i * 1000) for i in range(5)]
    assert _fires(VolumeSpike({"lookback": 3}), frames) == []


def test_flow_imbalance_fires_on_one_sided_flow_then_rearms() -> None:
    """Taker flow mostly YES over the window fires with side=yes; after balancing out it can fire again."""
    frames = [trade(M, 0.5, 5, "no", T0), trade(M, 0.5, 20, "yes", T0 + 1000),  # imb 0.6 over 25
              trade(M, 0.5, 10, "yes", T0 + 2000),  # still imbalanced: no second fire
              trade(M, 0.5, 40, "no", T0 + 3000),  # balanced: re-arm
              trade(M, 0.5, 5, "no", T0 + 70_000), trade(M, 0.5, 20, "no", T0 + 71_000)]  # old trades left the window
    fires = _fires(FlowImbalance({"window_s": 60, "threshold": 0.6, "min_volume": 10}), frames)
    assert [(f.values["side"], f.values["imbalance"], f.values["volume"]) for f in fires] == [
        ("yes", 0.6, 25.0), ("no", -1.0, 25.0)
    ]


def test_flow_imbalance_ignores_thin_flow() -> None:
    """Below min_volume contracts in the window, a one-sided flow is not a signal."""
    assert _fires(FlowImbalance({"min_volume": 10}), [trade(M, 0.5, 3, "yes", T0)]) == []


def test_market_status_fires_on_determination() -> None:
    """A 'determined' lifecycle event fires with the result; creation does not."""
    frames = [lifecycle(M, "created", T0 // 1000),
              lifecycle(M, "determined", T0 // 1000 + 5, result="no", settlement_value="0.0000")]
    fires = _fires(MarketStatusChange(), frames)
    assert [(f.values["status"], f.values["result"], f.ts_ms) for f in fires] == [("determined", "no", T0 + 5000)]


@pytest.mark.parametrize(("cls", "params"), [
    (PriceCross, {"threshold": 1.5}),
    (PriceCross, {}),
    (SpreadWide, {"max_cents": -1}),
    (VolumeSpike, {"factor": 0.5}),
    (FlowImbalance, {"window_s": 3600}),
    (FlowImbalance, {"treshold": 0.5}),
])
def test_builtin_parameters_are_validated(cls: type[Signal[Any]], params: dict[str, Any]) -> None:
    """Out-of-range, missing or misspelt parameters are rejected when the signal is created."""
    with pytest.raises(ValueError):  # pydantic.ValidationError is a ValueError
        cls(params)
