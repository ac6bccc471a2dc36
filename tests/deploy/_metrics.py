"""The metric names dashboards, alerts and docs may use: ssmd's own (from the services' real registries) and the
NATS exporter's (a documented list), so a renamed or invented metric fails a test instead of an empty panel."""

from __future__ import annotations

import functools
import re

from prometheus_client import CollectorRegistry

_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
             "summary": ("_sum", "_count", "_created"), "gauge": ("",), "info": ("_info",)}


@functools.cache
def ssmd_metric_names() -> frozenset[str]:
    """Every series name the connector, archiver and agent can expose (built from their registries, so labelled
    metrics without children yet are included)."""
    from ssmd.agent._metrics import AgentMetrics
    from ssmd.archiver.metrics import ArchiverMetrics
    from ssmd.connector.metrics import ConnectorMetrics

    registries = [ConnectorMetrics().registry, ArchiverMetrics(CollectorRegistry()).registry, AgentMetrics().registry]
    names: set[str] = set()
    for registry in registries:
        for family in registry.collect():
            names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return frozenset(names)


# Metrics that dashboards, alerts and docs may already name before their exporter registers them, each with who
# exports it. ssmd_coverage_uncovered_seconds_total{feed,channel}: the archiver, from the coverage ledger it keeps
# over every instance's coverage events (ssmd.coverage.uncovered_seconds; issue #14). Once the archiver's registry
# has it, the name is found there too and this entry is merely redundant.
ANNOUNCED_METRICS = frozenset({"ssmd_coverage_uncovered_seconds_total"})


# prometheus-nats-exporter's JetStream metrics as the NATS chart runs it (`-prefix=nats -jsz=all`): names from
# collector/jsz.go of nats-io/prometheus-nats-exporter (commit 2fdbfd7), system "jetstream" replaced by the prefix.
NATS_EXPORTER_METRICS = {
    f"nats_{name}" for name in (
        "server_jetstream_disabled", "server_total_streams", "server_total_consumers", "server_total_messages",
        "server_total_message_bytes", "server_max_memory", "server_max_storage",
        "account_max_memory", "account_max_storage", "account_storage_used", "account_memory_used",
        "stream_total_messages", "stream_limit_messages", "stream_total_bytes", "stream_limit_bytes",
        "stream_first_seq", "stream_last_seq", "stream_consumer_count", "stream_subject_count",
        "consumer_delivered_consumer_seq", "consumer_delivered_stream_seq", "consumer_last_delivery_seconds",
        "consumer_last_ack_seconds", "consumer_num_ack_pending", "consumer_num_redelivered", "consumer_num_waiting",
        "consumer_num_pending", "consumer_ack_floor_stream_seq", "consumer_ack_floor_consumer_seq",
    )
}

_METRIC = re.compile(r"\b((?:ssmd|nats)_[a-z0-9_]*[a-z0-9])\b")


def unknown_metrics(expr: str, extra: frozenset[str] = frozenset()) -> set[str]:
    """The ssmd_*/nats_* names in a PromQL expression that no service or the NATS exporter exposes."""
    known = ssmd_metric_names() | ANNOUNCED_METRICS | NATS_EXPORTER_METRICS | extra
    return {name for name in _METRIC.findall(expr) if name not in known}


def referenced_metrics(expr: str) -> set[str]:
    return set(_METRIC.findall(expr))
