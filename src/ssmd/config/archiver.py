"""The archiver's file: which stream to drain and where the ``.jsonl.gz`` files go."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from ssmd.config.base import ConfigModel, Duration
from ssmd.config.duration import parse_duration


class ArchiverNats(ConfigModel):
    url: str
    stream: str = Field(min_length=1, pattern=r"^[^.*>\s]+$")
    consumer: str = Field(min_length=1, pattern=r"^[^.*>\s]+$")
    filter: str = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("nats", "tls", "ws", "wss") or not parts.netloc:
            raise ValueError(f"expected nats://host:port, got {value!r}")
        return value

    @field_validator("filter")
    @classmethod
    def _check_filter(cls, value: str) -> str:
        tokens = value.split(".")
        if any(not t or (">" in t and t != ">") or ("*" in t and t != "*") for t in tokens):
            raise ValueError(f"{value!r} is not a valid NATS subject filter")
        if ">" in tokens[:-1]:
            raise ValueError(f"{value!r}: '>' may only be the last token")
        return value


class ArchiverStorage(ConfigModel):
    path: str = Field(min_length=1)


class ArchiverRotation(ConfigModel):
    interval: Duration = "15m"

    @property
    def seconds(self) -> int:
        return parse_duration(self.interval)


class ArchiverConfig(ConfigModel):
    nats: ArchiverNats
    storage: ArchiverStorage
    rotation: ArchiverRotation = ArchiverRotation()
    feed: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    format: Literal["jsonl", "envelope"] = "jsonl"

    @model_validator(mode="after")
    def _feed_known(self) -> ArchiverConfig:
        if self.feed is None:
            tokens = self.nats.filter.split(".")
            if len(tokens) < 2 or tokens[1] in ("*", ">"):
                raise ValueError(
                    "cannot take the feed from nats.filter's second token; set feed: explicitly"
                )
        return self

    @property
    def feed_name(self) -> str:
        """Explicit ``feed``, else the filter's second token (``prod.kalshi.json.>`` -> ``kalshi``)."""
        return self.feed or self.nats.filter.split(".")[1]
