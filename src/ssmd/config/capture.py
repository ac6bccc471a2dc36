"""The optional ``capture:`` section of an environment file: what the connector subscribes to, and how hard
it tries to stay connected.

Defaults match the deployment guide: global ``ticker`` and ``trade`` plus ``market_lifecycle_v2``, so the
guide's files need no ``capture:`` section at all. Example::

    capture:
      channels: [ticker, trade, market_lifecycle_v2, orderbook_delta]
      markets:                         # for channels that need tickers (orderbook_delta)
        tickers: [KXBTCD-26FEB1217-T67749.99]
        discover: {status: open, series_ticker: [KXBTCD], refresh: 5m}
      max_markets_per_subscription: 200
      buffer_frames: 300000
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ssmd.config.base import ConfigModel, Duration
from ssmd.config.duration import parse_duration

DEFAULT_CHANNELS = ("ticker", "trade", "market_lifecycle_v2")
MARKET_CHANNELS = frozenset({"orderbook_delta"})
"""Channels Kalshi serves only for an explicit market list (no firehose)."""


class DiscoveryConfig(ConfigModel):
    """``GET /markets`` filters; the result is re-read every ``refresh`` to add new and drop settled markets."""

    status: Literal["unopened", "open", "paused", "closed", "settled"] | None = "open"
    series_ticker: tuple[str, ...] = ()
    event_ticker: tuple[str, ...] = ()
    refresh: Duration = "5m"
    max_markets: int = Field(default=5000, ge=1)
    rest_url: str | None = None
    """Override the REST base (``https://host/trade-api/v2``); default: derived from the WebSocket host."""

    @property
    def refresh_s(self) -> int:
        return parse_duration(self.refresh)


class MarketsConfig(ConfigModel):
    tickers: tuple[str, ...] = ()
    discover: DiscoveryConfig | None = None

    @field_validator("tickers")
    @classmethod
    def _no_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not t.strip() for t in value):
            raise ValueError("market tickers must not be blank")
        return value


class CaptureConfig(ConfigModel):
    channels: tuple[str, ...] = Field(default=DEFAULT_CHANNELS, min_length=1)
    markets: MarketsConfig = MarketsConfig()
    max_markets_per_subscription: int = Field(default=200, ge=1, le=10000)
    """Kalshi's cap is unpublished (error 26); the original found 256 and kept 200 for headroom."""
    max_markets_per_connection: int = Field(default=1000, ge=1)
    buffer_frames: int = Field(default=300_000, ge=1)
    """Frames held while NATS is unreachable: 60 s at 5,000 frames/s."""
    max_in_flight: int = Field(default=4000, ge=1)
    publish_timeout: float = Field(default=5.0, gt=0)
    ping_interval: float = Field(default=10.0, gt=0)
    dead_after: float = Field(default=30.0, gt=0)
    """No pong, or no frame at all from the server, for this long: the connection is dead."""
    subscribe_timeout: float = Field(default=10.0, gt=0)
    backoff_max: float = Field(default=30.0, gt=0)
    shutdown_timeout: float = Field(default=10.0, gt=0)

    @field_validator("channels")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("channels are listed twice")
        if any(not c or not c.replace("_", "").isalnum() for c in value):
            raise ValueError("channel names are lower-case words like ticker, trade, orderbook_delta")
        return value

    @model_validator(mode="after")
    def _markets_for_market_channels(self) -> CaptureConfig:
        wants = [c for c in self.channels if c in MARKET_CHANNELS]
        if wants and not self.markets.tickers and self.markets.discover is None:
            raise ValueError(
                f"channel {wants[0]} needs markets: set capture.markets.tickers or capture.markets.discover"
            )
        return self

    @property
    def global_channels(self) -> tuple[str, ...]:
        return tuple(c for c in self.channels if c not in MARKET_CHANNELS)

    @property
    def market_channels(self) -> tuple[str, ...]:
        return tuple(c for c in self.channels if c in MARKET_CHANNELS)
