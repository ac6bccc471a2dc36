"""/health, /ready and /metrics on --health-addr."""

from __future__ import annotations

from typing import Any

from ssmd.runtime.http import metric_total
from ssmd.testing import ConnectorProc, Setup, Sim, wait_until


async def test_ready_only_when_connected_subscribed_and_acked(stream: Setup, sim: Sim) -> None:
    """/ready is 503 with a reason while the exchange is away, 200 once connected, subscribed and acked."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        sim.stop()

        async def not_ready() -> Any:
            status, body = await conn.get("/ready")
            return body if status == 503 else None

        body = await wait_until(not_ready, what="/ready to say 503 once the exchange is gone")
        assert "not connected" in body["reason"]
        status, health = await conn.get("/health")
        assert status == 200 and health["connected"] is False and health["status"] == "ok"
    finally:
        assert conn.terminate() == 0


async def test_metrics_expose_the_pipeline(stream: Setup, sim: Sim) -> None:
    """/metrics has received/published counts by type, publish latency, reconnects, gaps, buffer, drops,
    last-frame age, connected and per-shard state."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await conn.wait_metric("ssmd_connector_frames_published_total", 51)
        await conn.wait_metric("ssmd_connector_frames_published_total", 1, type="trade")
        await conn.wait_metric("ssmd_connector_connected", 1)  # refreshed once a second
        _, text = await conn.get("/metrics")
    finally:
        assert conn.terminate() == 0
    for name in ("ssmd_connector_frames_received_total{type=\"ticker\"}",
                 "ssmd_connector_frames_published_total{type=\"trade\"}",
                 "ssmd_connector_publish_latency_seconds_bucket", "ssmd_connector_unparsed_frames_total",
                 "ssmd_connector_reconnects_total", "ssmd_connector_buffered_frames",
                 "ssmd_connector_frames_dropped_total", "ssmd_connector_last_frame_age_seconds",
                 "ssmd_connector_connected 1.0", "ssmd_connector_shard_state{shard=\"0\"} 3.0"):
        assert name in text, name
    assert (metric_total(text, "ssmd_connector_frames_published_total") or 0) > 50
