"""NATS going away mid-run: frames wait in the bounded buffer and are flushed, in order, once, when it is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from connector_harness import ConnectorProc, Setup, Sim, drain_and_compare, make_stream, write_env


async def test_nats_restart_mid_run_loses_and_duplicates_nothing(stream: Setup, sim: Sim) -> None:
    """nats-server restarted (same store) while frames flow: the stream ends up with every sent frame once."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await asyncio.sleep(1.0)
        await asyncio.to_thread(stream.nats.stop)
        await asyncio.sleep(2.0)
        status, body = await conn.get("/ready")
        assert status == 503, body
        assert "NATS" in body["reason"] or "acks" in body["reason"], body
        assert await conn.metric("ssmd_connector_buffered_frames") > 0
        await asyncio.to_thread(stream.nats.start)
        await conn.wait_ready(within=30)
        await asyncio.sleep(1.0)
        await drain_and_compare(sim, stream, settle=30)
        assert await conn.metric("ssmd_connector_frames_dropped_total") == 0
    finally:
        assert conn.terminate() == 0


async def test_nats_killed_mid_run_loses_and_duplicates_nothing(stream: Setup, sim: Sim) -> None:
    """nats-server killed with SIGKILL (acks in flight are lost): retries with the same Nats-Msg-Id fill
    the stream exactly once."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await asyncio.sleep(1.0)
        await asyncio.to_thread(stream.nats.stop, True)
        await asyncio.sleep(1.5)
        await asyncio.to_thread(stream.nats.start)
        await conn.wait_ready(within=30)
        await asyncio.sleep(1.0)
        await drain_and_compare(sim, stream, settle=30)
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
        for _ in range(100):
            if await conn.metric("ssmd_connector_frames_dropped_total") > 0:
                break
            await asyncio.sleep(0.1)
        _, health = await conn.get("/health")
        assert health["status"] == "unhealthy" and health["dropped"] > 0
        await asyncio.to_thread(setup.nats.start)
        status, ready = await conn.get("/ready")
        assert status == 503
        for _ in range(100):
            status, ready = await conn.get("/ready")
            if "dropped" in ready.get("reason", ""):
                break
            await asyncio.sleep(0.1)
        assert "frames dropped" in ready["reason"]
        published = await conn.metric("ssmd_connector_frames_published_total")
        await asyncio.sleep(1.0)
        assert await conn.metric("ssmd_connector_frames_published_total") > published
    finally:
        assert conn.terminate() == 0
    assert "DROPPING frames" in conn.logs()
