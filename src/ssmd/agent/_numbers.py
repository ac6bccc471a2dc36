"""Fast, tolerant float views of Kalshi fields for signal evaluation.

Signals compare against thresholds, so floats are enough and an order of magnitude cheaper than the Decimal
values of :mod:`ssmd.kalshi.values` (which exports and accounting use). Every wire format parses: dollar strings
(``"0.4200"``), integer cents (legacy), fixed-point counts (``"12.50"``) and legacy integer counts. The newest
field wins when both are present; ``""`` or a malformed value is ``None``, never an exception.
"""

from __future__ import annotations

from typing import Any


def dollars(msg: dict[str, Any], new: str, legacy: str) -> float | None:
    """Price in dollars from ``new`` (dollar string) or else ``legacy`` (integer cents)."""
    value = msg.get(new)
    if value is not None:
        if type(value) is str and value:
            try:
                return float(value)
            except ValueError:
                return None
        return _float(value)
    value = msg.get(legacy)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value / 100
    return None


def count(msg: dict[str, Any], new: str, legacy: str) -> float | None:
    """Contracts from ``new`` (fixed-point string) or else ``legacy`` (integer)."""
    value = msg.get(new)
    if value is None:
        value = msg.get(legacy)
        if value is None:
            return None
    if type(value) is str and value:
        try:
            return float(value)
        except ValueError:
            return None
    return _float(value)


def _float(value: object) -> float | None:
    if isinstance(value, str):
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def taker_side(msg: dict[str, Any]) -> str | None:
    """``"yes"`` or ``"no"``: ``taker_outcome_side`` (2026-05), else ``taker_side``, else ``taker_book_side``."""
    side = msg.get("taker_outcome_side") or msg.get("taker_side")
    if side in ("yes", "no"):
        return side  # type: ignore[no-any-return]
    book = msg.get("taker_book_side")
    if book == "bid":
        return "yes"
    if book == "ask":
        return "no"
    return None
