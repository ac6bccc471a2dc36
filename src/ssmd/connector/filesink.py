"""``transport: file``: frames go straight into the archive layout, for users with no NATS at all.

Writes through the archive format's :class:`~ssmd.archive_format.writer.ArchiveWriter`, as the archiver does
(same format, rotation, manifest and durability): frames are batched every few milliseconds and each batch is
fsynced before the next one.
Sequence numbers continue from what is on disk, so a restarted connector appends, never overwrites.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from pathlib import Path

from ssmd.archive_format.members import Origin
from ssmd.archive_format.writer import ArchiveWriter, Record
from ssmd.bus.headers import FrameHeaders
from ssmd.config import parse_duration
from ssmd.connector.metrics import ConnectorMetrics
from ssmd.feed.registry import feed_or_default
from ssmd.runtime.backoff import Backoff
from ssmd.runtime.tasks import cancel_all

log = logging.getLogger(__name__)

_BATCH = 5000
_LINGER = 0.05
_RETRY = 1.0
_RETRY_MAX = 4.0


class FileSink:
    def __init__(self, path: str, feed: str, rotation: str, metrics: ConnectorMetrics, *,
                 instance: str | None = None, max_buffer: int = 300_000) -> None:
        self._writer = ArchiveWriter(Path(path), feed, parse_duration(rotation), rotation,
                                     facts=feed_or_default(feed).frame_facts)
        self._metrics = metrics
        self._instance = instance
        self._origins: dict[str | None, Origin] = {}
        self._max_buffer = max_buffer
        self._buffer: deque[tuple[Record, str, float]] = deque()
        self._seq = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._error: str | None = None
        self.dropped = 0
        self._writing = 0
        self._running = True

    async def start(self) -> None:
        self._seq = await self._writer.open()
        self._task = asyncio.create_task(self._loop(), name="file-sink")

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return [self._task] if self._task is not None else []

    async def stop(self) -> None:
        self._running = False  # Python 3.11's wait_for can swallow a cancel; the flag ends the loop anyway
        await cancel_all((self._task,))
        try:
            await self._writer.close()
        except OSError as exc:  # what is written stays in the .tmp file; the next start recovers it
            log.error("could not close the archive file at shutdown (the next start recovers it): %s", exc)

    @property
    def pending(self) -> int:
        return len(self._buffer) + self._writing

    def submit(self, subject: str, payload: bytes, headers: FrameHeaders, type_token: str, t0: float) -> None:
        if len(self._buffer) >= self._max_buffer:
            self.dropped += 1
            self._metrics.dropped.inc()
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.error("file sink buffer full: DROPPING frames (%d so far): %s", self.dropped, self._error)
            return
        self._seq += 1
        origin = self._origin(headers.conn)
        self._buffer.append((Record(payload, self._seq, subject, headers.received_ns, origin), type_token, t0))
        self._idle.clear()
        self._wake.set()

    def _origin(self, conn: str | None) -> Origin | None:
        """Each line's origin, as the archiver keeps it (instance, connection): one shared object per connection."""
        if self._instance is None and conn is None:
            return None
        origin = self._origins.get(conn)
        if origin is None:
            if len(self._origins) > 10_000:  # a new connection id per reconnect: bounded
                self._origins.clear()
            origin = self._origins[conn] = Origin(self._instance, conn)
        return origin

    async def drain(self, limit_s: float) -> int:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), limit_s)
        return self.pending

    def not_ready_reason(self) -> str | None:
        if self._error:
            return f"archive writes failing: {self._error}"
        if self.dropped:
            return f"file sink buffer overflowed: {self.dropped} frames dropped"
        return None

    async def _loop(self) -> None:
        retry = Backoff(_RETRY, _RETRY_MAX)
        while self._running:
            if not self._buffer:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                self._wake.clear()
                try:
                    await self._writer.rotate_if_due()
                except OSError as exc:  # closing a file writes the manifest: a full disk fails it
                    self._error = str(exc)
                    log.error("archive file rotation failed, retrying: %s", exc)
                    await retry.wait()
                continue
            await asyncio.sleep(_LINGER)
            batch = [self._buffer.popleft() for _ in range(min(_BATCH, len(self._buffer)))]
            self._writing = len(batch)
            try:
                await self._writer.write_batch([item[0] for item in batch])
            except OSError as exc:
                self._error = str(exc)
                log.error("archive write failed, retrying: %s", exc)
                self._buffer.extendleft(reversed(batch))
                self._writing = 0
                await retry.wait()
                continue
            retry.reset()
            self._writing = 0
            self._error = None
            now = time.monotonic()
            self._metrics.count_durable([token for _, token, _ in batch], [now - t0 for _, _, t0 in batch])
            self._metrics.buffered.set(len(self._buffer))
            if not self._buffer:
                self._idle.set()
