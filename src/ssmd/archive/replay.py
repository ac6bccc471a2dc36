"""``ssmd archive replay``: republish archived frames to JetStream, on the live subject mapping, with acks.

Frames are read in a worker thread (gzip and file I/O stay off the event loop) and published with
:class:`ssmd.archive._acks.AckedPublisher` (at most ~4,000 in flight, every ack awaited with a timeout): a frame
counts as replayed only when the stream acknowledged it, and a rejection is reported with the server's reason.
``speed`` paces by the frames' exchange time (1 = original pace); frames without a time go out immediately.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from ssmd.archive._acks import AckedPublisher, PublishRejected
from ssmd.archive._progress import Progress
from ssmd.archive.reader import ArchiveFrame
from ssmd.bus.connect import connect
from ssmd.bus.streams import StreamConflict, StreamSpec, check_capture, ensure_stream
from ssmd.bus.subjects import subject_for, unparsed_subject
from ssmd.config import EnvironmentConfig

log = logging.getLogger(__name__)

BATCH = 2000
MAX_IN_FLIGHT = 4000
ACK_TIMEOUT_S = 30.0


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
    return prefix, stream or prefix.upper().replace(".", "_").replace("-", "_")


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
    publisher = AckedPublisher(nc, stream_name)
    try:
        await _ensure(nc.jetstream(), stream_name, prefix)
        await publisher.start()
        return await _publish(publisher, iter(frames), prefix, stream_name, speed, show_progress)
    finally:
        await publisher.close()
        await nc.drain()


async def _ensure(js: Any, stream: str, prefix: str) -> None:
    try:
        await check_capture(js, stream, f"{prefix}.>")
    except StreamConflict as exc:
        if "does not exist" not in str(exc):
            raise ReplayError(f"{exc}: choose another --stream or --subject-prefix") from None
        info, action = await ensure_stream(js, StreamSpec.for_prefix(stream, prefix))
        log.info("stream %s %s for %s.>", info.config.name, action, prefix)


async def _publish(publisher: AckedPublisher, frames: Iterator[ArchiveFrame], prefix: str, stream: str,
                   speed: float | None, show_progress: bool) -> dict[str, Any]:
    progress = Progress("replay", unit="frames") if show_progress else None
    pending: collections.deque[asyncio.Future[int]] = collections.deque()
    by_type: collections.Counter[str] = collections.Counter()
    published = failed = 0
    first_error = ""
    t0: int | None = None
    w0 = started = time.monotonic()
    unparsed = unparsed_subject(prefix)

    async def settle(keep: int) -> None:
        nonlocal published, failed, first_error
        while len(pending) > keep:
            future = pending.popleft()
            try:
                await asyncio.wait_for(future, ACK_TIMEOUT_S)
                published += 1
            except TimeoutError:  # a missing ack is a failed publish, never a silent one
                publisher.forget(future)
                failed += 1
                first_error = first_error or f"no ack within {ACK_TIMEOUT_S:.0f} s"
            except PublishRejected as exc:
                failed += 1
                first_error = first_error or f"rejected by the stream: {exc}"

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
            subject = subject_for(prefix, kind, head.key) if kind else unparsed
            pending.append(await publisher.publish(subject, frame.raw))
            by_type[kind or "unparsed"] += 1
            if progress:
                progress.advance()
        await settle(MAX_IN_FLIGHT // 2)
    await settle(0)
    elapsed = time.monotonic() - started
    summary = {"published": published, "failed": failed, "stream": stream, "subject_prefix": prefix,
               "by_type": dict(by_type.most_common()), "seconds": round(elapsed, 3),
               "frames_per_s": round(published / elapsed) if elapsed > 0 else None}
    if first_error:
        summary["first_error"] = first_error
    if progress:
        progress.finish(f"{published:,} frames acked by {stream}, {failed} failed")
    return summary


def _next_batch(frames: Iterator[ArchiveFrame]) -> list[ArchiveFrame]:
    batch = list(itertools.islice(frames, BATCH))
    for frame in batch:
        frame.head()  # decode in the worker thread, not on the event loop
    return batch
