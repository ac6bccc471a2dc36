"""A set of markets that may be "all of them" (with exceptions): subscriptions are either lists or the whole
channel, and a seq gap punches one market out of either."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MarketSet:
    """``every=False``: exactly ``names``; ``every=True``: every market except ``names``."""

    every: bool = False
    names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, markets: str | Iterable[str]) -> MarketSet:
        return cls(True) if markets == "all" else cls(False, frozenset(markets))

    def __bool__(self) -> bool:
        return self.every or bool(self.names)

    def __or__(self, other: MarketSet) -> MarketSet:
        if self.every and other.every:
            return MarketSet(True, self.names & other.names)
        if self.every:
            return MarketSet(True, self.names - other.names)
        if other.every:
            return MarketSet(True, other.names - self.names)
        return MarketSet(False, self.names | other.names)

    def __sub__(self, other: MarketSet) -> MarketSet:
        if not self.every:
            return MarketSet(False, self.names & other.names if other.every else self.names - other.names)
        if other.every:
            return MarketSet(False, other.names - self.names)
        return MarketSet(True, self.names | other.names)

    def to_json(self) -> Any:
        """``"all"``, ``{"all_except": [...]}`` or a sorted list."""
        if self.every:
            return {"all_except": sorted(self.names)} if self.names else "all"
        return sorted(self.names)

    def describe(self, limit: int = 5) -> str:
        if self.every:
            return f"all markets except {len(self.names)}" if self.names else "all markets"
        shown = sorted(self.names)
        more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
        return ", ".join(shown[:limit]) + more


NONE = MarketSet()


def union(sets: Iterable[MarketSet]) -> MarketSet:
    """The union of many sets in one pass (folding ``|`` would copy a growing set once per operand)."""
    included: set[str] = set()
    excluded: set[str] | None = None
    for one in sets:
        if not one.every:
            included.update(one.names)
        elif excluded is None:
            excluded = set(one.names)
        else:
            excluded &= one.names
    if excluded is None:
        return MarketSet(False, frozenset(included))
    return MarketSet(True, frozenset(excluded - included))
