"""``ssmd archiver --config archiver.yaml`` (alias ``ssmd-archiver``): the guide's interface."""

from __future__ import annotations

import asyncio
import logging
import os

import click
from prometheus_client import CollectorRegistry

from ssmd.config import load_archiver
from ssmd.errors import EXIT_FAILURE, InputError, SsmdError
from ssmd.runtime.logging import setup_logging
from ssmd.runtime.process import checked, run_service

log = logging.getLogger("ssmd.archiver")


@click.command("archiver")
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="archiver.yaml (nats, storage, rotation; see docs/archiver.md)")
@click.option("--health-addr", default="0.0.0.0:8080", show_default=True,
              help="HOST:PORT for /health, /ready and /metrics")
def archiver(config_path: str, health_addr: str) -> None:
    """Archive a JetStream stream into rotated .jsonl.gz files + manifest, exactly once."""
    setup_logging()
    config = checked(lambda: load_archiver(config_path, os.environ), prefix="")
    checked(lambda: _check_addr(health_addr), prefix="")
    run_service(lambda stop: _main(config, config_path, health_addr, stop), prefix="")


def _check_addr(health_addr: str) -> None:
    from ssmd.runtime.http import parse_addr

    try:
        parse_addr(health_addr)
    except ValueError as exc:
        raise InputError(f"--health-addr: {exc}") from None


async def _main(config: object, config_path: str, health_addr: str, stop: asyncio.Event) -> None:
    from ssmd.archiver.service import Archiver
    from ssmd.bus.connect import NatsUnavailable
    from ssmd.bus.streams import StreamConflict, StreamUnavailable
    from ssmd.config.archiver import ArchiverConfig
    from ssmd.config.urls import redact_in
    from ssmd.runtime.http import HealthServer

    assert isinstance(config, ArchiverConfig)
    registry = CollectorRegistry()
    service = Archiver(config, registry)
    server = HealthServer(health_addr, registry, service.health, service.ready)
    try:
        await server.start()
    except OSError as exc:
        raise InputError(f"--health-addr {health_addr}: {exc.strerror or exc}") from None
    try:
        await service.run(stop)
    except NatsUnavailable as exc:
        source = " (set by NATS_URL)" if os.environ.get("NATS_URL") else ""
        raise InputError(f"{config_path}: nats.url{source}: {redact_in(str(exc), config.nats.url)}") from None
    except (StreamConflict, StreamUnavailable) as exc:
        raise InputError(f"{config_path}: nats: {redact_in(str(exc), config.nats.url)}") from None
    except OSError as exc:  # e.g. the archive cannot even be read for crash recovery
        raise SsmdError(f"ssmd-archiver: cannot use the archive under {config.storage.path}: {exc}",
                        exit_code=EXIT_FAILURE) from None
    finally:
        await server.stop()
