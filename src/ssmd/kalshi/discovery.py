"""Kalshi market discovery: ``GET /markets`` with filters and cursor paging (the connector's refresh loop calls
it through :meth:`ssmd.kalshi.feed.KalshiFeed.discover`).

Requests are signed (harmless for public data, required by some hosts) and back off exponentially on HTTP 429
(Kalshi sends no ``Retry-After``). One filter value per request, as Kalshi wants (``status`` is single-valued).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from ssmd.feed.base import Credentials, DiscoveryError
from ssmd.runtime.backoff import Backoff

if TYPE_CHECKING:
    from ssmd.config.capture import DiscoveryConfig

log = logging.getLogger(__name__)

_PAGE = 1000
_MAX_PAGES = 1000
_MAX_429 = 8


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
        async for market in _pages(http, f"{rest_base.rstrip('/')}/markets", creds, params):
            ticker = market.get("ticker")
            if isinstance(ticker, str) and ticker:
                seen[ticker] = None
            if len(seen) >= cfg.max_markets:
                log.warning("discovery stopped at max_markets=%d", cfg.max_markets)
                return list(seen)
    return list(seen)


async def _pages(http: aiohttp.ClientSession, url: str, creds: Credentials | None,
                 params: dict[str, str]) -> Any:
    cursor = ""
    path = urlsplit(url).path
    for _ in range(_MAX_PAGES):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = await _get(http, url, path, creds, query)
        markets = body.get("markets") or []
        cursor = body.get("cursor") or ""
        if not isinstance(markets, list) or not isinstance(cursor, str):
            raise DiscoveryError(f"GET {path}: expected a list under 'markets' and a string 'cursor'")
        for market in markets:
            if isinstance(market, dict):
                yield market
        if not cursor or not markets:
            return
    raise DiscoveryError(f"{url}: more than {_MAX_PAGES} pages; narrow the discovery filters")


async def _get(http: aiohttp.ClientSession, url: str, path: str, creds: Credentials | None,
               query: dict[str, str]) -> dict[str, Any]:
    backoff = Backoff(0.5, 30.0)
    for _ in range(_MAX_429):
        headers = creds.headers("GET", path) if creds else {}
        async with http.get(url, params=query, headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            if resp.status == 429:
                wait = backoff.next_delay()
                log.warning("GET %s: 429 too many requests, retrying in %.2fs", path, wait)
                await asyncio.sleep(wait)
                continue
            if resp.status != 200:
                text = (await resp.text(errors="replace"))[:200]
                raise DiscoveryError(f"GET {path} returned HTTP {resp.status}: {text}")
            try:
                body = await resp.json(content_type=None)
            except ValueError:  # not JSON (a proxy's error page, a truncated body)
                raise DiscoveryError(f"GET {path}: the response is not JSON") from None
            if not isinstance(body, dict):
                raise DiscoveryError(f"GET {path}: expected a JSON object")
            return body
    raise DiscoveryError(f"GET {path}: still 429 after {_MAX_429} attempts")
