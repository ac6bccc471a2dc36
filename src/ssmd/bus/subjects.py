"""Kalshi's frame types as subject type tokens; the subject rule itself is :mod:`ssmd.naming`'s.

The key token is ``msg.market_ticker``, else ``event_ticker``, else ``series_ticker``, else ``_`` (Kalshi tickers
contain dots: ``KXETHD-26FEB1217-T1819.99`` -> ``KXETHD-26FEB1217-T1819_99``). Users filter with e.g.
``prod.kalshi.json.trade.>``.
"""

from __future__ import annotations

from ssmd.naming import NO_KEY, UNPARSED, filter_covers, sanitize_token, subject, unparsed_subject

__all__ = ["NO_TICKER", "TYPE_TOKENS", "UNPARSED", "filter_covers", "sanitize_token", "subject_for", "type_token",
           "unparsed_subject"]

# Kalshi frame type -> subject type token. Anything else keeps its own type.
TYPE_TOKENS: dict[str, str] = {
    "ticker": "ticker",
    "ticker_v2": "ticker",
    "trade": "trade",
    "orderbook_snapshot": "orderbook",
    "orderbook_delta": "orderbook",
    "market_lifecycle_v2": "lifecycle",
    "event_lifecycle": "event_lifecycle",
}
NO_TICKER = NO_KEY


def type_token(frame_type: str) -> str:
    return TYPE_TOKENS.get(frame_type) or sanitize_token(frame_type)


def subject_for(prefix: str, frame_type: str, ticker: str | None) -> str:
    """``prefix`` is ``{env}.{feed}``; ``ticker`` is the raw exchange ticker or ``None``."""
    return subject(prefix, type_token(frame_type), ticker)
