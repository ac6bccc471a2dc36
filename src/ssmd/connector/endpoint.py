"""Which URLs to dial: the override, else the feed's choice for the feed file's endpoint of today's version."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ssmd.config import FeedConfig
from ssmd.feed.base import Feed


def resolve_ws_url(feed: Feed, config: FeedConfig, environ: Mapping[str, str], override: str | None = None,
                   today: dt.date | None = None) -> str:
    """``--ws-url``/``SSMD_KALSHI_WS_URL``, else what the feed makes of the feed file's endpoint (Kalshi: the
    demo host if ``KALSHI_USE_DEMO``; a legacy host is logged as a warning)."""
    if override:
        return override
    return feed.endpoint(config.version_for(today or dt.date.today()).endpoint, environ)


def resolve_rest_url(feed: Feed, ws_url: str, override: str | None = None, configured: str | None = None) -> str:
    """``--rest-url``, else ``capture.markets.discover.rest_url``, else the feed's REST base for ``ws_url``."""
    return override or configured or feed.rest_url_for(ws_url)
