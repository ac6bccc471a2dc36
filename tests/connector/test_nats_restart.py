"""NATS going away mid-run: frames wait in the bounded buffer and are flushed, in order, once, when it is back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ssmd.testing import ConnectorProc, Setup, Sim, drain_and_compare, make_stream, wait_until, write_env


async def _not_ready(conn: ConnectorProc, reason: str) -> Any:
    """/ready's body once it is 503 with ``reason`` in its reason."""
    async def check() -> Any:
        status, body = await conn.get("/ready")
        return body if status == 503 and reason in body.get("reason", "") else None

    return await wait_until(check, what=f"/ready to say 503 with {reason!r}")


async def test_nats_restart_mid_run_loses_and_duplicates_nothing(stream: Setup, sim: Sim) -> None:
    """nats-server restarted (same store) while frames flow: the stream ends up with every sent frame once."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await sim.wait_sent(100)
        await asyncio.to_thread(stream.nats.stop)
        body = await _not_ready(conn, "")
        assert "NATS" in body["reason"] or "acks" in body["reason"], body
        await conn.wait_metric("ssmd_connector_buffered_frames", 1)
        await asyncio.to_thread(stream.nats.start)
        await conn.wait_ready()
        await sim.wait_sent(len(sim.sent()) + 50)
        await drain_and_compare(sim, stream)
        assert await conn.metric("ssmd_connector_frames_dropped_total") == 0
    finally:
        assert conn.terminate() == 0


async def test_nats_killed_mid_run_loses_and_duplicates_nothing(stream: Setup, sim: Sim) -> None:
    """nats-server killed with SIGKILL (acks in flight are lost): retries with the same Nats-Msg-Id fill
    the stream exactly once."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await sim.wait_sent(100)
        await asyncio.to_thread(stream.nats.stop, True)
        await conn.wait_metric("ssmd_connector_buffered_frames", 1)  # frames arrived while NATS was down
        await asyncio.to_thread(stream.nats.start)
        await conn.wait_ready()
        await sim.wait_sent(len(sim.sent()) + 50)
        await drain_and_compare(sim, stream)
    finally:
        assert conn.terminate() == 0


async def test_buffer_overflow_during_outage_is_loud(setup: Setup, sim: Sim, tmp_path: Path) -> None:
    """NATS down longer than the buffer lasts: dropped frames are counted, logged at error level, /health says
    unhealthy and /ready gives the reason; the process keeps running and publishes again afterwards."""
    await make_stream(setup.nats.url, setup.stream, setup.prefix)
    env = write_env(tmp_path / "small.yaml", setup.name, setup.nats.url,
                    {"buffer_frames": 50, "publish_timeout": 1, "dead_after": 3, "ping_interval": 1})
    conn = ConnectorProc(setup.workdir, env, sim.url)
    try:
        await conn.wait_ready()
        await asyncio.to_thread(setup.nats.stop)
        await conn.wait_metric("ssmd_connector_frames_dropped_total", 1)
        _, health = await conn.get("/health")
        assert health["status"] == "unhealthy" and health["dropped"] > 0
        await asyncio.to_thread(setup.nats.start)
        ready = await _not_ready(conn, "dropped")
        assert "frames dropped" in ready["reason"]
        published = await conn.metric("ssmd_connector_frames_published_total")
        await conn.wait_metric("ssmd_connector_frames_published_total", published + 1)
    finally:
        assert conn.terminate() == 0
    assert "DROPPING frames" in conn.logs()
