"""One way to connect to NATS for every service: reconnect forever, fail over, log state changes, fail fast at start.

The connection policy lives here and nowhere else: every server of the list (``nats://a:4222,nats://b:4222``) is
in the client's pool, reconnects never stop, and a reconnect tries the next server after a short wait. One dead
node of a cluster therefore costs a reconnect, never a service; what was in flight is the services' business
(they re-send with the same ``Nats-Msg-Id`` or re-create their consumer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import nats
from nats.aio.client import Client

from ssmd.config.urls import parse_servers, redact_url, redact_urls
from ssmd.errors import InputError

log = logging.getLogger(__name__)

RECONNECT_WAIT_S = 0.5
"""Pause before trying a server again that was tried just now (nats-py moves to the next server at once)."""


class NatsUnavailable(InputError):
    """The NATS server could not be reached at start-up (services exit 2 with this message)."""


def server_list(servers: str | Sequence[str]) -> tuple[str, ...]:
    """``"nats://a:4222,nats://b:4222"`` or a list of URLs -> the validated tuple (``ValueError`` if invalid)."""
    return parse_servers(servers if isinstance(servers, str) else ",".join(servers))


def connected_server(nc: Client) -> str | None:
    """The URL of the server ``nc`` is connected to right now (redacted), or ``None``."""
    uri = nc.connected_url
    return redact_url(uri.geturl()) if uri is not None else None


async def connect(servers: str | Sequence[str], name: str, connect_timeout: float = 5.0, **options: Any) -> Client:
    """Connect once (raising :class:`NatsUnavailable` on failure), then reconnect forever in the background.

    ``servers`` is one URL or several (a comma-separated string or a list): the first connect tries each in turn
    within ``connect_timeout``; later reconnects go round all of them (and the servers the cluster advertises).
    Failing fast at start-up tells an operator the URLs are wrong; after that, a NATS restart is routine.
    Callbacks passed in ``options`` replace the logging ones.
    """
    try:
        pool = server_list(servers)
    except ValueError as exc:
        raise NatsUnavailable(f"invalid NATS server list {redact_urls(servers)!r}: {exc}") from None
    shown = redact_urls(pool)
    holder: list[Client] = []

    async def on_disconnect() -> None:
        if holder and holder[0].is_closed:
            return  # our own close(), not news
        log.warning("nats disconnected", extra={"nats_url": shown})

    async def on_reconnect() -> None:
        now = connected_server(holder[0]) if holder else None
        log.info("nats reconnected", extra={"nats_url": shown, "nats_server": now})

    last_error: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        last_error[:] = [exc]
        log.debug("nats error: %s", exc)

    settings: dict[str, Any] = {
        "servers": list(pool),
        "name": name,
        # One unreachable server (a blackholed address) must not use up the whole start-up budget.
        "connect_timeout": max(1.0, connect_timeout / len(pool)),
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": RECONNECT_WAIT_S,
        "disconnected_cb": on_disconnect,
        "reconnected_cb": on_reconnect,
        "error_cb": on_error,
        "pending_size": 64 * 1024 * 1024,
    }
    settings.update(options)
    try:
        # nats-py keeps retrying a failed first connect, whatever its options say: bound it ourselves.
        nc: Client = await asyncio.wait_for(nats.connect(**settings), timeout=connect_timeout)
    except Exception as exc:
        cause = last_error[0] if last_error else exc
        where = f"any of {shown}" if len(pool) > 1 else shown
        raise NatsUnavailable(f"cannot connect to NATS at {where}: {cause or type(cause).__name__}") from None
    holder.append(nc)
    return nc
