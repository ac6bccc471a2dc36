"""Kalshi REST: the one signed GET (with the 429 back-off) and the one cursor pager. Discovery
(:mod:`ssmd.kalshi.discovery`) and trade backfill (:mod:`ssmd.kalshi.backfill`) both call these.

Requests are signed (harmless for public data, required by some hosts) and back off exponentially on HTTP 429
(Kalshi sends no ``Retry-After``). Lists are cursor-paged: the response's ``cursor`` goes back as ``?cursor=``
with the other parameters unchanged, until it is empty. The pager has no bound of its own: each caller decides
what happens past its bound (discovery fails, backfill records a partial backfill).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ssmd.feed.base import Credentials, DiscoveryError
from ssmd.runtime.backoff import Backoff

log = logging.getLogger(__name__)

MAX_429 = 8
"""Consecutive 429 answers before a request gives up (about a minute of back-off at most)."""


class RestError(DiscoveryError):
    """Kalshi answered, but not usefully (HTTP error, not JSON, wrong shape, still 429): retry later."""


async def get_json(http: aiohttp.ClientSession, url: str, creds: Credentials | None,
                   query: dict[str, str]) -> dict[str, Any]:
    """One signed GET; HTTP 429 is retried with exponential back-off, anything else but 200 raises."""
    path = urlsplit(url).path
    backoff = Backoff(0.5, 30.0)
    for _ in range(MAX_429):
        headers = creds.headers("GET", path) if creds else {}
        async with http.get(url, params=query, headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            if resp.status == 429:
                wait = backoff.next_delay()
                log.warning("GET %s: 429 too many requests, retrying in %.2fs", path, wait)
                await asyncio.sleep(wait)
                continue
            if resp.status != 200:
                text = (await resp.text(errors="replace"))[:200]
                raise RestError(f"GET {path} returned HTTP {resp.status}: {text}")
            try:
                body = await resp.json(content_type=None)
            except ValueError:  # not JSON (a proxy's error page, a truncated body)
                raise RestError(f"GET {path}: the response is not JSON") from None
            if not isinstance(body, dict):
                raise RestError(f"GET {path}: expected a JSON object")
            return body
    raise RestError(f"GET {path}: still 429 after {MAX_429} attempts")


async def pages(http: aiohttp.ClientSession, url: str, creds: Credentials | None, params: dict[str, str],
                key: str) -> AsyncIterator[list[dict[str, Any]]]:
    """Each page's list under ``key`` (objects only), following ``cursor`` to the end; unbounded."""
    cursor = ""
    path = urlsplit(url).path
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = await get_json(http, url, creds, query)
        items = body.get(key) or []
        cursor = body.get("cursor") or ""
        if not isinstance(items, list) or not isinstance(cursor, str):
            raise RestError(f"GET {path}: expected a list under {key!r} and a string 'cursor'")
        yield [item for item in items if isinstance(item, dict)]
        if not cursor or not items:
            return
