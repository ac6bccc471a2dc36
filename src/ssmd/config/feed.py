"""Feed files: what an exchange speaks and where, versioned by effective date."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator, model_validator

from ssmd.config.base import ConfigModel

Transport = Literal["websocket", "wss", "ws", "https", "http", "multicast", "tcp"]
_URL_SCHEMES: dict[str, tuple[str, ...]] = {
    "websocket": ("wss", "ws"),
    "wss": ("wss", "ws"),
    "ws": ("ws", "wss"),
    "https": ("https", "http"),
    "http": ("http", "https"),
    "multicast": ("udp", "multicast"),
    "tcp": ("tcp",),
}


class Protocol(ConfigModel):
    transport: Transport
    message: Literal["json", "itch", "fix", "sbe", "protobuf"]
    version: str | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value


class FeedVersion(ConfigModel):
    version: str
    endpoint: str
    protocol: Protocol
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    auth_method: Literal["api_key", "oauth", "mtls", "none"] | None = None
    rate_limit_per_second: int | None = Field(default=None, ge=0)
    max_symbols_per_connection: int | None = Field(default=None, ge=0)
    supports_orderbook: bool | None = None
    supports_trades: bool | None = None
    supports_historical: bool | None = None
    parser_config: dict[str, str] | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # YAML reads `version: 1.0` as a float; the guide quotes it, the original did not.
        return str(value) if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _check(self) -> FeedVersion:
        scheme = urlsplit(self.endpoint).scheme
        allowed = _URL_SCHEMES[self.protocol.transport]
        if scheme not in allowed:
            want = " or ".join(f"{s}://" for s in allowed)
            raise ValueError(
                f"endpoint {self.endpoint!r} does not match protocol.transport "
                f"{self.protocol.transport!r}: expected a {want} URL"
            )
        if not urlsplit(self.endpoint).netloc:
            raise ValueError(f"endpoint {self.endpoint!r} has no host")
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self

    def effective_on(self, day: dt.date) -> bool:
        """A version without dates is always effective; both bounds are inclusive."""
        if self.effective_from and day < self.effective_from:
            return False
        return not (self.effective_to and day > self.effective_to)


class FeedConfig(ConfigModel):
    name: str = Field(min_length=1)
    feed_type: Literal["websocket", "rest", "multicast"] = Field(
        validation_alias=AliasChoices("feed_type", "type"), alias="feed_type"
    )
    display_name: str | None = None
    status: Literal["active", "deprecated", "disabled"] = "active"
    versions: tuple[FeedVersion, ...] = Field(min_length=1)
    capture_locations: tuple[dict[str, str], ...] | None = None
    calendar: dict[str, str] | None = None

    @model_validator(mode="after")
    def _unique_dates(self) -> FeedConfig:
        seen = [v.effective_from for v in self.versions if v.effective_from]
        if len(seen) != len(set(seen)):
            raise ValueError("two versions share an effective_from date")
        return self

    def version_for(self, day: dt.date) -> FeedVersion:
        """The latest version effective on ``day`` (dated versions win over undated ones)."""
        candidates = [v for v in self.versions if v.effective_on(day)]
        if not candidates:
            raise LookupError(f"feed {self.name!r} has no version effective on {day.isoformat()}")
        return max(candidates, key=lambda v: v.effective_from or dt.date.min)
