"""The optional ``capture:`` section of an environment file: what the connector subscribes to.

Defaults match the deployment guide: global ``ticker`` and ``trade`` plus ``market_lifecycle_v2``.
"""

from __future__ import annotations

from pydantic import Field

from ssmd.config.base import ConfigModel

DEFAULT_CHANNELS = ("ticker", "trade", "market_lifecycle_v2")


class CaptureConfig(ConfigModel):
    channels: tuple[str, ...] = Field(default=DEFAULT_CHANNELS, min_length=1)
