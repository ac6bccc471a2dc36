"""Feeds by name. Adding a feed is one line here plus its own package; imports are lazy so that a service
pays only for the feed it runs."""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ssmd.feed.base import Feed

_FEEDS: dict[str, str] = {
    "kalshi": "ssmd.kalshi.feed:KalshiFeed",
    "polymarket": "ssmd.polymarket.feed:PolymarketFeed",
}


def feed_names() -> tuple[str, ...]:
    return tuple(_FEEDS)


@cache
def get_feed(name: str) -> Feed:
    """The feed called ``name``; :class:`KeyError` naming the known feeds otherwise."""
    try:
        target = _FEEDS[name]
    except KeyError:
        raise KeyError(f"unknown feed {name!r}: expected one of {', '.join(_FEEDS)}") from None
    module, _, cls = target.partition(":")
    feed: Feed = getattr(importlib.import_module(module), cls)()
    return feed
