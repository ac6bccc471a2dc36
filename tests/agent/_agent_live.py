"""Helpers for live-runtime tests: a capture stream per test, frames published like the connector does, and a
runtime in the test's event loop (reading the fires back is ssmd.testing's :func:`read_fires`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext

from ssmd.agent.live import LiveConfig, Runtime
from ssmd.agent.loader import load_signals
from ssmd.bus.streams import StreamSpec, ensure_stream
from ssmd.bus.subjects import subject_for, unparsed_subject
from ssmd.kalshi.frames import Kind, classify
from ssmd.testing import SIGNALS, wait_until


async def capture_stream(js: JetStreamContext, env: str) -> str:
    name = f"{env.upper()}_KALSHI"
    await ensure_stream(js, StreamSpec.for_prefix(name, f"{env}.kalshi", max_age_s=3600))
    return name


async def publish_frames(js: JetStreamContext, env: str, frames: Sequence[bytes], first_id: int = 0) -> None:
    """Publish in order with JetStream acks, on the connector's subjects; a timed-out publish (server restarting)
    is retried with the same Nats-Msg-Id, so it is stored once, like the connector does."""
    prefix = f"{env}.kalshi"
    for index, raw in enumerate(frames, start=first_id):
        frame = classify(raw)
        subject = unparsed_subject(prefix) if frame.kind is Kind.UNPARSED else subject_for(
            prefix, frame.type or "", frame.ticker)
        for attempt in range(50):
            try:
                await js.publish(subject, raw, timeout=2.0, headers={"Nats-Msg-Id": f"{env}-{index}"})
                break
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.js.errors.APIError,
                    nats.js.errors.NoStreamResponseError):
                if attempt == 49:
                    raise
                await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def running(url: str, env: str, durable: str, signals: Sequence[str] = SIGNALS,
                  **config: Any) -> AsyncIterator[Runtime]:
    """A runtime in this event loop, stopped (and awaited) on exit."""
    cfg = LiveConfig(nats_url=url, subjects=(f"{env}.kalshi.json.>",), durable=durable,
                     health_addr="127.0.0.1:0", **config)
    runtime = Runtime(cfg, load_signals(signals))
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    try:
        await wait_until(lambda: runtime._bound or task.done(), what="consumer bound")
        if task.done():
            task.result()
        yield runtime
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
