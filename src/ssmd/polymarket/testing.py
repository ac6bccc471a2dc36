"""Test oracles for Polymarket, written independently of :mod:`ssmd.polymarket.protocol` and
:mod:`ssmd.bus.subjects` (so that a test can catch a mistake there). :func:`ssmd.testing.expected_subject`
finds them by feed name."""

from __future__ import annotations

import orjson


def expected_subject(prefix: str, raw: bytes) -> str:
    """The subject of one raw frame under ``prefix`` (``{env}.polymarket``), as docs/polymarket.md states it:
    ``event_type`` and lowercased ``market`` of the object (of an array: its first element); text words and
    JSON without ``event_type`` go to ``unparsed._``."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return f"{prefix}.json.unparsed._"
    head = data[0] if isinstance(data, list) and data else data
    if not isinstance(head, dict) or not isinstance(head.get("event_type"), str) or not head["event_type"]:
        return f"{prefix}.json.unparsed._"
    kind = head["event_type"]
    market = head.get("market")
    key = market.lower() if isinstance(market, str) and market else "_"
    for ch in ".*> \t":
        kind, key = kind.replace(ch, "_"), key.replace(ch, "_")
    return f"{prefix}.json.{kind}.{key}"
