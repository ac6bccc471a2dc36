"""The optional ``capture:`` section of an environment file: what the connector subscribes to, and how hard
it tries to stay connected.

Which channels exist, which need a market list and the per-connection limits are the feed's knowledge
(:class:`~ssmd.feed.base.Feed`); :meth:`CaptureConfig.for_feed` fills in the feed's defaults and checks the
file against them, and :class:`~ssmd.config.environment.EnvironmentConfig` does so at load time for the feed it
names. Without a ``capture:`` section a feed captures its ``default_channels`` for the markets of its
``default_discovery()`` (Kalshi: its three global channels plus its order book for every open market,
re-discovered every minute: docs/kalshi.md), so the guide's files need no ``capture:`` section at all. Example::

    capture:
      channels: [ticker, trade]        # default: the feed's (Kalshi: the guide's three + its order book)
      markets:                         # for the feed's market-list channels (Kalshi's order book); default: the feed's
        tickers: [KXBTCD-26FEB1217-T67749.99]
        discover: {status: open, series_ticker: [KXBTCD], refresh: 5m}
      max_markets_per_subscription: 200
      buffer_frames: 300000
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PrivateAttr, field_validator

from ssmd.config.base import ConfigModel, Duration
from ssmd.config.duration import parse_duration

if TYPE_CHECKING:
    from ssmd.feed.base import Feed


class DiscoveryConfig(ConfigModel):
    """``GET /markets`` filters; the result is re-read every ``refresh`` to add new and drop settled markets."""

    status: Literal["unopened", "open", "paused", "closed", "settled"] | None = "open"
    series_ticker: tuple[str, ...] = ()
    event_ticker: tuple[str, ...] = ()
    refresh: Duration = "5m"
    max_markets: int = Field(default=5000, ge=1)
    rest_url: str | None = None
    """Override the REST base (``--rest-url`` wins); default: the feed's, derived from the WebSocket URL."""

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
    channels: tuple[str, ...] | None = Field(default=None, min_length=1)
    """``None``: the feed's ``default_channels``."""
    markets: MarketsConfig = MarketsConfig()
    max_markets_per_subscription: int | None = Field(default=None, ge=1, le=10000)
    """``None``: the feed's (Kalshi's cap is unpublished, error 26; the original found 256 and kept 200)."""
    max_markets_per_connection: int | None = Field(default=None, ge=1)
    buffer_frames: int = Field(default=300_000, ge=1)
    """Frames held while NATS is unreachable: 60 s at 5,000 frames/s."""
    max_in_flight: int = Field(default=4000, ge=1)
    publish_timeout: float = Field(default=5.0, gt=0)
    ping_interval: float = Field(default=10.0, gt=0)
    dead_after: float = Field(default=30.0, gt=0)
    """No pong, or no frame at all from the server, for this long: the connection is dead."""
    silent_after: float | None = Field(default=None, gt=0)
    """A subscribed socket that delivers no data for this long (heartbeat answers aside) is reconnected; ``None``:
    the feed's rule (Polymarket: 60 s; Kalshi: none)."""
    subscribe_timeout: float = Field(default=10.0, gt=0)
    backoff_max: float = Field(default=30.0, gt=0)
    shutdown_timeout: float = Field(default=10.0, gt=0)
    coverage_heartbeat: float = Field(default=10.0, gt=0)
    """Seconds between coverage heartbeats (docs/coverage.md); the ledger counts an instance silent for two."""

    _market: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @field_validator("channels")
    @classmethod
    def _unique(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return value
        if len(set(value)) != len(value):
            raise ValueError("channels are listed twice")
        if any(not c or not c.replace("_", "").isalnum() for c in value):
            raise ValueError("channel names are lower-case words like ticker, trade, book")
        return value

    def for_feed(self, feed: Feed) -> CaptureConfig:
        """This section with the feed's defaults filled in and its market-list channels known. Raises
        :class:`ValueError` when a market-list channel has no markets to subscribe."""
        channels = self.channels or feed.default_channels
        wants = [c for c in channels if c in feed.market_channels]
        markets = self.markets
        if wants and not markets.tickers and markets.discover is None:
            discover = feed.default_discovery()
            if discover is None:
                raise ValueError(
                    f"channel {wants[0]} needs markets: set capture.markets.tickers or capture.markets.discover"
                )
            markets = markets.model_copy(update={"discover": discover})
        resolved = self.model_copy(update={
            "channels": channels,
            "markets": markets,
            "max_markets_per_subscription": self.max_markets_per_subscription or feed.max_markets_per_subscription,
            "max_markets_per_connection": self.max_markets_per_connection or feed.max_markets_per_connection,
        })
        resolved._market = frozenset(feed.market_channels)
        return resolved

    @property
    def global_channels(self) -> tuple[str, ...]:
        """Channels without a market list (all of them until :meth:`for_feed` says otherwise)."""
        return tuple(c for c in self.channels or () if c not in self._market)

    @property
    def market_channels(self) -> tuple[str, ...]:
        return tuple(c for c in self.channels or () if c in self._market)

    @property
    def per_subscription(self) -> int:
        """``max_markets_per_subscription`` as resolved by :meth:`for_feed`."""
        if self.max_markets_per_subscription is None:
            raise RuntimeError("CaptureConfig.for_feed() fills in the feed's limits before planning")
        return self.max_markets_per_subscription

    @property
    def per_connection(self) -> int:
        """``max_markets_per_connection`` as resolved by :meth:`for_feed` (never below one subscription)."""
        if self.max_markets_per_connection is None:
            raise RuntimeError("CaptureConfig.for_feed() fills in the feed's limits before planning")
        return max(self.max_markets_per_connection, self.per_subscription)
