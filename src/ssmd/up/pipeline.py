"""What ``ssmd up`` runs: config files in the data directory and one ChildSpec per process.

Everything lives under one data directory (configs, keys, NATS store, archive, logs), so a demo is inspectable
afterwards and ``rm -rf`` undoes it. Children are started as ``python -m ssmd ...`` of this interpreter, so the
demo works from a venv without anything on ``PATH``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from ssmd import naming
from ssmd.bus.cluster import EmbeddedCluster
from ssmd.bus.embedded import EmbeddedNats, free_port
from ssmd.feed.base import Feed
from ssmd.feed.registry import get_feed
from ssmd.up.spec import ChildSpec

DEFAULT_FEED = "kalshi"
DEMO_KEY_ID = "ssmd-demo"
DEFAULT_SIGNALS = ("price_cross[threshold=0.5],spread_wide[max_cents=5],volume_spike,flow_imbalance,"
                   "market_status[on=[determined,settled]]")
MARKER_ENV = "SSMD_UP_DATA_DIR"
"""Set in every child's environment: lets tests (and `ps e`) find every process one `ssmd up` started."""

# Inherited settings that would silently point a child somewhere else than the pipeline we build.
_SCRUBBED = ("NATS_URL", "NATS_SUBJECTS", "SSMD_DATA_DIR", "SSMD_KALSHI_WS_URL", "SSMD_SIGNALS", "PORT",
             "SSMD_STREAM", "SSMD_KALSHI_NO_AUTH")


@dataclass(frozen=True)
class Options:
    data_dir: Path
    live: bool = False
    feed: str = DEFAULT_FEED
    """``--feed``: which registered feed to run (its simulator, unless ``live``)."""
    rate: float = 200.0
    markets: int = 50
    rotation: str = "1m"
    signals: str = DEFAULT_SIGNALS
    seed: int | None = None
    cluster: int | None = None
    """Nodes of a local JetStream cluster (streams at up to 3 replicas); ``None``: one nats-server."""


@dataclass(frozen=True)
class Plan:
    data_dir: Path
    feed: str
    env_name: str
    stream: str
    consumer: str
    subject_prefix: str
    archive_root: Path
    config_dir: Path
    nats: tuple[ChildSpec, ...]
    """One nats-server, or every node of the cluster."""
    nats_url: str
    """The server's URL, or every node's, comma-separated (what NATS_URL and the config files hold)."""
    replicas: int
    stream_ensure: ChildSpec
    keygen: ChildSpec | None
    sim: ChildSpec | None
    sim_url: str | None
    """The simulator's HTTP base (its ``/_sim`` control endpoints)."""
    sim_ws_url: str | None
    sim_env_files: dict[str, Path]
    """Connector variables set to a file's text once ``keygen`` has run (see :func:`with_demo_credentials`)."""
    connector: ChildSpec
    archiver: ChildSpec
    agent: ChildSpec
    sent_log: Path | None
    rotation: str
    keys_dir: Path | None

    @property
    def services(self) -> list[ChildSpec]:
        """Long-running children in start order (NATS first, data sources before consumers)."""
        return [s for s in (*self.nats, self.sim, self.archiver, self.agent, self.connector) if s is not None]

    @property
    def nats_dir(self) -> Path:
        return self.data_dir / ("nats-cluster" if len(self.nats) > 1 else "nats")


def ssmd_command(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "ssmd", *args)


def _write_yaml(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_feed(path: Path, feed: str = DEFAULT_FEED) -> Path:
    """A feed file for ``feed``: its live endpoint (a simulator is reached with the connector's ``--ws-url``)."""
    return _write_yaml(path, {
        "name": feed, "feed_type": "websocket",
        "versions": [{"version": "2", "endpoint": get_feed(feed).ws_url,
                      "protocol": {"transport": "websocket", "message": "json"}}],
    })


def base_env(data_dir: Path, live: bool, environ: dict[str, str] | None = None,
             feed: str = DEFAULT_FEED) -> dict[str, str]:
    """The environment every child inherits: the user's, minus settings that would redirect it (for a demo,
    also the feed's credentials and switches: the simulator gets its own)."""
    env = dict(os.environ if environ is None else environ)
    scrub = _SCRUBBED if live else (*_SCRUBBED, *get_feed(feed).environ_vars)
    for name in scrub:
        env.pop(name, None)
    env[MARKER_ENV] = str(data_dir)
    env.setdefault("SSMD_LOG", "info")
    return env


def build(opts: Options) -> Plan:
    """Write the configs into ``opts.data_dir`` and describe every child. Nothing is started here."""
    data = opts.data_dir.resolve()
    config_dir, logs, archive = data / "config", data / "logs", data / "archive"
    env_name = "live" if opts.live else "demo"
    name = opts.feed
    feed = get_feed(name)
    prefix = naming.prefix(env_name, name)
    stream = naming.stream_name(env_name, name)
    consumer = naming.archiver_durable(name)

    nats, nats_url = _nats(data, logs, opts.cluster)
    replicas = min(len(nats), 3)
    feed_path = write_feed(config_dir / "feeds" / f"{name}.yaml", name)
    environment: dict[str, object] = {
        "name": env_name, "feed": name, "schema": "trade:v1",
        "transport": {"transport_type": "nats", "url": nats_url},
        "storage": {"storage_type": "local", "path": str(archive)},
    }
    if not opts.live:
        # The simulator is small enough to watch every book too (live keeps the guide's global channels).
        environment["capture"] = demo_capture(feed)
    env_path = _write_yaml(config_dir / "environments" / f"{env_name}.yaml", environment)
    archiver_path = _write_yaml(config_dir / "archiver.yaml", {
        "nats": {"url": nats_url, "stream": stream, "consumer": consumer, "filter": naming.frames_filter(prefix)},
        "storage": {"path": str(archive)},
        "rotation": {"interval": opts.rotation},
    })

    ensure = ChildSpec("stream", ssmd_command("stream", "ensure", "--env", str(env_path), "--max-age", "1h",
                                              "--replicas", str(replicas)))

    connector_port, archiver_port, agent_port = free_port(), free_port(), free_port()
    connector_args = ["connector", "--feed", str(feed_path), "--env", str(env_path),
                      "--health-addr", f"127.0.0.1:{connector_port}"]
    keygen = sim = None
    sim_url = sim_ws_url = sent_log = keys = None
    env_files: dict[str, Path] = {}
    connector_env: dict[str, str] = {}
    if not opts.live:
        keys = data / "keys"
        sim_port = free_port()
        sim_url = f"http://127.0.0.1:{sim_port}"
        sim_ws_url = f"ws://127.0.0.1:{sim_port}{feed.sim_ws_path}"
        sent_log = data / "sim-sent.jsonl"
        sim_args = [*feed.sim_command, "--port", str(sim_port), "--markets", str(opts.markets),
                    "--rate", str(opts.rate), "--sent-log", str(sent_log)]
        auth = feed.sim_auth(keys, DEMO_KEY_ID)
        if auth is not None:
            keygen = ChildSpec("keygen", ssmd_command(*auth.keygen))
            sim_args += auth.sim_args
            connector_env, env_files = dict(auth.env), dict(auth.env_files)
        else:
            connector_args.append("--no-auth")
        if opts.seed is not None:
            sim_args += ["--seed", str(opts.seed)]
        sim = ChildSpec("simulator", ssmd_command(*sim_args), health_url=f"{sim_url}/_sim/stats",
                        log_path=logs / "simulator.log")
        connector_args += ["--ws-url", sim_ws_url]
    connector = ChildSpec("connector", ssmd_command(*connector_args), env=connector_env,
                          health_url=f"http://127.0.0.1:{connector_port}/health", log_path=logs / "connector.log")
    archiver = ChildSpec("archiver", ssmd_command("archiver", "--config", str(archiver_path),
                                           "--health-addr", f"127.0.0.1:{archiver_port}"),
                         health_url=f"http://127.0.0.1:{archiver_port}/health", log_path=logs / "archiver.log")
    agent = ChildSpec("agent", ssmd_command("agent", "run", "--host", "127.0.0.1"),
                      env={"NATS_URL": nats_url, "NATS_SUBJECTS": naming.frames_filter(prefix),
                           "PORT": str(agent_port), "SSMD_SIGNALS": opts.signals},
                      health_url=f"http://127.0.0.1:{agent_port}/health", log_path=logs / "agent.log")
    return Plan(
        data_dir=data, feed=name, env_name=env_name, stream=stream, consumer=consumer, subject_prefix=prefix,
        archive_root=archive, config_dir=config_dir, nats=nats, nats_url=nats_url, replicas=replicas,
        stream_ensure=ensure,
        keygen=keygen, sim=sim, sim_url=sim_url, sim_ws_url=sim_ws_url, sim_env_files=env_files,
        connector=connector, archiver=archiver, agent=agent,
        sent_log=sent_log, rotation=opts.rotation, keys_dir=keys,
    )


def _nats(data: Path, logs: Path, cluster: int | None) -> tuple[tuple[ChildSpec, ...], str]:
    """One nats-server, or a cluster whose node configs are written now (``sync_interval: always``)."""
    if not cluster:
        server = EmbeddedNats(store_dir=data / "nats", port=free_port())
        spec = ChildSpec("nats-server", tuple(server.command()), tcp_port=server.port,
                         log_path=logs / "nats-server.log")
        return (spec,), server.url
    nodes = EmbeddedCluster(cluster, store_dir=data / "nats-cluster")
    nodes.write_configs()
    # Healthy means JetStream is up and knows its meta leader: true only once a quorum of nodes has formed, so
    # the nodes must be started together (see run._start).
    specs = tuple(ChildSpec(f"nats-{node.name}", tuple(node.command()), tcp_port=node.port,
                            health_url=f"http://{node.host}:{node.ports.http}/healthz",
                            log_path=logs / f"nats-{node.name}.log") for node in nodes.nodes)
    return specs, nodes.url


def demo_capture(feed: Feed) -> dict[str, object]:
    """A demo captures every channel of the small simulated exchange: the defaults plus every book."""
    channels = [*feed.default_channels, *sorted(set(feed.market_channels) - set(feed.default_channels))]
    capture: dict[str, object] = {"channels": channels}
    if feed.market_channels:
        capture["markets"] = {"discover": {"refresh": "1m"}}
    return capture


def with_demo_credentials(plan: Plan) -> Plan:
    """The connector signs in to the simulator with the key pair the feed's keygen just wrote."""
    env = {**plan.connector.env, **{name: path.read_text() for name, path in plan.sim_env_files.items()}}
    return replace(plan, connector=replace(plan.connector, env=env))


def metrics_url(spec: ChildSpec) -> str | None:
    return spec.health_url.rsplit("/", 1)[0] + "/metrics" if spec.health_url else None
