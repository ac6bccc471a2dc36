"""Subject mapping: ``{env}.{feed}.json.{type}.{key}``.

The feed decides the type token and the market key of a frame (:meth:`ssmd.feed.base.Feed.route`; Kalshi maps
``orderbook_delta`` to ``orderbook`` and keys by ticker); here every ``.``, ``*``, ``>`` and whitespace character
of the key becomes ``_`` (Kalshi tickers contain dots: ``KXETHD-26FEB1217-T1819.99`` ->
``KXETHD-26FEB1217-T1819_99``), and no key is ``_``. The payload keeps the original key, so the mapping need
not be reversible. Users filter with e.g. ``prod.kalshi.json.trade.>``.
"""

from __future__ import annotations

import re

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


def subject(prefix: str, token: str, key: str | None) -> str:
    """``prefix`` is ``{env}.{feed}``; ``token`` a type token (:attr:`Route.type`); ``key`` the raw market key."""
    return f"{prefix}.json.{token}.{sanitize_token(key or '')}"


def type_token(frame_type: str, feed: str = "kalshi") -> str:
    """The type token of a wire frame type, as ``feed`` maps it (an unknown feed: the type, sanitised).

    The default is for archive tools that do not yet say which feed an archive holds."""
    from ssmd.feed.registry import get_feed, is_feed

    return get_feed(feed).type_token(frame_type) if is_feed(feed) else sanitize_token(frame_type)


def subject_for(prefix: str, frame_type: str, ticker: str | None) -> str:
    """Like :func:`subject` for a wire frame type; the feed is the last token of ``prefix`` (``prod.kalshi``)."""
    return subject(prefix, type_token(frame_type, prefix.rsplit(".", 1)[-1]), ticker)


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
