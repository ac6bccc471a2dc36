"""The JetStream publisher on its own, against a real nats-server: drops are loud, unroutable is loud,
retries are deduplicated."""

from __future__ import annotations

import asyncio
import logging
import time

import nats
import pytest

from ssmd.bus.embedded import EmbeddedNats
from ssmd.bus.headers import FrameHeaders
from ssmd.bus.streams import StreamSpec, ensure_stream
from ssmd.connector.metrics import ConnectorMetrics
from ssmd.connector.publisher import JetStreamPublisher
from ssmd.testing import wait_until


def with_id(msg_id: str) -> FrameHeaders:
    return FrameHeaders(time.time_ns(), msg_id=msg_id)


async def _stream(nc: nats.NATS, name: str) -> str:
    stream = name.upper()
    await ensure_stream(nc.jetstream(), StreamSpec.for_prefix(stream, f"{name}.kalshi"))
    return stream


async def test_full_buffer_drops_newest_counts_logs_and_reports(own_nats: EmbeddedNats, unique_name: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """With NATS down and the buffer full, every further frame is dropped, counted, logged at error level,
    and /ready's reason says so; frames already buffered are published once NATS is back."""
    nc = await nats.connect(own_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2, pending_size=0)
    stream = await _stream(nc, unique_name)
    metrics = ConnectorMetrics()
    pub = JetStreamPublisher(nc, stream, metrics, max_buffer=10, publish_timeout=1.0)
    await pub.start()
    try:
        await asyncio.to_thread(own_nats.stop)
        await wait_until(lambda: not nc.is_connected, what="the client to notice NATS is gone")
        with caplog.at_level(logging.ERROR, logger="ssmd.connector.publisher"):
            for i in range(15):
                pub.submit(f"{unique_name}.kalshi.json.trade.X", b"%d" % i, with_id(f"m{i}"), "trade",
                           time.monotonic())
        assert pub.dropped == 5
        assert metrics.dropped._value.get() == 5
        assert any("DROPPING" in r.getMessage() for r in caplog.records)
        assert "dropped" in (pub.not_ready_reason() or "") or "NATS" in (pub.not_ready_reason() or "")
        await asyncio.to_thread(own_nats.start)
        assert await pub.drain(20) == 0
        info = await nc.jetstream().stream_info(stream)
        assert info.state.messages == 10
        assert "5 frames dropped" in (pub.not_ready_reason() or "")
    finally:
        await pub.stop()
        await nc.close()


async def test_after_a_nats_reconnect_not_ready_until_a_frame_is_acked(own_nats: EmbeddedNats,
                                                                          unique_name: str) -> None:
    """A reconnect with nothing buffered is not ready either: the server it lands on may have no quorum behind it
    (two of three nodes dead), and until a frame is acked nothing says it has."""
    nc = await nats.connect(own_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2, pending_size=0)
    stream = await _stream(nc, unique_name)
    pub = JetStreamPublisher(nc, stream, ConnectorMetrics(), publish_timeout=1.0)
    await pub.start()
    try:
        assert pub.not_ready_reason() is None
        await asyncio.to_thread(own_nats.stop)
        await asyncio.to_thread(own_nats.start)
        await wait_until(lambda: nc.is_connected and nc.stats["reconnects"] == 1, timeout=30, what="a reconnect")
        assert pub.pending == 0
        assert "NATS reconnected" in (pub.not_ready_reason() or ""), pub.not_ready_reason()
        pub.submit(f"{unique_name}.kalshi.json.trade.X", b"{}", with_id("after"), "trade", time.monotonic())
        assert await pub.drain(20) == 0
        assert pub.not_ready_reason() is None
    finally:
        await pub.stop()
        await nc.close()


async def test_subject_no_stream_captures_is_held_and_reported_not_lost(nats_server: EmbeddedNats,
                                                                         unique_name: str) -> None:
    """A subject outside the expected stream is never acked: the frame stays buffered (retried) and
    readiness names the error, instead of vanishing like a core-NATS publish."""
    nc = await nats.connect(nats_server.url)
    stream = await _stream(nc, unique_name)
    pub = JetStreamPublisher(nc, stream, ConnectorMetrics(), publish_timeout=1.0)
    await pub.start()
    try:
        pub.submit(f"elsewhere.{unique_name}.x", b"{}", with_id("a"), "trade", time.monotonic())
        def reported() -> bool:
            reason = pub.not_ready_reason() or ""
            return "no stream" in reason or "error" in reason

        await wait_until(reported, what="readiness to name the publish error")
        assert pub.pending == 1
        assert pub.acked == 0
    finally:
        await pub.stop()
        await nc.close()


async def test_same_msg_id_is_stored_once(nats_server: EmbeddedNats, unique_name: str) -> None:
    """A retry (same Nats-Msg-Id) of a frame already stored is acked as a duplicate, not stored twice."""
    nc = await nats.connect(nats_server.url)
    stream = await _stream(nc, unique_name)
    metrics = ConnectorMetrics()
    pub = JetStreamPublisher(nc, stream, metrics)
    await pub.start()
    try:
        for _ in range(3):
            pub.submit(f"{unique_name}.kalshi.json.trade.A", b'{"type":"trade"}', with_id("c1:2:7"),
                       "trade", time.monotonic())
        assert await pub.drain(10) == 0
        assert (await nc.jetstream().stream_info(stream)).state.messages == 1
        assert metrics.duplicates._value.get() == 2
        assert pub.acked == 3
    finally:
        await pub.stop()
        await nc.close()


async def test_frames_are_stored_in_submit_order(nats_server: EmbeddedNats, unique_name: str) -> None:
    """Pipelined publishes land in the stream in the order they were submitted."""
    nc = await nats.connect(nats_server.url)
    stream = await _stream(nc, unique_name)
    pub = JetStreamPublisher(nc, stream, ConnectorMetrics(), max_in_flight=64)
    await pub.start()
    try:
        for i in range(2000):
            pub.submit(f"{unique_name}.kalshi.json.ticker.T{i % 7}", b"%d" % i, with_id(f"o{i}"),
                       "ticker", time.monotonic())
        assert await pub.drain(20) == 0
        js = nc.jetstream()
        sub = await js.subscribe(f"{unique_name}.kalshi.>", ordered_consumer=True, stream=stream)
        got = [int((await sub.next_msg(5)).data) for _ in range(2000)]
        assert got == list(range(2000))
    finally:
        await pub.stop()
        await nc.close()


async def test_frame_bigger_than_max_payload_is_a_reported_drop_not_a_stall(nats_server: EmbeddedNats,
                                                                          unique_name: str) -> None:
    """NATS would close the connection on a message over its max_payload: such a frame is dropped, counted and
    logged, the next frame carries Ssmd-Dropped-Before, and publishing goes on."""
    nc = await nats.connect(nats_server.url)
    stream = await _stream(nc, unique_name)
    metrics = ConnectorMetrics()
    pub = JetStreamPublisher(nc, stream, metrics, instance="t1")
    await pub.start()
    try:
        subject = f"{unique_name}.kalshi.json.orderbook.A"
        pub.submit(subject, b"x" * (nc.max_payload + 1), with_id("big"), "orderbook", time.monotonic())
        pub.submit(subject, b"{}", with_id("after"), "orderbook", time.monotonic())
        assert await pub.drain(20) == 0
        assert (pub.dropped, metrics.dropped._value.get()) == (1, 1)
        sub = await nc.jetstream().subscribe(f"{unique_name}.kalshi.>", ordered_consumer=True, stream=stream)
        msg = await sub.next_msg(5)
        assert msg.data == b"{}" and msg.headers is not None
        assert (msg.headers["Ssmd-Dropped-Before"], msg.headers["Ssmd-Instance"]) == ("1", "t1")
        assert nc.is_connected and nc.stats["reconnects"] == 0
    finally:
        await pub.stop()
        await nc.close()
