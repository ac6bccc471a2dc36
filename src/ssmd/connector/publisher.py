"""The connector's sink on JetStream: never blocks the WebSocket reader and never loses a frame silently.

The reader hands each frame to :meth:`JetStreamPublisher.submit` (synchronous, O(1)); the pipelining, the acks and
the retries with the same ``Nats-Msg-Id`` are :class:`ssmd.bus.publish.Publisher`'s (see there). This module adds
what only the connector needs: the frame's headers on the wire (``Nats-Expected-Stream`` and ``Ssmd-Instance``
encoded once per process, the rest per frame), the connector's metrics, readiness, and the bounded buffer. While
NATS is away frames wait in that buffer; when it is full the newest frame is dropped, counted, logged and reported
by ``/ready``, and the next frame accepted carries the number dropped (``Ssmd-Dropped-Before``) so that the
archive records the gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from nats.aio.client import Client

from ssmd.bus.headers import DROPPED_BEFORE, INSTANCE, FrameHeaders, encode_headers
from ssmd.bus.publish import Outgoing, Publisher, TooLarge
from ssmd.connector.metrics import ConnectorMetrics

log = logging.getLogger(__name__)

_DROP_LOG_EVERY = 5.0
_DROP_UNREADY_FOR = 60.0

AckHook = Callable[[list[float]], None]
"""Called with the receipt-to-ack latencies in seconds of each run of acked frames (benchmarks use it)."""


class JetStreamPublisher:
    def __init__(
        self,
        nc: Client,
        stream: str,
        metrics: ConnectorMetrics,
        *,
        instance: str | None = None,
        max_buffer: int = 300_000,
        max_in_flight: int = 4000,
        publish_timeout: float = 5.0,
        on_ack: AckHook | None = None,
    ) -> None:
        self._nc = nc
        self._metrics = metrics
        self._max_buffer = max_buffer
        self._timeout = publish_timeout
        self._on_ack_hook = on_ack
        self._pub = Publisher(nc, stream, headers={INSTANCE: instance} if instance else None,
                              max_in_flight=max_in_flight, ack_timeout=publish_timeout, on_acked=self._acked,
                              on_retry=self._retried, name="connector-publisher")
        self._duplicates = metrics.duplicates.inc
        metrics.buffered.set_function(lambda: self.pending)
        self.dropped = 0
        self._last_drop = 0.0
        self._last_drop_log = 0.0
        self._drops_since_log = 0
        self._unreported_drops = 0

    async def start(self) -> None:
        await self._pub.start()

    async def stop(self) -> None:
        await self._pub.stop()

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return self._pub.tasks

    @property
    def pending(self) -> int:
        """Frames received but not yet acked (buffered or in flight)."""
        return self._pub.pending

    @property
    def acked(self) -> int:
        return self._pub.acked

    def submit(self, subject: str, payload: bytes, headers: FrameHeaders, type_token: str, t0: float) -> None:
        """Queue one frame; never blocks."""
        pub = self._pub
        if pub.pending >= self._max_buffer:
            self._drop()
            return
        encoded = headers.encode()
        dropped = self._unreported_drops
        if dropped:  # the archiver records the gap in the manifest
            encoded += encode_headers({DROPPED_BEFORE: str(dropped)})
        try:
            pub.submit_frame(subject, payload, encoded, type_token, t0)
        except TooLarge as exc:  # NATS cannot carry it: a counted, logged drop the archive records, not a stall
            log.error("frame dropped: %s", exc, extra={"type": type_token})
            self._drop()
            return
        if dropped:
            self._unreported_drops = 0

    def _acked(self, items: list[Outgoing]) -> None:
        now = time.monotonic()
        latencies = [now - item.t0 for item in items]
        self._metrics.count_durable([item.tag for item in items], latencies)
        duplicates = sum(item.duplicate for item in items)
        if duplicates:
            self._duplicates(duplicates)
        if self._on_ack_hook is not None:
            self._on_ack_hook(latencies)

    def _retried(self, count: int, reason: str) -> None:
        self._metrics.retries.inc(count)

    def _drop(self) -> None:
        self.dropped += 1
        self._unreported_drops += 1
        self._drops_since_log += 1
        self._metrics.dropped.inc()
        now = time.monotonic()
        self._last_drop = now
        if now - self._last_drop_log >= _DROP_LOG_EVERY:
            log.error("publish buffer full (%d frames): DROPPING frames; %d dropped since last report, %d in total",
                      self._max_buffer, self._drops_since_log, self.dropped,
                      extra={"dropped_total": self.dropped, "last_error": self._pub.last_error})
            self._last_drop_log = now
            self._drops_since_log = 0

    async def drain(self, limit_s: float) -> int:
        """Wait until every queued frame is acked (at most ``limit_s`` s); return how many are still unacked."""
        return await self._pub.wait_idle(limit_s)

    def not_ready_reason(self) -> str | None:
        pub = self._pub
        if not self._nc.is_connected:
            return "NATS is not connected"
        if pub.reconnected:  # even with nothing buffered: the new server may have no quorum behind it
            return f"NATS reconnected; nothing acked since ({pub.pending} frames buffered)"
        if pub.stalled_for() > self._timeout:
            return f"publish acks are not flowing ({pub.last_error or 'ack timeout'})"
        if pub.last_error is not None and pub.pending:
            # Set by a retry or a reconnect and cleared once all that was buffered then is acked: between re-sends
            # (while a quorum of a cluster is down, say) nothing else says so, and /ready would flap to 200.
            return (f"publishes not acked since: {pub.last_error}; {pub.pending} frames buffered, re-sent with the "
                    "same Nats-Msg-Id")
        if self._last_drop and time.monotonic() - self._last_drop < _DROP_UNREADY_FOR:
            return f"publish buffer overflowed: {self.dropped} frames dropped"
        return None
