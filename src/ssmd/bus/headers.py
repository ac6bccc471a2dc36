"""NATS headers ssmd services put on frames for each other (besides the exchange's bytes, which stay untouched)."""

from __future__ import annotations

DROPPED_BEFORE = "Ssmd-Dropped-Before"
"""On the first frame the connector accepted after its publish buffer overflowed: how many frames it dropped just
before this one. The archiver records them as a gap in the day's manifest (cause ``connector_buffer_full``), so
the loss is in the archive where ``ssmd archive verify`` reports it, not only in a metric and a log line."""

CAUSE_CONNECTOR_BUFFER_FULL = "connector_buffer_full"

INSTANCE = "Ssmd-Instance"
"""On every message a connector publishes: the name of the instance that captured it (``SSMD_INSTANCE``, default
the hostname). Redundant connectors publish the same frames; this says whose copy a message is. Constant per
process, so it is encoded once (:class:`ssmd.bus.publish.Publisher`'s constant headers)."""
