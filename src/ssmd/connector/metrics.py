"""The connector's Prometheus metrics, in a registry of its own (tests run several connectors per process)."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ConnectorMetrics:
    """Everything ``/metrics`` shows. Labelled children are cached: the hot path does a dict lookup only."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counts("ssmd_connector_frames_received", "Frames read from the exchange, by type", "type", r)
        self.published = Counts("ssmd_connector_frames_published", "Frames whose publish was acked, by type", "type",
                                r)
        self.latency = FastHistogram("ssmd_connector_publish_latency_seconds",
                                     "WebSocket receipt to JetStream publish ack", _LATENCY_BUCKETS, r)
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
        self.count_received = self.received.add_one

    def count_durable(self, tokens: list[str], latencies: list[float]) -> None:
        """A run of frames made durable (acked by JetStream, or written by the file sink): counted as published by
        type token, and each one's receipt-to-durable latency observed."""
        self.published.add_each(tokens)
        self.latency.observe_each(latencies)

    def _age(self) -> float:
        return time.monotonic() - self.last_frame_at if self.last_frame_at else float("nan")


class Counts:
    """A labelled counter for per-frame hot paths: plain ints in a dict, exported as a Prometheus counter.

    prometheus_client's ``Counter.inc`` takes a lock and checks its arguments on every call, several times what a
    dict update costs; the connector counts twice per frame. Single-threaded (the event loop) by design.
    """

    def __init__(self, name: str, doc: str, label: str, registry: CollectorRegistry) -> None:
        self._name, self._doc, self._label = name, doc, label
        self.values: dict[str, int] = {}
        registry.register(self)

    def add_one(self, value: str) -> None:
        values = self.values
        values[value] = values.get(value, 0) + 1

    def add_each(self, values: Iterable[str]) -> None:
        """``add_one`` for each of ``values``, in one call (a run of frames made durable)."""
        counts = self.values
        for value in values:
            counts[value] = counts.get(value, 0) + 1

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._doc, labels=[self._label])
        for value, count in list(self.values.items()):
            family.add_metric([value], count)
        yield family


class FastHistogram:
    """A histogram for per-frame hot paths (same exposition as prometheus_client's): a bisect and two adds."""

    def __init__(self, name: str, doc: str, buckets: tuple[float, ...], registry: CollectorRegistry) -> None:
        self._name, self._doc = name, doc
        self._bounds = tuple(sorted(buckets))
        self._counts = [0] * (len(self._bounds) + 1)
        self._sum = 0.0
        registry.register(self)

    def observe(self, value: float) -> None:
        self._counts[bisect_left(self._bounds, value)] += 1  # le is inclusive, as Prometheus's buckets are
        self._sum += value

    def observe_each(self, values: list[float]) -> None:
        """``observe`` for each of ``values``, in one call (a run of frames made durable)."""
        counts, bounds = self._counts, self._bounds
        for value in values:
            counts[bisect_left(bounds, value)] += 1
        self._sum += sum(values)

    def collect(self) -> Iterator[Metric]:
        cumulative, buckets = 0, []
        for bound, count in zip((*self._bounds, float("inf")), self._counts, strict=True):
            cumulative += count
            buckets.append((_le(bound), cumulative))
        yield HistogramMetricFamily(self._name, self._doc, buckets=buckets, sum_value=self._sum)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))
