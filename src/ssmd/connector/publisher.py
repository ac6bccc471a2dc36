"""JetStream publishing that never blocks the WebSocket reader and never loses a frame silently.

The reader hands each frame to :meth:`JetStreamPublisher.submit` (synchronous, O(1)). A pump task pipelines
publishes with a reply inbox of our own (the pattern of nats-py's ``publish_async``, without a future and a
semaphore per frame), at most ``max_in_flight`` unacked at once. Every frame carries a ``Nats-Msg-Id`` fixed
at receipt, and ``Nats-Expected-Stream``: a subject no stream captures fails loudly instead of vanishing.

When an ack times out or comes back as an error (NATS restarting, JetStream not ready), *every* unacked frame
goes back to the front of the buffer in receive order and is re-sent after a short back-off. Frames that were
in fact stored come back from JetStream as duplicates (same msg-id, inside the stream's duplicate window), so
the stream holds each frame exactly once and in order. While NATS is away frames wait in the bounded buffer;
when it is full the newest frame is dropped, counted, logged and reported by ``/ready``, and the next frame
accepted carries the number dropped (``Ssmd-Dropped-Before``) so that the archive records the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

from ssmd.bus.headers import DROPPED_BEFORE
from ssmd.connector.metrics import ConnectorMetrics
from ssmd.runtime.tasks import cancel_all

log = logging.getLogger(__name__)

EXPECTED_STREAM = "Nats-Expected-Stream"
_BACKOFF_MIN = 0.1
_BACKOFF_MAX = 2.0
_TICK = 0.2
_DROP_LOG_EVERY = 5.0
_DROP_UNREADY_FOR = 60.0


class _Pending:
    __slots__ = ("headers", "n", "payload", "sent_at", "subject", "t0", "type_token")

    def __init__(self, n: int, subject: str, payload: bytes, headers: dict[str, str], type_token: str,
                 t0: float) -> None:
        self.n = n
        self.subject = subject
        self.payload = payload
        self.headers = headers
        self.type_token = type_token
        self.t0 = t0
        self.sent_at = 0.0


AckHook = Callable[[float], None]
"""Called with the receipt-to-ack latency in seconds of every acked frame (benchmarks use it)."""


class JetStreamPublisher:
    def __init__(
        self,
        nc: Client,
        stream: str,
        metrics: ConnectorMetrics,
        *,
        max_buffer: int = 300_000,
        max_in_flight: int = 4000,
        publish_timeout: float = 5.0,
        on_ack: AckHook | None = None,
    ) -> None:
        self._nc = nc
        self._stream = stream
        self._metrics = metrics
        self._max_buffer = max_buffer
        self._max_in_flight = max_in_flight
        self._timeout = publish_timeout
        self._on_ack_hook = on_ack
        self._buffer: deque[_Pending] = deque()
        self._inflight: dict[str, _Pending] = {}
        self._numbers = itertools.count()
        self._tokens = itertools.count()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._resume_at = 0.0
        self._backoff = _BACKOFF_MIN
        self._last_error: str | None = None
        self._last_ack = 0.0
        self._inbox = ""
        self._epoch = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0
        self._last_drop = 0.0
        self._last_drop_log = 0.0
        self._drops_since_log = 0
        self._unreported_drops = 0
        self.acked = 0

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        self._epoch = self._nc.stats["reconnects"]
        await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
        self._tasks = [asyncio.create_task(self._pump(), name="publisher-pump"),
                       asyncio.create_task(self._watchdog(), name="publisher-watchdog")]

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks = []

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return self._tasks

    @property
    def pending(self) -> int:
        """Frames received but not yet acked (buffered or in flight)."""
        return len(self._buffer) + len(self._inflight)

    def submit(self, subject: str, payload: bytes, headers: dict[str, str], type_token: str, t0: float) -> None:
        """Queue one frame; never blocks. ``headers`` must already hold its ``Nats-Msg-Id``."""
        if len(self._buffer) + len(self._inflight) >= self._max_buffer:
            self._drop()
            return
        headers[EXPECTED_STREAM] = self._stream
        if self._unreported_drops:
            headers[DROPPED_BEFORE] = str(self._unreported_drops)  # the archiver records the gap in the manifest
            self._unreported_drops = 0
        self._buffer.append(_Pending(next(self._numbers), subject, payload, headers, type_token, t0))
        self._idle.clear()
        self._wake.set()

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
                      extra={"dropped_total": self.dropped, "last_error": self._last_error})
            self._last_drop_log = now
            self._drops_since_log = 0

    async def drain(self, limit_s: float) -> int:
        """Wait until every queued frame is acked (at most ``limit_s`` s); return how many are still unacked."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), limit_s)
        return self.pending

    def not_ready_reason(self) -> str | None:
        if not self._nc.is_connected:
            return "NATS is not connected"
        if self.pending and self._nc.stats["reconnects"] != self._epoch:
            return f"NATS reconnected; re-sending {self.pending} buffered frames"
        now = time.monotonic()
        if self._inflight:
            oldest = next(iter(self._inflight.values()))
            if now - max(self._last_ack, oldest.sent_at) > self._timeout:
                return f"publish acks are not flowing ({self._last_error or 'ack timeout'})"
        if self._last_error is not None and self.pending:
            # Set by the last retry and cleared only by the next ack: between re-sends (while a quorum of a cluster
            # is down, say) nothing else says so, and /ready would flap to 200 with every frame unacked.
            return (f"publishes not acked, retrying with the same Nats-Msg-Id: {self._last_error}; "
                    f"{self.pending} frames buffered")
        if self._last_drop and now - self._last_drop < _DROP_UNREADY_FOR:
            return f"publish buffer overflowed: {self.dropped} frames dropped"
        return None

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._send_available()

    async def _send_available(self) -> None:
        nc = self._nc
        inbox = self._inbox
        epoch = nc.stats["reconnects"]
        if epoch != self._epoch and nc.is_connected:
            # Frames sent on the previous connection may have no ack coming: re-send them before anything newer,
            # or newer frames would be stored first (JetStream dedups the ones that did arrive).
            self._epoch = epoch
            if self._inflight:
                self._retry_all("NATS reconnected; re-sending unacked frames", pause=False)
            elif self._buffer:
                self._last_error = "NATS reconnected; no ack yet"  # a server without a quorum acks nothing
        while self._buffer and len(self._inflight) < self._max_in_flight:
            if not nc.is_connected or time.monotonic() < self._resume_at:
                return  # the watchdog wakes the pump again
            p = self._buffer.popleft()
            token = str(next(self._tokens))
            p.sent_at = time.monotonic()
            self._inflight[token] = p
            try:
                await nc.publish(p.subject, p.payload, reply=f"{inbox}.{token}", headers=p.headers)
            except Exception as exc:
                self._retry_all(f"publish failed: {exc!r}")
                return

    async def _on_ack(self, msg: Msg) -> None:
        token = msg.subject[len(self._inbox) + 1:]
        p = self._inflight.pop(token, None)
        if p is None:
            return  # an ack for a frame already queued for retry: the retry's ack will count it
        data = msg.data
        status = msg.headers.get("Status") if msg.headers else None
        if status is not None or not data or b'"error"' in data:
            reason = f"no stream answered (status {status})" if status else _error_text(data)
            self._inflight[token] = p  # keep it in the retry set, in its place
            self._retry_all(reason)
            return
        self.acked += 1
        if b'"duplicate"' in data:  # present only when true (Go omitempty)
            self._metrics.duplicates.inc()
        now = time.perf_counter()
        self._metrics.count_published(p.type_token)
        self._metrics.latency.observe(now - p.t0)
        if self._on_ack_hook is not None:
            self._on_ack_hook(now - p.t0)
        self._last_ack = time.monotonic()
        if self._last_error is not None:
            log.info("publish acks flowing again", extra={"pending": self.pending})
            self._last_error = None
        self._backoff = _BACKOFF_MIN
        if not self._inflight:
            if self._buffer:
                self._wake.set()
            else:
                self._idle.set()
        elif self._buffer and len(self._inflight) < self._max_in_flight:
            self._wake.set()

    def _retry_all(self, reason: str, pause: bool = True) -> None:
        """Put every unacked frame back at the front, in receive order, and pause before re-sending."""
        again = sorted(self._inflight.values(), key=lambda p: p.n)
        self._inflight.clear()
        self._buffer.extendleft(reversed(again))
        self._metrics.retries.inc(len(again))
        if reason != self._last_error:
            log.warning("JetStream publish not acked, retrying %d frames with the same Nats-Msg-Id: %s",
                        len(again), reason, extra={"buffered": len(self._buffer)})
        self._last_error = reason  # not ready until the next ack, paused or not
        if not pause:
            return
        self._resume_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, _BACKOFF_MAX)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(_TICK)
            self._metrics.buffered.set(self.pending)
            now = time.monotonic()
            if self._inflight:
                oldest = next(iter(self._inflight.values()))
                waited = now - oldest.sent_at
                # Acks still arriving means a busy server, not a lost one: re-sending everything then would only
                # add load. Retry when no ack came for a whole timeout, or this frame's ack looks truly lost.
                stalled = now - max(self._last_ack, oldest.sent_at) > self._timeout
                if waited > self._timeout and (stalled or waited > 3 * self._timeout):
                    self._retry_all(f"no ack within {waited:.1f}s")
            if self._buffer and now >= self._resume_at and self._nc.is_connected:
                self._wake.set()


def _error_text(data: bytes) -> str:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return f"unexpected ack {data[:200]!r}"
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return f"JetStream error {err.get('err_code') or err.get('code')}: {err.get('description')}"
    return f"unexpected ack {data[:200]!r}"
