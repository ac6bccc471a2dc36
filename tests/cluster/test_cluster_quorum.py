"""Two of three nodes dead: the R3 stream has no quorum and takes no writes. The connector must say so loudly
(``/ready`` 503 for as long as it lasts, the backlog in a metric) and, once a node returns, deliver everything it
buffered exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from _cluster import CONNECTOR_CAPTURE, client, connector, leader_of, r3_stream, until
from connector_harness import FEED, Sim, stream_messages, write_env

from ssmd.bus.cluster import EmbeddedCluster


async def test_quorum_lost_is_loud_and_the_buffer_is_delivered_once_it_returns(nats_cluster: EmbeddedCluster,
                                                                                 tmp_path: Path) -> None:
    cluster = nats_cluster
    prefix, stream = "q.kalshi", "Q_KALSHI"
    nc = await client(cluster)
    await r3_stream(nc, stream, prefix)
    sim = Sim(tmp_path, "--no-auth", "--rate", "150", "--seed", "5", "--markets", "20", "--ping-interval", "1")
    conn = connector(tmp_path, write_env(tmp_path / "q.yaml", "q", cluster.url, CONNECTOR_CAPTURE), sim.url, FEED)
    try:
        await conn.wait_ready(60)
        await until(lambda: _above(conn, "ssmd_connector_frames_published_total", 50), "frames flowing")
        # Kill the node the connector uses and the stream leader (another node if that is the same one).
        mine = (await until(lambda: cluster.nodes_serving("ssmd-connector"), "the connector's node"))[0]
        leader = await leader_of(nc, cluster, stream)
        second = leader if leader != mine else next(i for i in range(3) if i != mine)
        await asyncio.to_thread(cluster.kill, mine)
        await asyncio.to_thread(cluster.kill, second)
        survivor = next(i for i in range(3) if i not in (mine, second))

        async def not_ready() -> str | None:
            status, body = await conn.get("/ready")
            return body.get("reason") if status == 503 else None

        reason = await until(not_ready, "/ready 503 without a quorum", 30)
        assert "not acked" in reason or "NATS" in reason, reason
        # Loud for as long as it lasts: never 200 between two re-sends, and the backlog grows in plain sight.
        backlog = await conn.metric("ssmd_connector_buffered_frames")
        published = await conn.metric("ssmd_connector_frames_published_total")
        watch_until = time.monotonic() + 6.0
        while time.monotonic() < watch_until:
            status, body = await conn.get("/ready")
            assert status == 503, f"/ready said {status} {body} with 2 of 3 nodes dead"
            await asyncio.sleep(0.1)
        assert await conn.metric("ssmd_connector_buffered_frames") > backlog, "the backlog is not counted"
        assert await conn.metric("ssmd_connector_frames_published_total") == published, "acked without a quorum"
        assert cluster.nodes_serving("ssmd-connector") == [survivor]
        conn.assert_running()

        await asyncio.to_thread(cluster.restart, mine)
        await conn.wait_ready(60)
        await until(lambda: _at_most(conn, "ssmd_connector_buffered_frames", 0), "backlog flushed", 60)
        await sim.pause()
        await asyncio.sleep(0.5)
        sent = Counter(sim.sent())
        msgs = await stream_messages(cluster.urls, stream, f"{prefix}.>", expect=sum(sent.values()), within=60)
        stored = Counter(m.data for m in msgs)
        assert stored == sent, (f"sent {sum(sent.values())}, stored {len(msgs)}: {len(set(sent) - set(stored))} "
                                f"missing, {sum((stored - sent).values())} duplicated")
        assert await conn.metric("ssmd_connector_frames_dropped_total") == 0
        conn.assert_running()
    finally:
        code = conn.terminate()
        sim.stop()
        await nc.close()
    assert code == 0, conn.logs()[-3000:]


async def _above(service: object, metric: str, value: float) -> bool:
    return bool(await service.metric(metric) > value)  # type: ignore[attr-defined]


async def _at_most(service: object, metric: str, value: float) -> bool:
    return bool(await service.metric(metric) <= value)  # type: ignore[attr-defined]
