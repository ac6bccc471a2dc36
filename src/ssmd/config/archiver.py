"""The archiver's file: which stream to drain and where the ``.jsonl.gz`` files go."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ssmd import naming
from ssmd.config.base import ConfigModel, Duration
from ssmd.config.duration import parse_duration
from ssmd.config.urls import parse_servers


class ArchiverNats(ConfigModel):
    url: str
    """One NATS URL or a comma-separated list of them (a cluster's seed servers)."""
    stream: str = Field(min_length=1, pattern=r"^[^.*>\s]+$")
    consumer: str = Field(min_length=1, pattern=r"^[^.*>\s]+$")
    filter: str = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return ",".join(parse_servers(value))  # one URL, or a cluster's list

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


def check_rotation(value: str) -> str:
    """A rotation interval: a duration from 1s to 1d (a day is the longest window: one manifest per day)."""
    seconds = parse_duration(value)
    if not 1 <= seconds <= 86400:
        raise ValueError(f"rotation interval must be between 1s and 1d, got {value!r}")
    return value


class ArchiverRotation(ConfigModel):
    interval: Duration = "15m"

    @field_validator("interval")
    @classmethod
    def _within_a_day(cls, value: str) -> str:
        return check_rotation(value)

    @property
    def seconds(self) -> int:
        return parse_duration(self.interval)


class ArchiverBatch(ConfigModel):
    """How much the archiver may hold un-acknowledged: bounds memory and the work redone after a crash."""

    max_messages: int = Field(default=5000, ge=1, le=1_000_000)
    max_ack_pending: int = Field(default=20000, ge=1, le=10_000_000)
    ack_wait: Duration = "60s"

    @model_validator(mode="after")
    def _pending_covers_batch(self) -> ArchiverBatch:
        if self.max_ack_pending < self.max_messages:
            raise ValueError(
                f"max_ack_pending ({self.max_ack_pending}) must be >= max_messages ({self.max_messages})"
            )
        return self


class ArchiverCompression(ConfigModel):
    """gzip-compatible deflate: ``isal`` (ISA-L, levels 0-3, default) or ``zlib`` (levels 1-9)."""

    codec: Literal["isal", "zlib"] = "isal"
    level: int | None = None

    @model_validator(mode="after")
    def _level_in_range(self) -> ArchiverCompression:
        low, high = (0, 3) if self.codec == "isal" else (1, 9)
        if self.level is not None and not low <= self.level <= high:
            raise ValueError(f"level for codec {self.codec} must be {low}..{high}, got {self.level}")
        return self

    @property
    def effective_level(self) -> int:
        if self.level is not None:
            return self.level
        return 3 if self.codec == "isal" else 6


class ArchiverConfig(ConfigModel):
    nats: ArchiverNats
    storage: ArchiverStorage
    rotation: ArchiverRotation = ArchiverRotation()
    batch: ArchiverBatch = ArchiverBatch()
    compression: ArchiverCompression = ArchiverCompression()
    feed: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    format: Literal["jsonl", "envelope"] = "jsonl"

    @model_validator(mode="after")
    def _feed_known(self) -> ArchiverConfig:
        if self.feed is None and naming.feed_of(self.nats.filter) is None:
            raise ValueError("cannot take the feed from nats.filter's second token; set feed: explicitly")
        return self

    @property
    def feed_name(self) -> str:
        """Explicit ``feed``, else the filter's second token (``prod.kalshi.json.>`` -> ``kalshi``)."""
        return self.feed or naming.feed_of(self.nats.filter) or ""
