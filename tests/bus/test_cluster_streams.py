"""Streams on a real 3-node JetStream cluster: `ssmd stream ensure --replicas 3` waits for a leader, never lowers
replicas silently, `ssmd stream info` shows where the replicas sit; `ssmd nats serve --cluster 3` runs one."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest

from ssmd.bus.cluster import EmbeddedCluster
from ssmd.bus.embedded import EmbeddedNats, free_port
from ssmd.bus.streams import StreamSpec, ensure_stream


def env_file(tmp_path: Path, name: str, url: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nfeed: kalshi\ntransport:\n  transport_type: nats\n  url: '{url}'\n"
                    f"storage:\n  storage_type: local\n")
    return path


def ssmd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ssmd", *args], capture_output=True, text=True, timeout=90)


async def test_stream_ensure_r3_reports_placement_and_refuses_to_lower(nats_cluster: EmbeddedCluster,
                                                                        tmp_path: Path) -> None:
    """Created at R3 with a leader; `stream info` lists the leader and two current replicas; ensuring again
    without --replicas keeps R3; --replicas 1 is refused (exit 1, the stream stays R3) unless
    --allow-fewer-replicas says it is meant."""
    env = str(env_file(tmp_path, "prod", nats_cluster.url))
    created = await asyncio.to_thread(ssmd, "stream", "ensure", "--env", env, "--replicas", "3")
    assert created.returncode == 0, created.stderr
    assert "created" in created.stdout and "replicas 3" in created.stdout and ", leader n" in created.stdout

    info = await asyncio.to_thread(ssmd, "stream", "info", "--env", env)
    assert info.returncode == 0, info.stderr
    place = json.loads(info.stdout)["cluster"]
    assert place["cluster"] == "ssmd"
    assert sorted(r["name"] for r in place["replicas"]) == ["n1", "n2", "n3"]
    assert [r["name"] for r in place["replicas"] if r["leader"]] == [place["leader"]]

    again = await asyncio.to_thread(ssmd, "stream", "ensure", "--env", env)
    assert again.returncode == 0 and "unchanged" in again.stdout and "replicas 3" in again.stdout, again

    lower = await asyncio.to_thread(ssmd, "stream", "ensure", "--env", env, "--replicas", "1")
    assert lower.returncode == 1
    assert "has 3 replicas, asked for 1" in lower.stderr and "--allow-fewer-replicas" in lower.stderr
    assert "Traceback" not in lower.stderr
    nc = await nats.connect(nats_cluster.urls)
    try:
        assert (await nc.jetstream().stream_info("PROD_KALSHI")).config.num_replicas == 3
        forced = await asyncio.to_thread(ssmd, "stream", "ensure", "--env", env, "--replicas", "1",
                                         "--allow-fewer-replicas")
        assert forced.returncode == 0 and "updated" in forced.stdout, forced.stderr
        assert (await nc.jetstream().stream_info("PROD_KALSHI")).config.num_replicas == 1
    finally:
        await nc.close()


@pytest.mark.slow
async def test_ensure_waits_through_a_leader_election(nats_cluster: EmbeddedCluster) -> None:
    """Right after the leader's node dies, ensure_stream waits for the new leader instead of failing."""
    nc = await nats.connect(nats_cluster.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    spec = StreamSpec.for_prefix("ELECT", "elect.kalshi", replicas=3)
    try:
        info, action = await ensure_stream(js, spec)
        assert action == "created" and info.cluster is not None and info.cluster.leader
        dead = info.cluster.leader
        await asyncio.to_thread(nats_cluster.kill, nats_cluster.index_of(dead))
        info, action = await ensure_stream(js, spec)
        assert action == "unchanged"
        assert info.cluster is not None and info.cluster.leader not in (None, dead)
    finally:
        await nc.close()


def test_r3_on_a_single_server_is_a_clear_error(tmp_path: Path, nats_server: EmbeddedNats, unique_name: str) -> None:
    out = ssmd("stream", "ensure", "--env", str(env_file(tmp_path, unique_name, nats_server.url)), "--replicas", "3")
    assert out.returncode == 1
    assert "single server" in out.stderr and "--cluster 3" in out.stderr and "Traceback" not in out.stderr


def test_nats_serve_cluster_runs_three_nodes_that_fsync_every_write(tmp_path: Path) -> None:
    """`ssmd nats serve --cluster 3` prints the URL list, takes an R3 stream, and stops every node on SIGTERM."""
    port, route, http = _three_free(), _three_free(), _three_free()  # the nodes take consecutive ports
    proc = subprocess.Popen([sys.executable, "-m", "ssmd", "nats", "serve", "--cluster", "3", "--port", str(port),
                             "--cluster-port", str(route), "--http-port", str(http), "--store-dir",
                             str(tmp_path / "nats")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        urls = ",".join(f"nats://127.0.0.1:{port + i}" for i in range(3))
        assert f"3-node JetStream cluster 'ssmd' ready: NATS_URL={urls}" in line, line
        config = (tmp_path / "nats" / "n2" / "n2.conf").read_text()
        assert "sync_interval: always" in config and "Jepsen" in config
        out = ssmd("stream", "ensure", "--env", str(env_file(tmp_path, "demo", urls)), "--replicas", "3")
        assert out.returncode == 0 and "replicas 3" in out.stdout, out.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 10
        while not all(_port_free(port + i) for i in range(3)):
            assert time.monotonic() < deadline, "a node outlived `ssmd nats serve`"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _three_free() -> int:
    """A port that is free together with the next two (distinct from any this helper returned before), below the
    kernel's ephemeral range when there is room: ports in that range go to every outgoing connection the other
    tests open meanwhile, and one of them took a node's port between this check and the node's bind (CI)."""
    ceiling = _ephemeral_low() - 3
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(10_000, ceiling) if ceiling > 10_000 else free_port()
        if base + 2 < 65536 and all(_port_free(base + i) for i in range(3)) and base not in _TAKEN:
            _TAKEN.update(range(base - 2, base + 3))
            return base
    raise AssertionError("no three consecutive free ports")


def _ephemeral_low() -> int:
    """The first port the kernel hands out by itself (Linux's ``ip_local_port_range``; 32768 where unreadable)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_TAKEN: set[int] = set()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
