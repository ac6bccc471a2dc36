"""The simulator's own L2 book: bids only, YES and NO sides, integer cents and centi-contracts.

Kalshi's book has no asks: the best YES ask is 100 minus the best NO bid. Keeping integers (cents, hundredths of a
contract) makes every wire format an exact rendering of the same state, and lets tests compare a client's rebuilt
book against this one without rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SimBook:
    yes: dict[int, int] = field(default_factory=dict)
    no: dict[int, int] = field(default_factory=dict)

    def side(self, name: str) -> dict[int, int]:
        return self.yes if name == "yes" else self.no

    def best(self, name: str) -> int:
        """Best bid in cents on ``name``, 0 when that side is empty."""
        levels = self.side(name)
        return max(levels) if levels else 0

    def apply(self, name: str, price: int, delta: int) -> None:
        """Add ``delta`` centi-contracts at ``price``; a level that reaches zero disappears."""
        levels = self.side(name)
        qty = levels.get(price, 0) + delta
        if qty < 0:
            raise ValueError(f"level {name}@{price} would go negative")
        if qty:
            levels[price] = qty
        else:
            levels.pop(price, None)

    def top(self) -> tuple[int, int, int, int]:
        """``(yes_bid, yes_bid_size, yes_ask, yes_ask_size)`` in cents / centi-contracts (ask 100 if no NO bids)."""
        yb = self.best("yes")
        nb = self.best("no")
        return yb, self.yes.get(yb, 0), 100 - nb, self.no.get(nb, 0)

    def levels(self) -> dict[str, list[tuple[int, int]]]:
        """Both sides sorted by price, for snapshots and comparisons."""
        return {"yes": sorted(self.yes.items()), "no": sorted(self.no.items())}
