"""Built-in signals. Each is edge-triggered: it fires when its condition becomes true, not on every frame
while it stays true, so one market event is one fire."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from ssmd.agent.signal import Fire, Params, Signal
from ssmd.agent.state import MAX_BUCKETS, MAX_WINDOW_MS, MarketState


class PriceCrossParams(Params):
    threshold: float = Field(gt=0, lt=1, description="YES price in dollars (0.60 = 60 cents)")
    direction: Literal["up", "down", "both"] = "both"


class PriceCross(Signal[PriceCrossParams]):
    """The last traded YES price crosses ``threshold`` (from below for ``up``, from above for ``down``)."""

    name = "price_cross"
    requires = ("prices",)
    Params = PriceCrossParams

    def evaluate(self, state: MarketState) -> Fire | None:
        p = self.params
        prev, last = state.prices.prev, state.prices.last
        if prev is None or last is None:
            return None
        t = p.threshold
        if prev < t <= last and p.direction != "down":
            return self.fire(state, direction="up", price=last, previous=prev, threshold=t)
        if prev > t >= last and p.direction != "up":
            return self.fire(state, direction="down", price=last, previous=prev, threshold=t)
        return None


class SpreadWideParams(Params):
    max_cents: float = Field(gt=0, lt=100, description="fire when YES ask - YES bid exceeds this many cents")


class SpreadWide(Signal[SpreadWideParams]):
    """The YES bid/ask spread widens beyond ``max_cents`` (fires again only after it has narrowed back)."""

    name = "spread_wide"
    requires = ("book",)
    Params = SpreadWideParams

    def evaluate(self, state: MarketState) -> Fire | None:
        limit = self.params.max_cents
        book = state.book
        spread = book.spread_cents
        if spread is None or spread <= limit:
            return None
        before = book.prev_spread_cents
        if before is not None and before > limit:
            return None
        return self.fire(state, spread_cents=spread, previous_cents=before, yes_bid=book.yes_bid, yes_ask=book.yes_ask,
                         max_cents=limit)


class VolumeSpikeParams(Params):
    lookback: int = Field(10, ge=1, le=MAX_BUCKETS - 1, description="previous one-minute buckets in the mean")
    factor: float = Field(3.0, gt=1, description="fire when this minute's volume exceeds factor x the mean")
    min_volume: float = Field(1.0, ge=0, description="ignore minutes with fewer contracts than this")


class VolumeSpike(Signal[VolumeSpikeParams]):
    """This minute's traded contracts exceed ``factor`` x the rolling mean of the previous ``lookback`` minutes.

    Needs ``lookback`` minutes of history for the market; fires at most once per minute bucket.
    """

    name = "volume_spike"
    requires = ("volume",)
    Params = VolumeSpikeParams

    def evaluate(self, state: MarketState) -> Fire | None:
        p = self.params
        volume = state.volume
        if volume.history_buckets < p.lookback:
            return None
        current = volume.current
        if current < p.min_volume:
            return None
        mean = volume.mean_previous(p.lookback)
        limit = max(mean * p.factor, p.min_volume)
        before = current - volume.last_added
        if current > limit and not (before > limit and before >= p.min_volume):
            return self.fire(state, volume=current, mean=round(mean, 6), factor=p.factor, lookback=p.lookback)
        return None


class FlowImbalanceParams(Params):
    window_s: float = Field(60, gt=0, le=MAX_WINDOW_MS / 1000, description="window of exchange time")
    threshold: float = Field(0.6, gt=0, le=1, description="|yes - no| / (yes + no) taker contracts")
    min_volume: float = Field(10, ge=0, description="contracts in the window before imbalance counts")


class FlowImbalance(Signal[FlowImbalanceParams]):
    """Taker flow over ``window_s`` is one-sided: |yes - no| / (yes + no) >= ``threshold``.

    Fires when the imbalance first reaches the threshold, then re-arms once it falls back below it.
    """

    name = "flow_imbalance"
    requires = ("flow",)
    Params = FlowImbalanceParams

    def __init__(self, params: Mapping[str, Any] | None = None, *, name: str | None = None) -> None:
        super().__init__(params, name=name)
        self._active: set[str] = set()

    def evaluate(self, state: MarketState) -> Fire | None:
        p = self.params
        if state.ts_ms is None:
            return None
        imbalance, total = state.flow.imbalance(state.ts_ms, int(p.window_s * 1000))
        market = state.market
        if imbalance is None or total < p.min_volume or abs(imbalance) < p.threshold:
            self._active.discard(market)
            return None
        if market in self._active:
            return None
        self._active.add(market)
        return self.fire(state, imbalance=round(imbalance, 6), volume=total, side="yes" if imbalance > 0 else "no",
                         window_s=p.window_s)


class MarketSettledParams(Params):
    on: tuple[Literal["determined", "settled", "paused"], ...] = ("determined",)

    @model_validator(mode="after")
    def _not_empty(self) -> MarketSettledParams:
        if not self.on:
            raise ValueError("'on' needs at least one of determined, settled, paused")
        return self


class MarketStatusChange(Signal[MarketSettledParams]):
    """A market is determined / settled / paused (lifecycle events), with its result when known."""

    name = "market_status"
    requires = ("status",)
    Params = MarketSettledParams

    def evaluate(self, state: MarketState) -> Fire | None:
        status = state.status
        if status.changed and status.status in self.params.on:
            return self.fire(state, status=status.status, result=status.result,
                             settlement_value=status.settlement_value)
        return None


BUILTINS: dict[str, type[Signal[Any]]] = {
    cls.name: cls for cls in (PriceCross, SpreadWide, VolumeSpike, FlowImbalance, MarketStatusChange)
}
