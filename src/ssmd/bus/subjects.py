"""Subjects of wire frames: the feed's type token for a frame type, then :mod:`ssmd.naming`'s rule.

The feed decides the type token and the market key of a frame (:meth:`ssmd.feed.base.Feed.route`; Kalshi maps
both of its book frame types to ``orderbook`` and keys by ticker); :func:`ssmd.naming.subject` sanitises the key
(Kalshi tickers contain dots: ``KXETHD-26FEB1217-T1819.99`` -> ``KXETHD-26FEB1217-T1819_99``). The payload keeps
the original key, so the mapping need not be reversible. Users filter with e.g. ``prod.kalshi.json.trade.>``.
"""

from __future__ import annotations

from ssmd.naming import NO_KEY, UNPARSED, filter_covers, sanitize_token, subject, unparsed_subject

__all__ = ["NO_TICKER", "UNPARSED", "SubjectCache", "filter_covers", "sanitize_token", "subject", "subject_for",
           "type_token", "unparsed_subject"]

NO_TICKER = NO_KEY
_CACHE_MAX = 200_000


class SubjectCache(dict[str, "_KeySubjects"]):
    """``cache[token][key]``: the subject of a frame under ``prefix``, built (sanitised) once per type token and market
    key. For per-frame paths: a hit is two plain dict lookups in C, a miss builds the subject (``__missing__``)."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def __missing__(self, token: str) -> _KeySubjects:
        by_key = self[token] = _KeySubjects(self.prefix, token)
        return by_key


class _KeySubjects(dict[str | None, str]):
    __slots__ = ("prefix", "token")

    def __init__(self, prefix: str, token: str) -> None:
        super().__init__()
        self.prefix, self.token = prefix, token

    def __missing__(self, key: str | None) -> str:
        if len(self) >= _CACHE_MAX:  # keys come from the exchange: bounded
            self.clear()
        built = self[key] = subject(self.prefix, self.token, key)
        return built


def type_token(frame_type: str, feed: str = "kalshi") -> str:
    """The type token of a wire frame type, as ``feed`` maps it (an unknown feed: the type, sanitised).

    The default is for archive tools that do not yet say which feed an archive holds."""
    from ssmd.feed.registry import get_feed, is_feed

    return get_feed(feed).type_token(frame_type) if is_feed(feed) else sanitize_token(frame_type)


def subject_for(prefix: str, frame_type: str, ticker: str | None) -> str:
    """Like :func:`ssmd.naming.subject` for a wire frame type; the feed is the last token of ``prefix``."""
    return subject(prefix, type_token(frame_type, prefix.rsplit(".", 1)[-1]), ticker)
