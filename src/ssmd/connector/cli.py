"""``ssmd connector`` (also ``ssmd-connector``): the deployment guide's arguments, unchanged."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from ssmd.errors import InputError

if TYPE_CHECKING:
    from ssmd.connector.partition import Partition

log = logging.getLogger("ssmd.connector")


@click.command("connector")
@click.option("--feed", "-f", "feed_path", required=True, help="Feed file (e.g. /config/feeds/kalshi.yaml).")
@click.option("--env", "-e", "env_path", required=True, help="Environment file (e.g. /config/environments/prod.yaml).")
@click.option("--health-addr", default="0.0.0.0:8080", show_default=True, help="HOST:PORT for /health /ready /metrics.")
@click.option("--ws-url", envvar="SSMD_KALSHI_WS_URL", default=None,
              help="WebSocket URL override (the simulator, a proxy); env SSMD_KALSHI_WS_URL.")
@click.option("--rest-url", envvar="SSMD_REST_URL", default=None,
              help="REST (market discovery) base override, for any feed; env SSMD_REST_URL.")
@click.option("--rotation", default="15m", show_default=True, help="File mode only: archive file rotation interval.")
@click.option("--partition", envvar="SSMD_PARTITION", default=None, metavar="I/N",
              help="Capture only partition I of N of the markets (global channels: partition 0); env SSMD_PARTITION.")
@click.option("--instance", envvar="SSMD_INSTANCE", default=None, metavar="NAME",
              help="This connector's name, stamped on every message (header Ssmd-Instance); env SSMD_INSTANCE; "
                   "default: the hostname.")
@click.option("--no-auth", is_flag=True, hidden=True, help="Connect without credentials (simulator --no-auth only).")
def connector(feed_path: str, env_path: str, health_addr: str, ws_url: str | None, rest_url: str | None,
              rotation: str, partition: str | None, instance: str | None, no_auth: bool) -> None:
    """Capture an exchange's WebSocket frames into NATS JetStream, each exactly once, byte for byte.

    The feed file selects the exchange (feed_type kalshi/polymarket, else its name). Kalshi credentials:
    KALSHI_API_KEY and KALSHI_PRIVATE_KEY (the PEM text); KALSHI_USE_DEMO=true (or 1, yes, on) uses the demo
    host. Exit 2 with one line on anything an operator must fix; SIGTERM flushes and exits 0.
    """
    from ssmd.runtime.logging import setup_logging
    from ssmd.runtime.process import checked, run_service

    setup_logging()
    context = click.get_current_context()
    no_auth, part = checked(lambda: _flags(no_auth, partition, context.get_parameter_source("partition")), logger=log)
    name = checked(lambda: _instance(instance, context.get_parameter_source("instance")), logger=log)
    run_service(lambda stop: _main(feed_path, env_path, health_addr, ws_url, rest_url, rotation, no_auth, part, name,
                                   stop),
                logger=log)


def _flags(no_auth: bool, partition: str | None, source: ParameterSource | None) -> tuple[bool, Partition]:
    from ssmd.config.envvars import env_flag
    from ssmd.connector.partition import WHOLE, parse_partition

    no_auth = env_flag(os.environ, "SSMD_KALSHI_NO_AUTH") or no_auth
    try:
        return no_auth, WHOLE if partition is None else parse_partition(partition)
    except ValueError as exc:
        flag = "SSMD_PARTITION" if source is ParameterSource.ENVIRONMENT else "--partition"
        raise InputError(f"{flag}: {exc}") from None


def _instance(instance: str | None, source: ParameterSource | None) -> str:
    from ssmd.config.instance import check_instance, default_instance

    value = (instance or "").strip()
    if not value:
        return default_instance()
    return check_instance(value, "SSMD_INSTANCE" if source is ParameterSource.ENVIRONMENT else "--instance")


async def _main(feed_path: str, env_path: str, health_addr: str, ws_url: str | None, rest_url: str | None,
                rotation: str, no_auth: bool, partition: Partition, instance: str, shutdown: asyncio.Event) -> int:
    from ssmd.config import ConfigError, load_environment, load_feed
    from ssmd.config.archiver import check_rotation
    from ssmd.config.urls import redact_in, redact_url
    from ssmd.connector.endpoint import resolve_ws_url
    from ssmd.connector.service import Connector, Options, StartupError, TaskCrashed
    from ssmd.feed.registry import feed_name_for, get_feed
    from ssmd.runtime.http import parse_addr
    from ssmd.runtime.process import settle_heap

    try:
        feed = load_feed(feed_path)
        env = load_environment(env_path, os.environ)
    except ConfigError as exc:
        raise InputError(str(exc).replace("\n", "; ")) from None
    for flag, value, check in (("--health-addr", health_addr, parse_addr), ("--rotation", rotation, check_rotation)):
        try:
            check(value)
        except ValueError as exc:
            raise InputError(f"{flag}: {exc}") from None
    if env.feed != feed.name:
        raise InputError(f"{env_path}: feed: {env.feed!r} does not match name {feed.name!r} in {feed_path}")
    try:
        exchange = get_feed(feed_name_for(feed.feed_type, feed.name))
    except KeyError as exc:
        raise InputError(f"{feed_path}: name: {exc.args[0]} (or feed_type naming one)") from None
    try:  # checked at load for the feed the environment names; here for the one the feed file selects
        env.capture.for_feed(exchange)
    except ValueError as exc:
        raise InputError(f"{env_path}: capture: {exc}") from None
    credentials = None if no_auth else exchange.credentials(os.environ)
    try:
        url = resolve_ws_url(exchange, feed, os.environ, ws_url)
    except LookupError as exc:
        raise InputError(f"{feed_path}: versions: {exc}") from None
    connector_ = Connector(feed, env, Options(env_path, url, credentials, health_addr, rotation,
                                              partition=partition, rest_url=rest_url, instance=instance),
                           exchange=exchange)
    try:
        await connector_.start()
        settle_heap()
        log.info("connector started", extra={"feed": feed.name, "env": env.name, "ws_url": redact_url(url),
                                             "health_addr": health_addr, "shards": len(connector_.shards),
                                             "partition": str(partition), "markets": len(connector_.markets)})
        await connector_.run(shutdown)
    except StartupError as exc:
        await connector_.stop()
        raise InputError(redact_in(str(exc), env.transport.url)) from None
    except TaskCrashed as exc:  # logged with its traceback where it happened
        left = await connector_.stop()
        log.error("connector exiting with code 1 so that it is restarted: %s", exc, extra={"unflushed": left})
        return 1
    left = await connector_.stop()
    log.info("connector stopped", extra={"unflushed": left})
    return 0
