"""Test oracles for Kalshi, written independently of :mod:`ssmd.kalshi.frames` and :mod:`ssmd.bus.subjects`
(so that a test can catch a mistake there). :func:`ssmd.testing.expected_subject` finds them by feed name."""

from __future__ import annotations

from typing import Any

import orjson


def expected_subject(prefix: str, raw: bytes) -> str:
    """The subject of one raw Kalshi frame under ``prefix`` (``{env}.kalshi``)."""
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return f"{prefix}.json.unparsed._"
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return f"{prefix}.json.unparsed._"
    kind = {"orderbook_snapshot": "orderbook", "orderbook_delta": "orderbook", "market_lifecycle_v2": "lifecycle",
            "ticker_v2": "ticker"}.get(frame["type"], frame["type"])
    msg: dict[str, Any] = frame["msg"] if isinstance(frame.get("msg"), dict) else {}
    ticker = msg.get("market_ticker") or msg.get("event_ticker") or msg.get("series_ticker") or "_"
    for ch in ".*> \t":
        ticker = ticker.replace(ch, "_")
    return f"{prefix}.json.{kind}.{ticker}"
