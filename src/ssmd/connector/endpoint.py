"""Which WebSocket URL to dial: override, else demo, else the feed's endpoint for today's version."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from ssmd.config import FeedConfig
from ssmd.config.envvars import env_flag

log = logging.getLogger(__name__)

PROD_WS_URL = "wss://api.elections.kalshi.com/trade-api/ws/v2"
DEMO_WS_URL = "wss://demo-api.kalshi.co/trade-api/ws/v2"
LEGACY_HOSTS = frozenset({"trading-api.kalshi.com", "api.kalshi.com"})
"""Hosts of the token-login era, absent from Kalshi's current docs (the deployment guide still names one)."""


def use_demo(environ: Mapping[str, str]) -> bool:
    """``KALSHI_USE_DEMO`` (default false); raises :class:`~ssmd.config.envvars.EnvVarError` on a typo."""
    return env_flag(environ, "KALSHI_USE_DEMO")


def resolve_ws_url(feed: FeedConfig, environ: Mapping[str, str], override: str | None = None,
                   today: dt.date | None = None) -> str:
    """``--ws-url``/``SSMD_KALSHI_WS_URL``, else the demo host if ``KALSHI_USE_DEMO``, else the feed's endpoint.

    A legacy host is used as configured (an operator may know better) but logged as a warning.
    """
    if override:
        return override
    if use_demo(environ):
        return DEMO_WS_URL
    endpoint = feed.version_for(today or dt.date.today()).endpoint
    host = urlsplit(endpoint).hostname or ""
    if host in LEGACY_HOSTS:
        log.warning("feed endpoint host %s is a legacy Kalshi host; current hosts are %s (prod) and %s (demo)",
                    host, PROD_WS_URL, DEMO_WS_URL, extra={"endpoint": endpoint})
    return endpoint


def rest_base(ws_url: str) -> str:
    """``wss://host/trade-api/ws/v2`` -> ``https://host/trade-api/v2`` (same host, same signing)."""
    parts = urlsplit(ws_url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "/trade-api/v2", "", ""))
