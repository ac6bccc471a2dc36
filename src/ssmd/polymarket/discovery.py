"""Gamma discovery: the asset ids (outcome tokens) of the markets Gamma lists, for the market channel.

``GET {gamma}/markets?active=true&closed=false&limit=100&offset=N``, paged by offset until a short page.
``clobTokenIds`` is a JSON-encoded string (``"[\\"545…\\", \\"878…\\"]"``), index i ↔ ``outcomes[i]``. Markets
without an order book (``enableOrderBook: false``) are skipped, and so is a row whose token list cannot be read
(logged: one odd row never stops discovery). Both tokens of a market are kept together and in order, so a
shard (an even number of assets) holds whole markets and one ``price_change`` covers one connection.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from ssmd.feed.base import DiscoveryError

if TYPE_CHECKING:
    from ssmd.config.capture import DiscoveryConfig

log = logging.getLogger(__name__)

PAGE = 100
_MAX_PAGES = 10_000


def market_tokens(row: object) -> list[str] | None:
    """The token ids of one Gamma market row; ``None`` if it has no order book or an unreadable list."""
    if not isinstance(row, dict) or row.get("enableOrderBook") is False:
        return None
    raw = row.get("clobTokenIds")
    try:
        tokens = orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        tokens = None
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) and t.isdigit() for t in tokens):
        log.warning("Gamma market %s: clobTokenIds is not a JSON list of token ids; skipped", row.get("id"),
                    extra={"clobTokenIds": str(raw)[:200]})
        return None
    return tokens


def _filters(cfg: DiscoveryConfig) -> dict[str, str]:
    if cfg.series_ticker or cfg.event_ticker:
        raise DiscoveryError("series_ticker and event_ticker are Kalshi filters; Polymarket discovery takes "
                             "status (open|closed) and max_markets")
    if cfg.status in ("closed", "settled"):
        return {"closed": "true"}
    return {"active": "true", "closed": "false"}


async def discover_assets(http: aiohttp.ClientSession, gamma_url: str, cfg: DiscoveryConfig,
                          page: int = PAGE) -> list[str]:
    """Token ids of the markets matching ``cfg``, in Gamma's order, without duplicates, at most
    ``cfg.max_markets`` (counted in tokens, whole markets only)."""
    url = f"{gamma_url.rstrip('/')}/markets"
    params = _filters(cfg)
    seen: dict[str, None] = {}
    offset = 0
    for _ in range(_MAX_PAGES):
        rows = await _get(http, url, {**params, "limit": str(page), "offset": str(offset)})
        for row in rows:
            tokens = market_tokens(row)
            if tokens is None:
                continue
            fresh = [t for t in tokens if t not in seen]
            if len(seen) + len(fresh) > cfg.max_markets:
                log.warning("discovery stopped at max_markets=%d (assets)", cfg.max_markets)
                return list(seen)
            seen.update(dict.fromkeys(fresh))
        if len(rows) < page:
            return list(seen)
        offset += len(rows)
    raise DiscoveryError(f"{url}: more than {_MAX_PAGES} pages")


async def _get(http: aiohttp.ClientSession, url: str, query: dict[str, str]) -> list[Any]:
    async with http.get(url, params=query, timeout=aiohttp.ClientTimeout(total=30)) as resp:
        if resp.status != 200:
            text = (await resp.text(errors="replace"))[:200]
            raise DiscoveryError(f"GET {url} returned HTTP {resp.status}: {text}")
        try:
            body = orjson.loads(await resp.read())
        except orjson.JSONDecodeError:
            raise DiscoveryError(f"GET {url}: the response is not JSON") from None
    if not isinstance(body, list):
        raise DiscoveryError(f"GET {url}: expected a JSON list of markets")
    return body
