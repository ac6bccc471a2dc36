"""Two of three nodes dead: the R3 stream has no quorum and takes no writes. Capture must say so loudly (``/ready``
503 for as long as it lasts, the backlog and the drops in metrics), deliver what it buffered exactly once when a node
returns, and record what overflowed the buffer as a gap in the archive, where `ssmd archive verify` reports it."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

from _cluster import (
    CONNECTOR_CAPTURE,
    archived_lines,
    archiver,
    client,
    connector,
    leader_of,
    r3_stream,
    until,
    verify,
)

from ssmd.bus.cluster import EmbeddedCluster
from ssmd.testing import Sim, stream_messages, write_env
from ssmd.up.pipeline import write_feed

BUFFER = 250


async def test_quorum_lost_is_loud_and_what_was_buffered_is_delivered_once(nats_cluster: EmbeddedCluster,
                                                                             tmp_path: Path) -> None:
    cluster = nats_cluster
    prefix, stream = "q.kalshi", "Q_KALSHI"
    nc = await client(cluster)
    await r3_stream(nc, stream, prefix)
    sim = Sim(tmp_path, "--no-auth", "--rate", "150", "--seed", "5", "--markets", "20", "--ping-interval", "1")
    env = write_env(tmp_path / "q.yaml", "q", cluster.url, {**CONNECTOR_CAPTURE, "buffer_frames": BUFFER})
    archive = tmp_path / "archive"
    arch = archiver(tmp_path, cluster.url, stream, prefix, archive)
    conn = connector(tmp_path, env, sim.url, write_feed(tmp_path / "kalshi-feed.yaml"))
    try:
        await arch.wait_ready(60)
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
        await until(lambda: _above(conn, "ssmd_connector_frames_dropped_total", 0), "the buffer overflowing")
        assert await conn.metric("ssmd_connector_frames_published_total") == published, "acked without a quorum"
        await until(lambda: cluster.nodes_serving("ssmd-connector") == [survivor], "the connector on the survivor")
        for service in (conn, arch):
            service.assert_running()

        await asyncio.to_thread(cluster.restart, mine)
        await until(lambda: _above(conn, "ssmd_connector_frames_published_total", published + BUFFER),
                    "the backlog published once a quorum is back", 60)
        await until(lambda: _at_most(conn, "ssmd_connector_buffered_frames", 0), "backlog flushed", 60)
        status, body = await conn.get("/ready")
        assert status == 503 and "dropped" in body["reason"], "drops stay visible on /ready for a while"
        await sim.pause()
        await asyncio.sleep(0.5)
        sent = Counter(sim.sent())
        dropped = int(await conn.metric("ssmd_connector_frames_dropped_total"))
        expect = sum(sent.values()) - dropped
        msgs = await stream_messages(cluster.urls, stream, f"{prefix}.>", expect=expect, within=60)
        last = msgs[-1].metadata.sequence.stream
        await until(lambda: _at_least(arch, "ssmd_archiver_last_archived_seq", last), "archiver drained", 60)
        for service in (conn, arch):
            service.assert_running()
    finally:
        codes = {s.name: s.terminate() for s in (conn, arch)}
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
    checked = await verify(archive)
    assert checked.returncode == 1 and "dropped by the connector (its buffer was full)" in checked.stdout, checked


async def _above(service: object, metric: str, value: float) -> bool:
    return bool(await service.metric(metric) > value)  # type: ignore[attr-defined]


async def _at_most(service: object, metric: str, value: float) -> bool:
    return bool(await service.metric(metric) <= value)  # type: ignore[attr-defined]


async def _at_least(service: object, metric: str, value: float) -> bool:
    return bool(await service.metric(metric) >= value)  # type: ignore[attr-defined]
