"""Kalshi market discovery: ``GET /markets`` with filters and cursor paging (the connector's refresh loop calls
it through :meth:`ssmd.kalshi.feed.KalshiFeed.discover`).

The signed GET, its 429 back-off and the cursor pager live in :mod:`ssmd.kalshi.rest`. One filter value per
request, as Kalshi wants (``status`` is single-valued).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import aiohttp

from ssmd.feed.base import Credentials, DiscoveryError
from ssmd.kalshi.rest import pages

if TYPE_CHECKING:
    from ssmd.config.capture import DiscoveryConfig

log = logging.getLogger(__name__)

_PAGE = 1000
_MAX_PAGES = 1000


__all__ = ["DiscoveryError", "discover_markets"]


async def discover_markets(
    http: aiohttp.ClientSession, rest_base: str, creds: Credentials | None, cfg: DiscoveryConfig,
    page_size: int = _PAGE,
) -> list[str]:
    """Tickers matching ``cfg``, in the exchange's order, without duplicates, at most ``cfg.max_markets``."""
    filters: list[dict[str, str]] = []
    for key, values in (("series_ticker", cfg.series_ticker), ("event_ticker", cfg.event_ticker)):
        filters.extend({key: v} for v in values)
    if not filters:
        filters = [{}]
    seen: dict[str, None] = {}
    for extra in filters:
        params = {"limit": str(page_size), **extra}
        if cfg.status:
            params["status"] = cfg.status
        url = f"{rest_base.rstrip('/')}/markets"
        n = 0
        async for page in pages(http, url, creds, params, "markets"):
            n += 1
            if n > _MAX_PAGES:
                raise DiscoveryError(f"{url}: more than {_MAX_PAGES} pages; narrow the discovery filters")
            for market in page:
                ticker = market.get("ticker")
                if isinstance(ticker, str) and ticker:
                    seen[ticker] = None
                if len(seen) >= cfg.max_markets:
                    log.warning("discovery stopped at max_markets=%d", cfg.max_markets)
                    return list(seen)
    return list(seen)
