"""The ``capture:`` section of an environment file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmd.config import ConfigError, load_environment
from ssmd.config.capture import CaptureConfig
from ssmd.feed import get_feed
from ssmd.kalshi.feed import KalshiFeed

BASE = "name: e\nfeed: kalshi\ntransport: {type: memory}\nstorage: {type: local, path: /tmp}\n"


def test_default_is_the_guides_channels_and_every_open_markets_book() -> None:
    """No capture section: Kalshi's ticker, trade and market_lifecycle_v2 for all markets AND orderbook_delta for
    every open market (discovered, re-read every minute); 60 s at 5,000/s buffered; the feed's limits."""
    kalshi = get_feed("kalshi")
    cfg = CaptureConfig().for_feed(kalshi)
    assert cfg.channels == kalshi.default_channels == ("ticker", "trade", "market_lifecycle_v2", "orderbook_delta")
    assert cfg.global_channels == ("ticker", "trade", "market_lifecycle_v2")
    assert cfg.market_channels == ("orderbook_delta",)
    discover = cfg.markets.discover
    assert discover is not None and discover.status == "open" and discover.refresh_s == 60
    assert discover.max_markets >= 100_000 and not discover.series_ticker and not discover.event_ticker
    assert (cfg.per_subscription, cfg.per_connection) == (200, 1000)
    assert CaptureConfig(max_markets_per_subscription=50).for_feed(kalshi).per_subscription == 50
    assert cfg.buffer_frames >= 60 * 5000
    assert cfg.dead_after == 30 and cfg.backoff_max == 30 and cfg.shutdown_timeout == 10


def test_narrowing_keeps_the_files_choice() -> None:
    """capture.channels without the book needs no markets; a market list given is not replaced by discovery."""
    kalshi = get_feed("kalshi")
    cfg = CaptureConfig(channels=("trade",)).for_feed(kalshi)
    assert cfg.market_channels == () and cfg.markets.discover is None
    listed = CaptureConfig.model_validate({"markets": {"tickers": ["A-1"]}}).for_feed(kalshi)
    assert listed.market_channels == ("orderbook_delta",) and listed.markets.discover is None
    assert listed.markets.tickers == ("A-1",)


class _NoDiscovery(KalshiFeed):
    """An exchange that cannot list its markets: the file must name them."""

    def default_discovery(self) -> None:
        return None


def test_book_without_markets_on_a_feed_without_discovery_names_the_field() -> None:
    """A market-list channel, no markets in the file and no feed default: the error names capture.markets."""
    with pytest.raises(ValueError, match=r"orderbook_delta needs markets: set capture\.markets\.tickers"):
        CaptureConfig(channels=("orderbook_delta",)).for_feed(_NoDiscovery())


def test_orderbook_without_markets_discovers_them(tmp_path: Path) -> None:
    """channels: [orderbook_delta] alone: the feed's discovery (every open market) fills capture.markets."""
    path = tmp_path / "e.yaml"
    path.write_text(BASE + "capture: {channels: [orderbook_delta]}\n")
    cfg = load_environment(path).capture
    assert cfg.markets.discover is not None and cfg.markets.discover.status == "open"


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
