"""Subject mapping: ``{env}.{feed}.json.{type}.{ticker}``.

The ticker token is ``msg.market_ticker``, else ``event_ticker``, else ``series_ticker``, else ``_``; every
``.``, ``*``, ``>`` and whitespace character in it becomes ``_`` (Kalshi tickers contain dots:
``KXETHD-26FEB1217-T1819.99`` -> ``KXETHD-26FEB1217-T1819_99``). The payload keeps the original ticker, so
the mapping need not be reversible. Users filter with e.g. ``prod.kalshi.json.trade.>``.
"""

from __future__ import annotations

import re

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
UNPARSED = "unparsed"
NO_TICKER = "_"

_UNSAFE = re.compile(r"[.*>\s]")
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def sanitize_token(text: str) -> str:
    """Make ``text`` one safe subject token (empty -> ``_``)."""
    if not text:
        return NO_TICKER
    if _SAFE_TOKEN.match(text):
        return text
    return _UNSAFE.sub("_", text)


def type_token(frame_type: str) -> str:
    return TYPE_TOKENS.get(frame_type) or sanitize_token(frame_type)


def subject_for(prefix: str, frame_type: str, ticker: str | None) -> str:
    """``prefix`` is ``{env}.{feed}``; ``ticker`` is the raw exchange ticker or ``None``."""
    return f"{prefix}.json.{type_token(frame_type)}.{sanitize_token(ticker or '')}"


def unparsed_subject(prefix: str) -> str:
    """Where frames go that are not JSON or have no ``type``: nothing is dropped."""
    return f"{prefix}.json.{UNPARSED}.{NO_TICKER}"


def filter_covers(outer: str, inner: str) -> bool:
    """True if every subject matched by ``inner`` is matched by ``outer`` (both NATS filters)."""
    o, i = outer.split("."), inner.split(".")
    for index, token in enumerate(o):
        if token == ">":
            return index < len(i)
        if index >= len(i):
            return False
        if i[index] == ">":
            return False
        if token not in ("*", i[index]):
            return False
    return len(o) == len(i)
