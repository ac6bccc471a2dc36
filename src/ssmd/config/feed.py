"""Feed files: what an exchange speaks and where, versioned by effective date.

The reference schema also names REST, multicast and TCP transports and ITCH/FIX/SBE/protobuf messages. ssmd
captures JSON over WebSocket only, so those values are refused with "not supported" at load time rather than
accepted and silently ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator

from ssmd.config.base import ConfigModel
from ssmd.config.urls import redact_url

Transport = Literal["websocket", "wss", "ws"]
_URL_SCHEMES = ("wss", "ws")
_UNSUPPORTED = {
    "feed_type": (("rest", "multicast"), "ssmd captures WebSocket feeds only (supported: websocket)"),
    "transport": (("https", "http", "multicast", "tcp", "udp"),
                  "ssmd captures WebSocket feeds only (supported: websocket, wss, ws)"),
    "message": (("itch", "fix", "sbe", "protobuf"), "ssmd captures JSON messages only (supported: json)"),
}


def _refuse_unsupported(field: str, value: object) -> object:
    """Known values of the reference schema that ssmd never reads: a clear refusal, not a bare enum error."""
    names, supported = _UNSUPPORTED[field]
    if isinstance(value, str) and value.strip().lower() in names:
        raise ValueError(f"{value.strip().lower()} is not supported: {supported}")
    return value


class Protocol(ConfigModel):
    transport: Transport
    message: Literal["json"]
    version: str | None = None

    @field_validator("transport", "message", mode="before")
    @classmethod
    def _supported(cls, value: object, info: ValidationInfo) -> object:
        assert info.field_name is not None
        return _refuse_unsupported(info.field_name, value)

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
        parts = urlsplit(self.endpoint)
        shown = redact_url(self.endpoint)
        if parts.scheme not in _URL_SCHEMES:
            raise ValueError(
                f"endpoint {shown!r} does not match protocol.transport "
                f"{self.protocol.transport!r}: expected a wss:// or ws:// URL"
            )
        if not parts.netloc:
            raise ValueError(f"endpoint {shown!r} has no host")
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
    feed_type: str = Field(validation_alias=AliasChoices("feed_type", "type"), alias="feed_type")
    """``websocket`` (the deployment guide's; the feed is then the one called ``name``) or a feed's name
    (``polymarket``)."""
    display_name: str | None = None
    status: Literal["active", "deprecated", "disabled"] = "active"
    versions: tuple[FeedVersion, ...] = Field(min_length=1)
    capture_locations: tuple[dict[str, str], ...] | None = None
    calendar: dict[str, str] | None = None

    @field_validator("feed_type", mode="before")
    @classmethod
    def _supported(cls, value: object) -> object:
        from ssmd.feed.registry import feed_names

        value = _refuse_unsupported("feed_type", value)
        if value != "websocket" and value not in feed_names():
            raise ValueError(f"expected websocket or a feed name ({', '.join(feed_names())}), got {value!r}")
        return value

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
