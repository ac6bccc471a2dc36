"""Typed, immutable configuration: feed, environment and archiver files (see ``DEPLOYMENT.md``)."""

from ssmd.config.archiver import ArchiverConfig
from ssmd.config.capture import CaptureConfig
from ssmd.config.duration import format_duration, parse_duration
from ssmd.config.environment import EnvironmentConfig, StorageConfig, TransportConfig
from ssmd.config.feed import FeedConfig, FeedVersion
from ssmd.config.load import (
    ConfigError,
    Problem,
    load_archiver,
    load_environment,
    load_feed,
)

__all__ = [
    "ArchiverConfig",
    "CaptureConfig",
    "ConfigError",
    "EnvironmentConfig",
    "FeedConfig",
    "FeedVersion",
    "Problem",
    "StorageConfig",
    "TransportConfig",
    "format_duration",
    "load_archiver",
    "load_environment",
    "load_feed",
    "parse_duration",
]
