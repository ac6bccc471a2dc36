"""The archiver service: drain one JetStream consumer into rotated files, acknowledging only what is on disk.

Messages arrive through a core subscription on the consumer's deliver subject and are appended to an
in-memory batch (bounded by ``max_ack_pending``: the server sends no more than that unacknowledged). One task
writes whatever has accumulated while the previous write was in progress (group commit: no timer, so
throughput follows the disk), then acknowledges the whole batch with one AckAll on its last message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from prometheus_client import CollectorRegistry

from ssmd.archive_format.members import Origin
from ssmd.archive_format.writer import ArchiveWriter, Clock, Record
from ssmd.archiver.consumer import (
    ConsumerSettings,
    covers_whole_stream,
    existing_durable,
    recreate,
)
from ssmd.archiver.metrics import ArchiverMetrics
from ssmd.bus.acks import ACK_PREFIX, ack_fields
from ssmd.bus.connect import connect
from ssmd.bus.headers import CAUSE_CONNECTOR_BUFFER_FULL, CONNECTION, DROPPED_BEFORE, INSTANCE
from ssmd.bus.streams import StreamConflict, check_capture
from ssmd.config.archiver import ArchiverConfig
from ssmd.config.duration import parse_duration
from ssmd.kalshi import frames  # what the manifest records of a frame; TODO(seam): the feed's, by config
from ssmd.runtime.backoff import Backoff

log = logging.getLogger(__name__)

_RETRY_MIN_S = 0.2
_RETRY_MAX_S = 5.0
_BOUND_WAIT_S = 5.0


class Archiver:
    def __init__(
        self,
        config: ArchiverConfig,
        registry: CollectorRegistry | None = None,
        clock: Clock = time.time,
        idle_heartbeat_s: float = 5.0,
    ) -> None:
        self.config = config
        self.writer = ArchiveWriter(
            Path(config.storage.path), config.feed_name, config.rotation.seconds, config.rotation.interval,
            config.format, clock, config.compression.codec, config.compression.effective_level,
            facts=frames,
        )
        self.metrics = ArchiverMetrics(registry or CollectorRegistry())
        self.metrics.file_age.set_function(self.writer.current_file_age)
        self.settings = ConsumerSettings(
            stream=config.nats.stream, durable=config.nats.consumer, filter=config.nats.filter,
            max_ack_pending=config.batch.max_ack_pending, ack_wait_s=float(parse_duration(config.batch.ack_wait)),
            idle_heartbeat_s=idle_heartbeat_s,
        )
        self._max_batch = config.batch.max_messages
        self._records: list[Record] = []
        self._origins: dict[tuple[str | None, str | None], Origin] = {}
        self._replies: list[str] = []
        self._last_buffered = 0
        self._next_cseq = 1
        self._whole_stream = False
        self._gaps: list[tuple[int, int, bool, str | None]] = []
        self._data = asyncio.Event()
        self._resync: str | None = None
        self._activity = time.monotonic()
        self._pending = "0"
        self._files_counted = 0
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._sub: Subscription | None = None
        self.not_ready: str | None = "starting"
        self.started = asyncio.Event()

    # -- health ----------------------------------------------------------------------------------------

    def ready(self) -> str | None:
        if self.not_ready:
            return self.not_ready
        if self._nc is None or not self._nc.is_connected:
            return "not connected to NATS"
        return None

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "ready": self.ready() is None,
            "reason": self.ready(),
            "last_archived_seq": self.writer.last_seq,
            "buffered": len(self._records),
            "current_file_age_s": round(self.writer.current_file_age(), 3),
        }

    # -- lifecycle -------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then close the file, write the manifest, ack what was written.

        Raises ``NatsUnavailable`` or ``StreamConflict`` at start-up (the CLI exits 2 on those).
        """
        cfg = self.config.nats

        async def on_reconnect() -> None:
            log.warning("nats reconnected; re-creating the consumer from the archive's last sequence")
            self._request_resync("reconnected")

        async def on_disconnect() -> None:
            log.warning("nats disconnected")

        self._nc = await connect(cfg.url, "ssmd-archiver", reconnected_cb=on_reconnect,
                                 disconnected_cb=on_disconnect)
        self._js = self._nc.jetstream()
        waker = asyncio.create_task(self._wake_on(stop))
        try:
            await self._start()
            self.started.set()
            await self._loop(stop)
        finally:
            waker.cancel()
            await self._shutdown()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._data.set()

    async def _start(self) -> None:
        assert self._js is not None
        stream = await check_capture(self._js, self.settings.stream, self.settings.filter)
        self.settings = replace(self.settings, replicas=stream.config.num_replicas or 1)
        info = await self._durable_not_bound()
        last = await self.writer.open()
        floor = info.ack_floor.stream_seq if info is not None and info.ack_floor is not None else 0
        # The archive is the truth; the ack floor only when the archive is empty (a purge moves the floor
        # past messages that were never delivered, so it would hide the gap).
        start = last if last > 0 else (floor or 0)
        self._whole_stream = covers_whole_stream(stream, self.settings.filter)
        first = stream.state.first_seq
        if start > 0 and first > start + 1 and not self._whole_stream:
            self.metrics.possible_gaps.inc()
            self._gaps.append((start, first - start - 1, False, None))
            log.error("the stream discarded messages after the last archived one; the filter covers only part "
                      "of the stream, so how many of them it matched is unknown",
                      extra={"after_seq": start, "stream_first_seq": first, "filter": self.settings.filter})
        self.metrics.last_seq.set(last)
        log.info("archiver starting", extra={
            "stream": self.settings.stream, "consumer": self.settings.durable, "filter": self.settings.filter,
            "last_archived_seq": last, "ack_floor": floor, "whole_stream": self._whole_stream,
        })
        await self._subscribe(start)
        self.not_ready = None

    async def _durable_not_bound(self) -> ConsumerInfo | None:
        """A killed archiver's binding lingers until the server notices the closed socket: wait briefly."""
        assert self._js is not None
        deadline = time.monotonic() + _BOUND_WAIT_S
        while True:
            try:
                return await existing_durable(self._js, self.settings)
            except StreamConflict as exc:
                if "in use" not in str(exc) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def _subscribe(self, last: int) -> None:
        """Fresh deliver subject + consumer starting right after ``last``."""
        assert self._nc is not None and self._js is not None
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(
            inbox, cb=self._on_msg, pending_msgs_limit=self.settings.max_ack_pending + 10_000,
            pending_bytes_limit=512 * 1024 * 1024,
        )
        self._last_buffered = last
        self._next_cseq = 1
        self._resync = None
        self._activity = time.monotonic()
        await recreate(self._js, self.settings, inbox, last + 1)

    def _request_resync(self, reason: str) -> None:
        if self._resync is None:
            self._resync = reason
            self.metrics.resyncs.inc()
            log.warning("consumer delivery discontinuity; will re-create the consumer", extra={"reason": reason})
        self._data.set()

    # -- receiving (hot path) --------------------------------------------------------------------------

    async def _on_msg(self, msg: Msg) -> None:
        reply = msg.reply
        if not reply.startswith(ACK_PREFIX):
            await self._on_control(msg)
            return
        if self._resync is not None:
            return  # the re-created consumer delivers these again
        fields = ack_fields(reply)  # strings: the hot path converts only what it uses
        try:
            delivered, sseq_text, cseq_text, ts_text, pending = fields or ("",) * 5
            sseq, cseq, ts = int(sseq_text), int(cseq_text), int(ts_text)
        except ValueError:  # not an ack subject, or a field that is not a number
            self._request_resync(f"unreadable ack subject {reply!r}")
            return
        if sseq <= self._last_buffered:
            self.metrics.duplicates.inc()
            if not self._records:
                await self._ack(reply)
            return
        if cseq != self._next_cseq or delivered != "1":
            self._request_resync(f"expected consumer seq {self._next_cseq}, got {cseq} (delivery {delivered})")
            return
        self._next_cseq = cseq + 1
        if self._whole_stream and sseq != self._last_buffered + 1 and self._last_buffered > 0:
            self._on_gap(self._last_buffered, sseq - self._last_buffered - 1)
        self._last_buffered = sseq
        headers = msg.headers
        origin = None
        if headers:
            if DROPPED_BEFORE in headers:
                self._on_dropped_upstream(sseq, headers[DROPPED_BEFORE])
            origin = self._origin(headers.get(INSTANCE), headers.get(CONNECTION))
        records = self._records
        records.append(Record(msg.data, sseq, msg.subject, ts, origin))
        self._replies.append(reply)
        self._pending = pending
        if len(records) == 1 or len(records) >= self._max_batch:
            self._data.set()

    def _origin(self, instance: str | None, connection: str | None) -> Origin | None:
        """One shared :class:`Origin` per (instance, connection) seen: connections are few, messages many."""
        if instance is None and connection is None:
            return None
        key = (instance, connection)
        origin = self._origins.get(key)
        if origin is None:
            if len(self._origins) > 100_000:  # bounded: a connector makes a new connection id per reconnect
                self._origins.clear()
            origin = self._origins[key] = Origin(instance, connection)
        return origin

    async def _on_control(self, msg: Msg) -> None:
        assert self._nc is not None
        headers = msg.headers or {}
        desc = headers.get("Description", "")
        self._activity = time.monotonic()
        if desc.startswith("Flow") and msg.reply:
            await self._nc.publish(msg.reply, b"")
        elif desc.startswith("Idle"):
            stalled = headers.get("Nats-Consumer-Stalled")
            if stalled:
                await self._nc.publish(stalled, b"")
            last_consumer = headers.get("Nats-Last-Consumer")
            if last_consumer and last_consumer.isdigit() and int(last_consumer) >= self._next_cseq:
                self._request_resync(f"heartbeat says consumer seq {last_consumer} was sent")

    def _on_dropped_upstream(self, sseq: int, count: str) -> None:
        """The connector dropped frames just before this one (its buffer was full): a gap no sequence shows."""
        if not count.isdigit() or int(count) == 0:
            log.warning("ignoring an unreadable %s header", DROPPED_BEFORE, extra={"value": count[:40]})
            return
        missing = int(count)
        self._gaps.append((sseq - 1, missing, True, CAUSE_CONNECTOR_BUFFER_FULL))
        self.metrics.gaps.inc()
        self.metrics.missing.inc(missing)
        log.error("gap: the connector dropped frames before they reached the stream (its buffer was full)",
                  extra={"after_seq": sseq - 1, "missing_count": missing})

    def _on_gap(self, after_seq: int, missing: int) -> None:
        self._gaps.append((after_seq, missing, True, None))
        self.metrics.gaps.inc()
        self.metrics.missing.inc(missing)
        log.error("gap: the stream discarded messages before they were archived",
                  extra={"after_seq": after_seq, "missing_count": missing})

    # -- writing ---------------------------------------------------------------------------------------

    async def _loop(self, stop: asyncio.Event) -> None:
        retry = Backoff(_RETRY_MIN_S, _RETRY_MAX_S)
        while not stop.is_set():
            try:
                if self._gaps:
                    await self._save_gaps()
                if self._records:
                    await self._flush()
                elif self._resync is not None:
                    await self._subscribe(self.writer.last_seq)
                else:
                    await self._idle()
                    await self._rotate()
                retry.reset()
                if self.not_ready and self.not_ready != "starting":
                    log.info("archiver recovered", extra={"was": self.not_ready})
                    self.not_ready = None
            except OSError as exc:
                self.metrics.write_errors.inc()
                self._set_not_ready(f"cannot write the archive: {exc}")
                await retry.wait(stop)
            except Exception as exc:  # NATS trouble while re-creating the consumer: retry, never exit
                self._set_not_ready(f"consumer: {type(exc).__name__}: {exc}")
                self._resync = self._resync or "retry after error"
                await retry.wait(stop)
            finally:
                self._count_closed_files()

    def _set_not_ready(self, reason: str) -> None:
        if self.not_ready != reason:
            log.error("archiver not ready; retrying", extra={"reason": reason})
        self.not_ready = reason

    async def _idle(self) -> None:
        self._data.clear()
        until = self.writer.seconds_until_rotation()
        timeout = min(1.0, until if until is not None else 1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._data.wait(), timeout)
        silent = time.monotonic() - self._activity
        if silent > 3 * self.settings.idle_heartbeat_s and self._resync is None:
            self._request_resync(f"no message or heartbeat for {silent:.1f}s")

    async def _rotate(self) -> None:
        await self.writer.rotate_if_due()

    def _count_closed_files(self) -> None:
        """The one place ``files_total`` grows: by the files the writer closed since the last call, whichever
        operation closed them and whether or not it then failed (a close on a full disk still closed a file)."""
        closed = len(self.writer.closed_files)
        if closed > self._files_counted:
            self.metrics.files.inc(closed - self._files_counted)
            self._files_counted = closed

    async def _save_gaps(self) -> None:
        while self._gaps:
            after, missing, exact, cause = self._gaps[0]
            await self.writer.record_gap(after, missing, exact, cause)
            self._gaps.pop(0)

    async def _flush(self) -> None:
        """Write one batch durably, then acknowledge it with one AckAll."""
        n = min(len(self._records), self._max_batch)
        batch = self._records[:n]
        reply = self._replies[n - 1]
        before = (self.writer.bytes_written, self.writer.compressed_bytes_written)
        await self.writer.write_batch(batch)
        del self._records[:n]
        del self._replies[:n]
        await self._ack(reply)
        self._activity = time.monotonic()  # per batch, not per message: the hot path stays lean
        m = self.metrics
        m.messages.inc(n)
        m.batches.inc()
        m.bytes.inc(self.writer.bytes_written - before[0])
        m.compressed_bytes.inc(self.writer.compressed_bytes_written - before[1])
        m.last_seq.set(self.writer.last_seq)
        m.lag.set(int(self._pending))

    async def _ack(self, reply: str) -> None:
        assert self._nc is not None
        await self._nc.publish(reply, b"+ACK")
        self.metrics.last_ack.set(time.time())

    async def _shutdown(self) -> None:
        """Stop deliveries, write what is buffered, close the file, flush acks, disconnect."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        try:
            if self._gaps:
                await self._save_gaps()
            while self._records:
                await self._flush()
            await self.writer.close()
        except OSError as exc:
            log.error("could not write everything at shutdown; unacknowledged messages stay in the stream",
                      extra={"error": str(exc), "buffered": len(self._records)})
        finally:
            self._count_closed_files()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=2)
            with contextlib.suppress(Exception):
                await self._nc.close()
        log.info("archiver stopped", extra={"last_archived_seq": self.writer.last_seq})
