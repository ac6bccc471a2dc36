"""The connector's Prometheus metrics, in a registry of its own (tests run several connectors per process)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ConnectorMetrics:
    """Everything ``/metrics`` shows. Labelled children are cached: the hot path does a dict lookup only."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter("ssmd_connector_frames_received", "Frames read from the exchange, by type",
                                ["type"], registry=r)
        self.published = Counter("ssmd_connector_frames_published", "Frames whose publish was acked, by type",
                                 ["type"], registry=r)
        self.latency = Histogram("ssmd_connector_publish_latency_seconds",
                                 "WebSocket receipt to JetStream publish ack", buckets=_LATENCY_BUCKETS, registry=r)
        self.unparsed = Counter("ssmd_connector_unparsed_frames", "Frames that are not JSON or have no type "
                                "(published raw to the unparsed subject)", registry=r)
        self.control = Counter("ssmd_connector_control_frames", "subscribed/ok/error/unsubscribed replies",
                               ["type"], registry=r)
        self.subscribe_errors = Counter("ssmd_connector_subscribe_errors", "error replies, by Kalshi code",
                                        ["code"], registry=r)
        self.resubscribes = Counter("ssmd_connector_resubscribes", "Subscriptions re-issued on a live connection "
                                    "(reason: seq_gap, or error_<code> for Kalshi's terminal errors)", ["reason"],
                                    registry=r)
        self.reconnects = Counter("ssmd_connector_reconnects", "WebSocket reconnects", registry=r)
        self.discovery_failures = Counter("ssmd_connector_discovery_failures",
                                          "Market discoveries that failed (retried with back-off)", registry=r)
        self.seq_gaps = Counter("ssmd_connector_seq_gaps", "Jumps in a sid's seq", ["channel"], registry=r)
        self.backfilled = Counter("ssmd_connector_backfilled_frames", "Frames fetched again over REST after an "
                                  "outage (trades) and published with a backfill:{trade_id} Nats-Msg-Id", ["channel"],
                                  registry=r)
        self.backfill_failures = Counter("ssmd_connector_backfill_failures",
                                         "Backfill fetches that failed (retried with back-off)", registry=r)
        self.backfills = Counter("ssmd_connector_backfills", "Backfills done, by channel and result: complete, or "
                                 "partial (stopped at its bound: the oldest part of the outage stays a gap)",
                                 ["channel", "result"], registry=r)
        self.retries = Counter("ssmd_connector_publish_retries", "Publishes re-sent with the same Nats-Msg-Id",
                               registry=r)
        self.duplicates = Counter("ssmd_connector_publish_duplicates",
                                  "Acks that JetStream marked duplicate (a retry of a stored frame)", registry=r)
        self.dropped = Counter("ssmd_connector_frames_dropped", "Frames lost because the buffer was full",
                               registry=r)
        self.buffered = Gauge("ssmd_connector_buffered_frames", "Frames received but not yet acked", registry=r)
        self.connected = Gauge("ssmd_connector_connected", "1 when every shard is connected and subscribed",
                               registry=r)
        self.shard_state = Gauge("ssmd_connector_shard_state",
                                 "Per shard: 0 down, 1 connecting, 2 subscribing, 3 live", ["shard"], registry=r)
        self.shard_markets = Gauge("ssmd_connector_shard_markets", "Markets subscribed per shard", ["shard"],
                                   registry=r)
        self.last_frame_age = Gauge("ssmd_connector_last_frame_age_seconds", "Seconds since the last frame",
                                    registry=r)
        self.last_frame_age.set_function(self._age)
        self.last_frame_at = 0.0
        self._received: dict[str, Callable[[], None]] = {}
        self._published: dict[str, Callable[[], None]] = {}

    def _age(self) -> float:
        return time.monotonic() - self.last_frame_at if self.last_frame_at else float("nan")

    def count_received(self, type_token: str) -> None:
        inc = self._received.get(type_token)
        if inc is None:
            inc = self._received[type_token] = self.received.labels(type_token).inc
        inc()

    def count_published(self, type_token: str) -> None:
        inc = self._published.get(type_token)
        if inc is None:
            inc = self._published[type_token] = self.published.labels(type_token).inc
        inc()
