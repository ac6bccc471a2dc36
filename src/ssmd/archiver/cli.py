"""``ssmd archiver --config archiver.yaml`` (alias ``ssmd-archiver``): the guide's interface."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import click
from prometheus_client import CollectorRegistry

from ssmd.config import ConfigError, load_archiver
from ssmd.runtime.logging import setup_logging

log = logging.getLogger("ssmd.archiver")


@click.command("archiver")
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="archiver.yaml (nats, storage, rotation; see docs/archiver.md)")
@click.option("--health-addr", default="0.0.0.0:8080", show_default=True,
              help="HOST:PORT for /health, /ready and /metrics")
def archiver(config_path: str, health_addr: str) -> None:
    """Archive a JetStream stream into rotated .jsonl.gz files + manifest, exactly once."""
    setup_logging()
    try:
        config = load_archiver(config_path, os.environ)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    from ssmd.runtime.http import parse_addr

    try:
        parse_addr(health_addr)
    except ValueError as exc:
        click.echo(f"--health-addr: {exc}", err=True)
        sys.exit(2)
    sys.exit(asyncio.run(_main(config, config_path, health_addr)))


async def _main(config: object, config_path: str, health_addr: str) -> int:
    from ssmd.archiver.service import Archiver
    from ssmd.bus.connect import NatsUnavailable
    from ssmd.bus.streams import StreamConflict, StreamUnavailable
    from ssmd.config.archiver import ArchiverConfig
    from ssmd.config.urls import redact_in
    from ssmd.runtime.http import HealthServer
    from ssmd.runtime.shutdown import shutdown_event

    assert isinstance(config, ArchiverConfig)
    stop = shutdown_event()
    registry = CollectorRegistry()
    service = Archiver(config, registry)
    server = HealthServer(health_addr, registry, service.health, service.ready)
    try:
        await server.start()
    except OSError as exc:
        click.echo(f"--health-addr {health_addr}: {exc.strerror or exc}", err=True)
        return 2
    try:
        await service.run(stop)
    except NatsUnavailable as exc:
        source = " (set by NATS_URL)" if os.environ.get("NATS_URL") else ""
        click.echo(f"{config_path}: nats.url{source}: {redact_in(str(exc), config.nats.url)}", err=True)
        return 2
    except (StreamConflict, StreamUnavailable) as exc:
        click.echo(f"{config_path}: nats: {redact_in(str(exc), config.nats.url)}", err=True)
        return 2
    except OSError as exc:  # e.g. the archive cannot even be read for crash recovery
        click.echo(f"ssmd-archiver: cannot use the archive under {config.storage.path}: {exc}", err=True)
        return 1
    finally:
        await server.stop()
    return 0
