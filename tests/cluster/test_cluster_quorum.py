"""Two of three nodes dead: the R3 stream has no quorum and takes no writes. Capture must say so loudly (``/ready``
503 for as long as it lasts, the backlog and the drops in metrics), deliver what it buffered exactly once when a node
returns, and record what overflowed the buffer as a gap in the archive, where `ssmd archive verify` reports it."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import pytest
from _cluster import CONNECTOR_CAPTURE, archiver, client, leader_of, r3_stream, until

from ssmd.bus.cluster import EmbeddedCluster
from ssmd.coverage import is_coverage
from ssmd.testing import ConnectorProc, Sim, archived_lines, run_ssmd, stream_messages, write_env

BUFFER = 250


@pytest.mark.slow
async def test_quorum_lost_is_loud_and_what_was_buffered_is_delivered_once(nats_cluster: EmbeddedCluster,
                                                                             tmp_path: Path) -> None:
    cluster = nats_cluster
    prefix, stream = "q.kalshi", "Q_KALSHI"
    nc = await client(cluster)
    await r3_stream(nc, stream, prefix)
    sim = Sim(tmp_path, "--no-auth", "--rate", "150", "--seed", "5", "--markets", "20", "--ping-interval", "1")
    env = write_env(tmp_path / "q.yaml", "q", cluster.url, {**CONNECTOR_CAPTURE, "buffer_frames": BUFFER,
                                                              # global channels: no market list changes during the
                                                              # outage, so no coverage event is among the drops
                                                              "channels": ["ticker", "trade", "market_lifecycle_v2"],
                                                              "coverage_heartbeat": 3600})
    archive = tmp_path / "archive"
    arch = archiver(tmp_path, cluster.url, stream, prefix, archive)
    conn = ConnectorProc(tmp_path, env, sim.url)
    try:
        await arch.wait_ready(60)
        await conn.wait_ready(60)
        await conn.wait_metric("ssmd_connector_frames_published_total", 51, 30)  # frames flowing
        # Kill the node the connector uses and the stream leader (another node if that is the same one).
        mine = (await until(lambda: cluster.nodes_serving("ssmd-connector"), 30, "the connector's node"))[0]
        leader = await leader_of(nc, cluster, stream)
        second = leader if leader != mine else next(i for i in range(3) if i != mine)
        await asyncio.to_thread(cluster.kill, mine)
        await asyncio.to_thread(cluster.kill, second)
        survivor = next(i for i in range(3) if i not in (mine, second))

        async def not_ready() -> str | None:
            status, body = await conn.get("/ready")
            return body.get("reason") if status == 503 else None

        reason = await until(not_ready, 30, "/ready 503 without a quorum")
        assert "not acked" in reason or "NATS" in reason, reason
        # Loud for as long as it lasts: never 200 between two re-sends, the backlog and then the drops in plain sight.
        published = await conn.metric("ssmd_connector_frames_published_total")
        backlog = [await conn.metric("ssmd_connector_buffered_frames")]
        watch_until = time.monotonic() + 6.0
        while time.monotonic() < watch_until:
            status, body = await conn.get("/ready")
            assert status == 503, f"/ready said {status} {body} with 2 of 3 nodes dead"
            backlog.append(await conn.metric("ssmd_connector_buffered_frames"))
            await asyncio.sleep(0.1)
        assert max(backlog) > backlog[0], f"the backlog is not counted: {backlog}"
        await conn.wait_metric("ssmd_connector_frames_dropped_total", 1, 30)  # the buffer overflowing
        assert await conn.metric("ssmd_connector_frames_published_total") == published, "acked without a quorum"
        await until(lambda: cluster.nodes_serving("ssmd-connector") == [survivor], 30, "the connector on the survivor")
        for service in (conn, arch):
            service.assert_running()

        await asyncio.to_thread(cluster.restart, mine)
        # the backlog published once a quorum is back, then flushed
        await conn.wait_metric("ssmd_connector_frames_published_total", published + BUFFER + 1, 60)

        async def flushed() -> bool:
            return await conn.metric("ssmd_connector_buffered_frames") <= 0

        await until(flushed, 60, "backlog flushed")
        status, body = await conn.get("/ready")
        assert status == 503 and "dropped" in body["reason"], "drops stay visible on /ready for a while"
        await sim.pause()
        await asyncio.sleep(0.5)
        sent = Counter(sim.sent())
        dropped = int(await conn.metric("ssmd_connector_frames_dropped_total"))
        expect = sum(sent.values()) - dropped
        msgs = await stream_messages(cluster.urls, stream, f"{prefix}.>", expect=expect, within=60)
        msgs = [m for m in msgs if not is_coverage(m.data)]  # the connector's own events, sent before the outage
        last = msgs[-1].metadata.sequence.stream
        await arch.wait_metric("ssmd_archiver_last_archived_seq", last, 60)
        for service in (conn, arch):
            service.assert_running()
    finally:
        codes = {s.name: s.terminate(30, or_kill=True) for s in (conn, arch)}
        sim.stop()
        await nc.close()
    assert codes == {"connector": 0, "archiver": 0}, codes
    stored = Counter(m.data for m in msgs)
    assert not stored - sent, "stored frames the exchange never sent"
    assert max(stored.values()) == 1 and len(msgs) == expect, (
        f"sent {sum(sent.values())}, dropped {dropped}, stored {len(msgs)} ({len(msgs) - len(stored)} duplicates)")
    # The overflow is in the archive: a gap per burst of drops, with its cause, and verify fails naming it.
    assert archived_lines(archive) == stored
    gaps = [g for m in archive.rglob("manifest.json") for g in json.loads(m.read_text())["gaps"]]
    assert gaps and {g["cause"] for g in gaps} == {"connector_buffer_full"}
    assert sum(g["missing_count"] for g in gaps) == dropped
    checked = await asyncio.to_thread(run_ssmd, "archive", "verify", archive, timeout=60)
    assert checked.returncode == 1 and "dropped by the connector (its buffer was full)" in checked.stdout, checked

