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

CONNECTION = "Ssmd-Conn"
"""On every frame a connector publishes: the id of the WebSocket connection that received it (``sid``/``seq`` are
per connection). With :data:`INSTANCE` it is the frame's origin, which the archive keeps per line
(docs/archive-format.md, subfield ``SO``) so that a reader can follow one connection's order-book chain."""
