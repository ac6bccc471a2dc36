"""Environment files: where one deployment of a feed publishes and stores its data."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator

from ssmd import naming
from ssmd.config.base import ConfigModel
from ssmd.config.capture import CaptureConfig
from ssmd.config.urls import parse_servers


class TransportConfig(ConfigModel):
    transport_type: Literal["nats", "file", "memory"] = Field(
        validation_alias=AliasChoices("transport_type", "type"), alias="transport_type"
    )
    url: str | None = Field(default=None, validate_default=True)
    """One NATS URL or a comma-separated list of them (a cluster's seed servers)."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A field validator (not a model one) so that the error is reported at transport.url.
        if info.data.get("transport_type") != "nats":
            return value
        if not (value and value.strip()):
            raise ValueError("transport_type nats needs a url (nats://host:4222)")
        return ",".join(parse_servers(value))  # one URL, or a cluster's list


class StorageConfig(ConfigModel):
    storage_type: Literal["local", "gcs", "s3"] = Field(
        validation_alias=AliasChoices("storage_type", "type"), alias="storage_type"
    )
    path: str | None = None
    bucket: str | None = None
    region: str | None = None
    prefix: str | None = None

    @model_validator(mode="after")
    def _check_bucket(self) -> StorageConfig:
        if self.storage_type in ("gcs", "s3") and not self.bucket:
            raise ValueError(f"storage_type {self.storage_type} needs a bucket")
        return self


class KeySpec(ConfigModel):
    type: Literal["api_key", "transport", "storage", "tls", "webhook"]
    fields: tuple[str, ...] = Field(min_length=1)
    source: str
    description: str | None = None
    required: bool = True
    rotation_days: int | None = Field(default=None, ge=1)

    @field_validator("source")
    @classmethod
    def _check_source(cls, value: str) -> str:
        if value.startswith("env:"):
            names = [n.strip() for n in value[4:].split(",")]
            if not all(names):
                raise ValueError("env: source needs comma-separated variable names (env:A,B)")
        elif value.startswith("sealed-secret:"):
            if "/" not in value[len("sealed-secret:") :]:
                raise ValueError("sealed-secret: source needs namespace/name")
        elif value.startswith("vault:"):
            if not value[6:]:
                raise ValueError("vault: source needs a path")
        else:
            raise ValueError("source must start with env:, sealed-secret: or vault:")
        return value

    def env_vars(self) -> tuple[str, ...]:
        if not self.source.startswith("env:"):
            return ()
        return tuple(n.strip() for n in self.source[4:].split(","))


class ScheduleConfig(ConfigModel):
    timezone: str = "UTC"
    day_start: str | None = None
    day_end: str | None = None
    auto_roll: bool = True


class EnvironmentConfig(ConfigModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    feed: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    schema_: str | None = Field(default=None, alias="schema", pattern=r"^[^:\s]+:[^:\s]+$")
    transport: TransportConfig
    storage: StorageConfig
    keys: dict[str, KeySpec] | None = None
    schedule: ScheduleConfig | None = None
    capture: CaptureConfig = Field(default=CaptureConfig(), validate_default=True)

    @field_validator("capture")
    @classmethod
    def _for_feed(cls, value: CaptureConfig, info: ValidationInfo) -> CaptureConfig:
        """The feed's channel defaults and rules, when ``feed`` names a registered feed (another name: the
        connector refuses it; other services need no channels)."""
        from ssmd.feed.registry import get_feed, is_feed

        name = info.data.get("feed")
        if not isinstance(name, str) or not is_feed(name):
            return value
        try:
            feed = get_feed(name)
        except KeyError:  # registered, but its package is not installed here
            return value
        return value.for_feed(feed)

    @property
    def subject_prefix(self) -> str:
        """Every subject this environment publishes starts with this (``prod.kalshi``)."""
        return naming.prefix(self.name, self.feed)

    @property
    def stream_name(self) -> str:
        """The JetStream stream of the deployment guide: ``PROD_KALSHI``."""
        return naming.stream_name(self.name, self.feed)
