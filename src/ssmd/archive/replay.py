"""``ssmd archive replay``: republish archived frames to JetStream, on the live subject mapping, with acks.

Frames are read in a worker thread (gzip and file I/O stay off the event loop) and published with
:class:`ssmd.bus.publish.Publisher` (at most ~4,000 in flight): a frame counts as replayed only when the stream
acknowledged it, and a rejection is reported with the server's reason. Each frame carries a ``Nats-Msg-Id`` unique
to this run, so a publish whose ack timed out is re-sent (up to ``ATTEMPTS`` times) and still stored once.
``speed`` paces by the frames' exchange time (1 = original pace); frames without a time go out immediately.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import secrets
import time
from collections.abc import Iterable, Iterator
from typing import Any

from nats.aio.client import Client

from ssmd.archive._progress import Progress
from ssmd.archive.reader import ArchiveFrame
from ssmd.bus.connect import connect
from ssmd.bus.publish import Outgoing, Publisher, TooLarge, msg_id_header
from ssmd.bus.streams import StreamConflict, StreamSpec, check_capture, ensure_stream
from ssmd.bus.subjects import subject_for
from ssmd.config import EnvironmentConfig
from ssmd.naming import capture_filter, stream_for_prefix, unparsed_subject

log = logging.getLogger(__name__)

BATCH = 2000
MAX_IN_FLIGHT = 4000
ACK_TIMEOUT_S = 10.0
ATTEMPTS = 3


class ReplayError(Exception):
    """The target stream cannot take the replay (it captures other subjects)."""


def parse_speed(text: str) -> float | None:
    """``max`` -> ``None`` (no pacing); a positive number -> that multiple of real time."""
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--speed {text!r}: expected 1, 10 (any positive number) or max") from None
    if value <= 0:
        raise ValueError(f"--speed {text!r}: must be positive")
    return value


def stream_for(env: EnvironmentConfig, prefix: str | None, stream: str | None) -> tuple[str, str]:
    """``(subject prefix, stream name)``: the environment's own, or a stream named after a replay prefix."""
    if prefix is None:
        return env.subject_prefix, stream or env.stream_name
    return prefix, stream or stream_for_prefix(prefix)


async def run_replay(
    frames: Iterable[ArchiveFrame],
    env: EnvironmentConfig,
    speed: float | None = None,
    subject_prefix: str | None = None,
    stream: str | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    prefix, stream_name = stream_for(env, subject_prefix, stream)
    assert env.transport.url is not None
    nc = await connect(env.transport.url, "ssmd-archive-replay")
    try:
        await _ensure(nc.jetstream(), stream_name, prefix)
        return await _publish(nc, iter(frames), prefix, stream_name, speed, show_progress)
    finally:
        await nc.drain()


async def _ensure(js: Any, stream: str, prefix: str) -> None:
    try:
        await check_capture(js, stream, capture_filter(prefix))
    except StreamConflict as exc:
        if "does not exist" not in str(exc):
            raise ReplayError(f"{exc}: choose another --stream or --subject-prefix") from None
        info, action = await ensure_stream(js, StreamSpec.for_prefix(stream, prefix))
        log.info("stream %s %s for %s", info.config.name, action, capture_filter(prefix))


async def _publish(nc: Client, frames: Iterator[ArchiveFrame], prefix: str, stream: str, speed: float | None,
                   show_progress: bool) -> dict[str, Any]:
    progress = Progress("replay", unit="frames") if show_progress else None
    by_type: collections.Counter[str] = collections.Counter()
    errors: list[str] = []
    run = secrets.token_hex(6)

    def failed(item: Outgoing | None, reason: str) -> None:  # a missing ack or a rejection is a failure, never silent
        if not errors:
            errors.append(reason)

    publisher = Publisher(nc, stream, max_in_flight=MAX_IN_FLIGHT, ack_timeout=ACK_TIMEOUT_S, retry_rejected=False,
                          max_attempts=ATTEMPTS, on_failed=failed, name="replay")
    await publisher.start()
    try:
        t0: int | None = None
        w0 = started = time.monotonic()
        unparsed = unparsed_subject(prefix)
        n = too_large = 0
        while batch := await asyncio.to_thread(_next_batch, frames):
            for frame in batch:
                head = frame.head()
                if speed is not None and (ts := head.ts_ms()) is not None:
                    if t0 is None:
                        t0, w0 = ts, time.monotonic()
                    delay = w0 + (ts - t0) / 1000 / speed - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                kind = head.type
                subject = subject_for(prefix, kind, head.ticker) if kind else unparsed
                n += 1
                try:
                    publisher.submit(subject, frame.raw, msg_id_header(f"replay-{run}:{n}"))
                except TooLarge as exc:  # NATS would close the connection on it: a failure, named
                    too_large += 1
                    failed(None, str(exc))
                by_type[kind or "unparsed"] += 1
                if progress:
                    progress.advance()
            await publisher.wait_below(MAX_IN_FLIGHT)
        settled = -1
        while publisher.pending and settled != publisher.acked + publisher.failed:
            # Every message settles (acked, or failed after its last attempt), unless NATS stays away: nothing is
            # sent then. A whole round of attempts without any progress ends the replay with those counted.
            settled = publisher.acked + publisher.failed
            await publisher.wait_idle(ATTEMPTS * ACK_TIMEOUT_S)
        if publisher.pending:
            publisher.abandon(f"no ack within {ATTEMPTS * ACK_TIMEOUT_S:.0f} s (NATS unreachable?)")
    finally:
        await publisher.stop()
    elapsed = time.monotonic() - started
    published, failures = publisher.acked, publisher.failed + too_large
    summary = {"published": published, "failed": failures, "stream": stream, "subject_prefix": prefix,
               "by_type": dict(by_type.most_common()), "seconds": round(elapsed, 3),
               "frames_per_s": round(published / elapsed) if elapsed > 0 else None}
    if errors:
        summary["first_error"] = errors[0]
    if progress:
        progress.finish(f"{published:,} frames acked by {stream}, {failures} failed")
    return summary


def _next_batch(frames: Iterator[ArchiveFrame]) -> list[ArchiveFrame]:
    batch = list(itertools.islice(frames, BATCH))
    for frame in batch:
        frame.head()  # decode in the worker thread, not on the event loop
    return batch
