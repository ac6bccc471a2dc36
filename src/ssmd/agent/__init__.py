"""ssmd-agent: trading signals over market state, evaluated identically live (NATS) and in backtests (archive).

Write a signal::

    from ssmd.agent import Fire, MarketState, Params, Signal

    class AboveParams(Params):
        threshold: float = 0.6

    class Above(Signal[AboveParams]):
        name = "above"
        requires = ("prices",)
        Params = AboveParams

        def evaluate(self, state: MarketState) -> Fire | None:
            last = state.prices.last
            return self.fire(state, price=last) if last is not None and last > self.params.threshold else None
"""

from ssmd.agent.signal import BUILDERS, Fire, Params, Signal
from ssmd.agent.state import MarketState

__all__ = ["BUILDERS", "Fire", "MarketState", "Params", "Signal"]
