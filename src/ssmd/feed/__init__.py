"""The feed seam: what differs between exchanges, behind one small interface.

Services (connector, archiver, archive tools, agent, ``ssmd up``) receive a :class:`~ssmd.feed.base.Feed` from
:func:`~ssmd.feed.registry.get_feed` and never import a feed package. Each feed lives in its own package
(``ssmd.kalshi``, ``ssmd.polymarket``) and is registered with one line in :mod:`ssmd.feed.registry`.
"""

from ssmd.feed.base import (
    KEPT,
    UNPARSED,
    BookDelta,
    BookSnapshot,
    Command,
    Credentials,
    DiscoveryError,
    Event,
    Feed,
    FeedAuthError,
    Gap,
    Heartbeat,
    Kind,
    Lifecycle,
    Reply,
    Route,
    Session,
    SimAuth,
    TopOfBook,
    Trade,
)
from ssmd.feed.registry import feed_name_for, feed_names, get_feed, is_feed

__all__ = [
    "KEPT", "UNPARSED", "BookDelta", "BookSnapshot", "Command", "Credentials", "DiscoveryError", "Event", "Feed",
    "FeedAuthError", "Gap", "Heartbeat", "Kind", "Lifecycle", "Reply", "Route", "Session", "SimAuth", "TopOfBook",
    "Trade",
    "feed_name_for", "feed_names", "get_feed", "is_feed",
]
