"""The ``capture:`` section of an environment file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmd.config import ConfigError, load_environment
from ssmd.config.capture import CaptureConfig
from ssmd.feed import get_feed

BASE = "name: e\nfeed: kalshi\ntransport: {type: memory}\nstorage: {type: local, path: /tmp}\n"


def test_default_is_the_deployment_guides_global_channels() -> None:
    """No capture section: Kalshi's ticker, trade and market_lifecycle_v2 for all markets; 60 s at 5,000/s
    buffered; the feed's per-subscription and per-connection limits."""
    kalshi = get_feed("kalshi")
    cfg = CaptureConfig().for_feed(kalshi)
    assert cfg.channels == kalshi.default_channels == ("ticker", "trade", "market_lifecycle_v2")
    assert cfg.global_channels == cfg.channels and cfg.market_channels == ()
    assert (cfg.per_subscription, cfg.per_connection) == (200, 1000)
    assert CaptureConfig(max_markets_per_subscription=50).for_feed(kalshi).per_subscription == 50
    assert cfg.buffer_frames >= 60 * 5000
    assert cfg.dead_after == 30 and cfg.backoff_max == 30 and cfg.shutdown_timeout == 10


def test_orderbook_without_markets_names_the_field(tmp_path: Path) -> None:
    """orderbook_delta needs a market list or discovery; the error names the file and capture."""
    path = tmp_path / "e.yaml"
    path.write_text(BASE + "capture: {channels: [orderbook_delta]}\n")
    with pytest.raises(ConfigError) as err:
        load_environment(path)
    assert "e.yaml" in str(err.value) and "capture" in str(err.value) and "markets" in str(err.value)


def test_bad_limit_names_the_field(tmp_path: Path) -> None:
    """A zero per-subscription limit is refused with its field path."""
    path = tmp_path / "e.yaml"
    path.write_text(BASE + "capture: {max_markets_per_subscription: 0}\n")
    with pytest.raises(ConfigError) as err:
        load_environment(path)
    assert "capture.max_markets_per_subscription" in str(err.value)


def test_discovery_section_loads(tmp_path: Path) -> None:
    """Discovery filters and refresh interval are read and typed."""
    path = tmp_path / "e.yaml"
    path.write_text(BASE + "capture:\n  channels: [orderbook_delta]\n  markets:\n    discover:\n"
                    "      series_ticker: [KXBTCD]\n      refresh: 2m\n")
    cfg = load_environment(path).capture
    assert cfg.markets.discover is not None
    assert cfg.markets.discover.series_ticker == ("KXBTCD",) and cfg.markets.discover.refresh_s == 120
    assert cfg.market_channels == ("orderbook_delta",) and cfg.global_channels == ()
