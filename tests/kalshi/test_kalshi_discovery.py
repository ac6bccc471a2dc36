"""REST market discovery against the simulator's /trade-api/v2/markets: paging, signing, 429 back-off."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from ssmd.config.capture import DiscoveryConfig
from ssmd.kalshi.auth import KalshiCredentials, generate_key_pair, load_private_key
from ssmd.kalshi.discovery import discover_markets
from ssmd.testing import Sim


async def test_cursor_pages_are_followed_to_the_end(tmp_path: Path) -> None:
    """With 7 per page, every open market is found once, across pages, with signed requests."""
    private, public = generate_key_pair()
    (tmp_path / "pub.pem").write_text(public)
    sim = Sim(tmp_path, "--key", f"kid={tmp_path / 'pub.pem'}", "--markets", "30", "--rate", "0")
    try:
        creds = KalshiCredentials("kid", load_private_key(private))
        async with aiohttp.ClientSession() as http:
            found = await discover_markets(http, f"{sim.http}/trade-api/v2", creds, DiscoveryConfig(), page_size=7)
            async with http.get(f"{sim.http}/trade-api/v2/markets", params={"status": "open", "limit": "1000"}) as r:
                truth = [m["ticker"] for m in (await r.json())["markets"]]
    finally:
        sim.stop()
    assert len(truth) > 14
    assert found == truth


async def test_429_is_retried_with_backoff(tmp_path: Path) -> None:
    """Over the REST rate limit the simulator answers 429; discovery waits and still returns every market."""
    sim = Sim(tmp_path, "--no-auth", "--markets", "30", "--rate", "0", "--rest-rate-limit", "3")
    try:
        async with aiohttp.ClientSession() as http:
            found = await discover_markets(http, f"{sim.http}/trade-api/v2", None, DiscoveryConfig(status=None),
                                           page_size=5)
        stats = await sim.stats()
    finally:
        sim.stop()
    assert len(found) == len(set(found)) >= 30
    assert stats["rest_rate_limited"] > 0
