"""Which URLs the connector dials: the override, else the feed's choice for the feed file's endpoint."""

from __future__ import annotations

import logging

import pytest

from ssmd.config import FeedConfig
from ssmd.connector.endpoint import resolve_rest_url, resolve_ws_url
from ssmd.feed import get_feed
from ssmd.kalshi.feed import DEMO_WS_URL, rest_base

KALSHI = get_feed("kalshi")


def _feed(endpoint: str) -> FeedConfig:
    return FeedConfig.model_validate({"name": "kalshi", "feed_type": "websocket", "versions": [
        {"version": "1", "endpoint": endpoint, "protocol": {"transport": "websocket", "message": "json"}}]})


def test_override_wins_over_demo_and_feed() -> None:
    """--ws-url / SSMD_KALSHI_WS_URL beats KALSHI_USE_DEMO and the feed file."""
    feed = _feed("wss://api.elections.kalshi.com/trade-api/ws/v2")
    assert resolve_ws_url(KALSHI, feed, {"KALSHI_USE_DEMO": "true"}, "ws://127.0.0.1:1/x") == "ws://127.0.0.1:1/x"


@pytest.mark.parametrize("value", ["true", "TRUE", "1"])
def test_use_demo_selects_the_demo_host(value: str) -> None:
    """KALSHI_USE_DEMO=true/1 (any case) dials Kalshi's demo host."""
    assert resolve_ws_url(KALSHI, _feed("wss://api.elections.kalshi.com/trade-api/ws/v2"),
                          {"KALSHI_USE_DEMO": value}) == DEMO_WS_URL


def test_legacy_host_is_used_as_configured_but_warned(caplog: pytest.LogCaptureFixture) -> None:
    """The guide's trading-api.kalshi.com is dialled as written, with a warning naming the current hosts."""
    url = "wss://trading-api.kalshi.com/trade-api/ws/v2"
    with caplog.at_level(logging.WARNING):
        assert resolve_ws_url(KALSHI, _feed(url), {"KALSHI_USE_DEMO": "false"}) == url
    assert "legacy" in caplog.text and "api.elections.kalshi.com" in caplog.text


def test_rest_base_follows_the_websocket_host() -> None:
    """Discovery uses the same host: wss -> https, ws -> http, path /trade-api/v2."""
    assert rest_base("wss://demo-api.kalshi.co/trade-api/ws/v2") == "https://demo-api.kalshi.co/trade-api/v2"
    assert rest_base("ws://127.0.0.1:9/trade-api/ws/v2") == "http://127.0.0.1:9/trade-api/v2"


def test_rest_url_override_wins_over_the_file_and_the_feed() -> None:
    """--rest-url beats capture.markets.discover.rest_url, which beats the feed's REST base for the WS URL."""
    ws = "ws://127.0.0.1:9/trade-api/ws/v2"
    assert resolve_rest_url(KALSHI, ws) == "http://127.0.0.1:9/trade-api/v2"
    assert resolve_rest_url(KALSHI, ws, configured="http://file/v2") == "http://file/v2"
    assert resolve_rest_url(KALSHI, ws, "http://flag/v2", "http://file/v2") == "http://flag/v2"
