"""What only tests on a real 3-node JetStream cluster need: a client that fails over, the stream at R3, who leads
it, whether every replica caught up, and waiting through elections. The processes, the simulator, the archive
readers and the agent's fires are ssmd.testing's."""

from __future__ import annotations

import functools
from pathlib import Path

import aiohttp
import nats
import yaml
from nats.aio.client import Client

from ssmd.bus.cluster import EmbeddedCluster
from ssmd.bus.streams import StreamSpec, ensure_stream
from ssmd.testing import ArchiverProc, wait_until

CONNECTOR_CAPTURE = {"dead_after": 3, "ping_interval": 1, "publish_timeout": 2}

FAILOVER_ERRORS = (aiohttp.ClientError, OSError, nats.errors.Error)
"""What a request may raise while a node dies or a leader is elected: "not yet", not a failure."""

until = functools.partial(wait_until, interval=0.2, retry_on=FAILOVER_ERRORS)
"""ssmd.testing's wait_until through elections: ``until(check, timeout, what)``."""


async def client(cluster: EmbeddedCluster) -> Client:
    """The test's own connection, failing over like the services do."""
    return await nats.connect(cluster.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2, name="test")


async def r3_stream(nc: Client, name: str, prefix: str) -> None:
    await ensure_stream(nc.jetstream(), StreamSpec.for_prefix(name, prefix, replicas=3))


async def leader_of(nc: Client, cluster: EmbeddedCluster, stream: str) -> int:
    """Index of the node leading ``stream`` (waits through an election)."""
    async def ask() -> str | None:
        info = await nc.jetstream().stream_info(stream)
        return info.cluster.leader if info.cluster else None
    return cluster.index_of(await until(ask, 30, f"a leader for {stream}"))


async def all_current(nc: Client, stream: str) -> bool:
    """Every replica of ``stream`` is up and has caught up with the leader."""
    info = await nc.jetstream().stream_info(stream)
    peers = info.cluster.replicas if info.cluster else None
    return bool(info.cluster and info.cluster.leader and peers and len(peers) == 2
                and all(p.current and not p.offline for p in peers))


def archiver(workdir: Path, urls: str, stream: str, prefix: str, archive: Path) -> ArchiverProc:
    """The archiver on ``stream`` at every node's URL, with its durable consumer ``archiver``."""
    config = workdir / "archiver.yaml"
    config.write_text(yaml.safe_dump({
        "nats": {"url": urls, "stream": stream, "consumer": "archiver", "filter": f"{prefix}.json.>"},
        "storage": {"path": str(archive)},
    }))
    return ArchiverProc(config, workdir / "archiver.log")
