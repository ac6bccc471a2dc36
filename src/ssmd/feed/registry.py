"""Feeds by name. Adding a feed is one line here plus its own package; imports are lazy so that a service
pays only for the feed it runs (and so that :mod:`ssmd.config` may ask a feed for its channel defaults)."""

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


def is_feed(name: str) -> bool:
    return name in _FEEDS


@cache
def get_feed(name: str) -> Feed:
    """The feed called ``name``; :class:`KeyError` naming the known feeds otherwise."""
    try:
        target = _FEEDS[name]
    except KeyError:
        raise KeyError(f"unknown feed {name!r}: expected one of {', '.join(_FEEDS)}") from None
    module, _, cls = target.partition(":")
    try:
        package = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name):
            raise  # a feed package that is there but broken: a bug, not a missing feed
        raise KeyError(f"feed {name!r} is registered but {module} is not installed") from None
    feed: Feed = getattr(package, cls)()
    return feed


def feed_name_for(feed_type: str, name: str) -> str:
    """Which feed a feed file selects: its ``feed_type`` if that names a feed (``feed_type: polymarket``), else
    its ``name`` (the deployment guide's ``feed_type: websocket`` with ``name: kalshi``)."""
    return feed_type if feed_type in _FEEDS else name
