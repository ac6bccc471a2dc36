"""Frame types as subject type tokens, as each feed maps them; the subject rule itself is :mod:`ssmd.naming`'s.

The feed decides the type token and the market key of a frame (:meth:`ssmd.feed.base.Feed.route`; Kalshi
maps both of its book frame types to ``orderbook`` and keys by ticker); :mod:`ssmd.naming` sanitises the key
(``KXETHD-26FEB1217-T1819.99`` -> ``KXETHD-26FEB1217-T1819_99``). Users filter with e.g.
``prod.kalshi.json.trade.>``.
"""

from __future__ import annotations

from ssmd.naming import NO_KEY, UNPARSED, filter_covers, sanitize_token, subject, unparsed_subject

__all__ = ["NO_TICKER", "UNPARSED", "filter_covers", "sanitize_token", "subject", "subject_for", "type_token",
           "unparsed_subject"]

NO_TICKER = NO_KEY


def type_token(frame_type: str, feed: str = "kalshi") -> str:
    """The type token of a wire frame type, as ``feed`` maps it (an unknown feed: the type, sanitised).

    The default is for archive tools that do not yet say which feed an archive holds."""
    from ssmd.feed.registry import get_feed, is_feed

    return get_feed(feed).type_token(frame_type) if is_feed(feed) else sanitize_token(frame_type)


def subject_for(prefix: str, frame_type: str, ticker: str | None) -> str:
    """Like :func:`ssmd.naming.subject` for a wire frame type; the feed is the last token of ``prefix``
    (``prod.kalshi``)."""
    return subject(prefix, type_token(frame_type, prefix.rsplit(".", 1)[-1]), ticker)
