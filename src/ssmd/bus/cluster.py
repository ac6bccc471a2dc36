"""A real JetStream cluster of ``nats-server`` processes on one machine, for tests, demos and benchmarks.

Production JetStream is three servers with streams at three replicas; this is the same thing on 127.0.0.1:
every node has its own client, route and monitoring port, its own store directory and ``server_name``, and
routes to all its peers. ``kill(i)`` (SIGKILL) and ``restart(i)`` (same ports, same store) are what the
failover tests do to it; ``ssmd nats serve --cluster 3`` and ``ssmd up --cluster 3`` run it for people.

The node configuration sets ``sync_interval: always`` (see :data:`SYNC_COMMENT` for why and what it costs).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from ssmd.bus.embedded import EmbeddedNats, _Served, find_nats_server, free_port

CLUSTER_NAME = "ssmd"

SYNC_COMMENT = """\
  # sync_interval: always -- fsync every write to disk before the publish is acknowledged.
  # Why: JetStream acks a publish once a quorum (2 of 3) has it, but by default each server only fsyncs its
  # files every 2 minutes. Jepsen's 2025 analysis of NATS 2.12 lost acknowledged writes when several nodes
  # crashed together (power loss, kernel panic, a whole zone): the quorum had the message in page cache only.
  # Cost: every stored message waits for the disk, so publish throughput drops (a lot on slow disks; see
  # bench/connector.py --cluster for R3 next to R1). The alternative is the default interval with the three
  # nodes in separate failure domains (zones, racks, power), so that no single event crashes a quorum."""


@dataclass(frozen=True)
class NodePorts:
    client: int
    route: int
    http: int


class ClusterNode(EmbeddedNats):
    """One member of an :class:`EmbeddedCluster`: started from a config file, logging to a file."""

    def __init__(self, name: str, store_dir: Path, ports: NodePorts, peers: Sequence[int], host: str,
                 cluster_name: str, sync_always: bool) -> None:
        super().__init__(store_dir=store_dir / "store", port=ports.client, host=host, http_port=ports.http)
        self.name = name
        self.ports = ports
        self.peers = list(peers)
        self.cluster_name = cluster_name
        self.sync_always = sync_always
        self.config_path = store_dir / f"{name}.conf"
        self.log_path = store_dir / f"{name}.log"

    def config_text(self) -> str:
        routes = "\n".join(f'    "nats-route://{self.host}:{port}"' for port in self.peers)
        sync = f"{SYNC_COMMENT}\n  sync_interval: always\n" if self.sync_always else ""
        return (
            f"# {self.name}: one node of the {self.cluster_name!r} JetStream cluster (written by ssmd)\n"
            f'server_name: "{self.name}"\n'
            f'listen: "{self.host}:{self.ports.client}"\n'
            f'http: "{self.host}:{self.ports.http}"\n'
            "jetstream {\n"
            f'  store_dir: "{self.store_dir}"\n'
            f"{sync}"
            "}\n"
            "cluster {\n"
            f'  name: "{self.cluster_name}"\n'
            f'  listen: "{self.host}:{self.ports.route}"\n'
            f"  routes: [\n{routes}\n  ]\n"
            "}\n"
        )

    def write_config(self) -> Path:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text())
        return self.config_path

    def command(self) -> list[str]:
        return [find_nats_server(), "-c", str(self.config_path)]

    def start(self, timeout: float = 10.0) -> ClusterNode:
        self.write_config()
        super().start(timeout)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        """``/healthz``: 200 once this node's JetStream is up and in contact with a meta leader."""
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.ports.http}/healthz", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def client_names(self) -> list[str]:
        """The ``name`` of every client connected to this node right now (``/connz``)."""
        try:
            url = f"http://{self.host}:{self.ports.http}/connz?limit=4096"
            with urllib.request.urlopen(url, timeout=2) as resp:
                body = orjson.loads(resp.read())
        except (urllib.error.URLError, OSError, orjson.JSONDecodeError):
            return []
        return [str(c.get("name", "")) for c in body.get("connections") or []]


class EmbeddedCluster(_Served):
    """``size`` nats-servers routed into one JetStream cluster (free ports unless given)."""

    def __init__(
        self,
        size: int = 3,
        store_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        client_ports: Sequence[int] | None = None,
        route_ports: Sequence[int] | None = None,
        http_ports: Sequence[int] | None = None,
        name: str = CLUSTER_NAME,
        sync_always: bool = True,
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        self._own_dir = store_dir is None
        self.store_dir = Path(store_dir or tempfile.mkdtemp(prefix="ssmd-nats-cluster-"))
        self.name = name
        clients = list(client_ports or [free_port(host) for _ in range(size)])
        routes = list(route_ports or [free_port(host) for _ in range(size)])
        https = list(http_ports or [free_port(host) for _ in range(size)])
        if not len(clients) == len(routes) == len(https) == size:
            raise ValueError(f"a cluster of {size} needs {size} client, route and monitoring ports")
        self.nodes = [
            ClusterNode(f"n{i + 1}", self.store_dir / f"n{i + 1}", NodePorts(clients[i], routes[i], https[i]),
                        [p for j, p in enumerate(routes) if j != i], host, name, sync_always)
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated: what ``NATS_URL`` and ``transport.url`` take."""
        return ",".join(self.urls)

    def write_configs(self) -> list[Path]:
        return [node.write_config() for node in self.nodes]

    def start(self, timeout: float = 30.0) -> EmbeddedCluster:
        """Start every node, then wait until each is healthy (JetStream up, meta leader known)."""
        for node in self.nodes:
            node.start(timeout)
        self.wait_healthy(timeout=timeout)
        return self

    def wait_healthy(self, nodes: Sequence[int] | None = None, timeout: float = 30.0) -> None:
        indexes = list(range(len(self.nodes))) if nodes is None else list(nodes)
        deadline = time.monotonic() + timeout
        waiting = indexes
        while waiting:
            waiting = [i for i in waiting if not self.nodes[i].healthy()]
            if not waiting:
                return
            for i in waiting:
                node = self.nodes[i]
                if node.proc is not None and node.proc.poll() is not None:
                    raise RuntimeError(f"nats-server {node.name} exited with {node.proc.returncode}: "
                                       f"{node._error_text()}")
            if time.monotonic() > deadline:
                names = ", ".join(self.nodes[i].name for i in waiting)
                raise TimeoutError(f"JetStream cluster not healthy within {timeout}s: {names} "
                                   f"(logs in {self.store_dir})")
            time.sleep(0.1)

    def kill(self, index: int) -> None:
        """SIGKILL one node: no goodbye to its peers or clients, as when a machine dies."""
        self.nodes[index].stop(kill=True)

    def restart(self, index: int, timeout: float = 30.0) -> None:
        """Start a stopped node again with its ports and store, and wait until it is healthy."""
        self.nodes[index].start(timeout)
        self.wait_healthy([index], timeout)

    def index_of(self, server_name: str) -> int:
        for i, node in enumerate(self.nodes):
            if node.name == server_name:
                return i
        raise KeyError(f"no node named {server_name!r} in this cluster")

    def nodes_serving(self, client_name: str) -> list[int]:
        """Indexes of the running nodes that ``client_name`` (nats-py's ``name=``) is connected to."""
        return [i for i, node in enumerate(self.nodes) if node.running and client_name in node.client_names()]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)



def serve_cluster_forever(cluster: EmbeddedCluster, report: object = print) -> None:
    """``ssmd nats serve --cluster N``: run the nodes until Ctrl-C/SIGTERM, restarting none (a dead node is news)."""
    import signal

    stopping = False

    def on_signal(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        cluster.start()
        assert callable(report)
        report(f"{len(cluster.nodes)}-node JetStream cluster {cluster.name!r} ready: NATS_URL={cluster.url}")
        for node in cluster.nodes:
            report(f"  {node.name}  {node.url}  routes :{node.ports.route}  monitor http://{node.host}:"
                   f"{node.ports.http}  config {node.config_path}  log {node.log_path}")
        reported: set[str] = set()
        while not stopping:
            time.sleep(0.2)
            for node in cluster.nodes:
                if node.proc is not None and node.proc.poll() is not None and node.name not in reported:
                    reported.add(node.name)
                    report(f"! {node.name} exited with {node.proc.returncode}; see {node.log_path}")
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
