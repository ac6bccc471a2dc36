"""The whole pipeline on a real 3-node JetStream cluster with the stream at R3: nodes die, nothing is lost.

The connector, the archiver and the agent run as processes, each given all three server URLs. The stream leader is
SIGKILLed, then (once it is back) the node the services are connected to. The simulator's sent-log is the oracle:
every frame sent is archived exactly once, `ssmd archive verify` passes, no service exits, and the agent's live
fires equal a backtest over the archive.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from _cluster import CONNECTOR_CAPTURE, all_current, archiver, client, leader_of, r3_stream, until

from ssmd.agent.backtest import archive_frames, run_backtest
from ssmd.agent.loader import load_signals
from ssmd.bus.cluster import EmbeddedCluster
from ssmd.testing import (
    SIGNALS,
    AgentProc,
    ConnectorProc,
    Sim,
    archived_lines,
    fire_keys,
    read_fires,
    run_ssmd,
    stream_frames,
    write_env,
)


@pytest.mark.slow
async def test_killing_the_leader_then_the_services_node_loses_nothing(nats_cluster: EmbeddedCluster,
                                                                        tmp_path: Path) -> None:
    cluster = nats_cluster
    env, prefix, stream = "ha", "ha.kalshi", "HA_KALSHI"
    nc = await client(cluster)
    js = nc.jetstream()
    await r3_stream(nc, stream, prefix)
    sim = Sim(tmp_path, "--no-auth", "--rate", "150", "--seed", "3", "--markets", "20", "--ping-interval", "1")
    env_path = write_env(tmp_path / "ha.yaml", env, cluster.url, CONNECTOR_CAPTURE)
    archive = tmp_path / "archive"
    arch = archiver(tmp_path, cluster.url, stream, prefix, archive)
    live = AgentProc(tmp_path, cluster.url, f"{prefix}.json.>", SIGNALS)
    conn = ConnectorProc(tmp_path, env_path, sim.url)
    services = [arch, live, conn]
    try:
        for service in services:
            await service.wait_ready(60)
        consumer = await js.consumer_info(stream, "archiver")
        assert consumer.config.num_replicas == 3, "the archiver's consumer is R3 like its stream"
        assert (await js.stream_info("HA_SIGNALS")).config.num_replicas == 3, "fires are R3 like the frames"

        async def progress(since: float) -> bool:
            for service in services:
                service.assert_running()
            return (await conn.metric("ssmd_connector_frames_published_total") > since + 100
                    and await arch.metric("ssmd_archiver_messages_total") > since + 100)

        # 1. SIGKILL the stream leader: a new one is elected; publishes in flight are re-sent with their msg-id.
        await until(lambda: progress(0), 30, "frames flowing")
        leader = await leader_of(nc, cluster, stream)
        published = await conn.metric("ssmd_connector_frames_published_total")
        await asyncio.to_thread(cluster.kill, leader)
        await until(lambda: progress(published), 60, "capture carrying on after the leader died")
        await asyncio.to_thread(cluster.restart, leader)
        await until(lambda: all_current(nc, stream), 60, "the restarted node caught up")

        # 2. SIGKILL the node the connector is connected to (with whatever else is connected there).
        where = await until(lambda: cluster.nodes_serving("ssmd-connector"), 30, "the connector's node")
        victim = where[0]
        on_victim = [name for name in ("ssmd-connector", "ssmd-archiver", "ssmd-agent")
                     if victim in cluster.nodes_serving(name)]
        published = await conn.metric("ssmd_connector_frames_published_total")
        await asyncio.to_thread(cluster.kill, victim)
        await until(lambda: progress(published), 60, f"capture carrying on after {on_victim}' node died")
        for name in on_victim:
            await until(lambda n=name: cluster.nodes_serving(n), 30, f"{name} connected to another node")
        await asyncio.to_thread(cluster.restart, victim)
        await until(lambda: all_current(nc, stream), 60, "the restarted node caught up")

        # Drain: everything sent is in the stream, archived and evaluated.
        await sim.pause()
        await asyncio.sleep(0.5)
        sent = Counter(sim.sent())
        total = sum(sent.values())

        async def stored() -> int:
            state = (await js.stream_info(stream)).state
            return state.last_seq if await stream_frames(js, stream, prefix) >= total else 0

        last = await until(stored, 60, f"{total} frames in the stream")
        await arch.wait_metric("ssmd_archiver_last_archived_seq", last, 60)
        await live.wait_metric("ssmd_agent_last_stream_seq", last, 60)
        for service in services:
            service.assert_running()
        assert await conn.metric("ssmd_connector_frames_dropped_total") == 0
        assert await conn.metric("ssmd_connector_publish_retries_total") > 0, "no publish was ever re-sent"
    finally:
        codes = {s.name: s.terminate(30, or_kill=True) for s in reversed(services)}
        sim.stop()
    try:
        assert codes == {"connector": 0, "archiver": 0, "agent": 0}, codes
        archived = archived_lines(archive)
        assert sum(archived.values()) == total and archived == sent, (
            f"sent {total}, archived {sum(archived.values())}: {len(set(sent) - set(archived))} missing, "
            f"{sum((archived - sent).values())} extra")
        checked = await asyncio.to_thread(run_ssmd, "archive", "verify", archive, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        # every archived copy: what the live agent consumed (the merged view drops a reconnect's repeated frames)
        backtest = run_backtest(archive_frames(archive, raw=True), load_signals(SIGNALS))
        fires = await read_fires(js, env)
        assert backtest.outcomes, "no signal fired: the comparison would prove nothing"
        assert fire_keys(fires) == fire_keys([o.fire.to_dict() for o in backtest.outcomes])
    finally:
        await nc.close()
