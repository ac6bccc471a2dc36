"""The archiver's Prometheus metrics, in a registry of its own (one per service instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ArchiverMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        p = "ssmd_archiver_"
        self.messages = Counter(f"{p}messages", "Messages written durably to archive files", registry=registry)
        self.bytes = Counter(f"{p}bytes", "Uncompressed bytes written (lines incl. newline)", registry=registry)
        self.compressed_bytes = Counter(f"{p}compressed_bytes", "Compressed bytes written", registry=registry)
        self.files = Counter(f"{p}files", "Archive files closed", registry=registry)
        self.batches = Counter(f"{p}batches", "Batches written and acknowledged", registry=registry)
        self.file_age = Gauge(f"{p}current_file_age_seconds", "Age of the file being written", registry=registry)
        self.lag = Gauge(f"{p}consumer_lag", "Messages in the stream not yet delivered to the archiver",
                         registry=registry)
        self.gaps = Counter(f"{p}gaps", "Gaps recorded: stream messages discarded before they were archived",
                            registry=registry)
        self.missing = Counter(f"{p}missing_messages", "Messages in recorded gaps", registry=registry)
        self.possible_gaps = Counter(
            f"{p}possible_gaps",
            "Stream discards seen with a filter that covers only part of the stream (count unknown)",
            registry=registry,
        )
        self.write_errors = Counter(f"{p}write_errors", "Failed writes (nothing acknowledged)", registry=registry)
        self.duplicates = Counter(f"{p}duplicates_skipped", "Redelivered messages already archived",
                                  registry=registry)
        self.resyncs = Counter(f"{p}consumer_resyncs", "Consumer re-creations after a delivery discontinuity",
                               registry=registry)
        self.last_ack = Gauge(f"{p}last_ack_timestamp_seconds", "Unix time of the last acknowledgement",
                              registry=registry)
        self.uncovered = Counter(
            "ssmd_coverage_uncovered_seconds",
            "Seconds in which no connector instance was subscribed to the channel (the coverage ledger's gaps, "
            "from every instance's coverage events; docs/coverage.md)",
            ["feed", "channel"], registry=registry)
        self.last_seq = Gauge(f"{p}last_archived_seq", "Stream sequence of the last archived message",
                              registry=registry)
