"""One way to connect to NATS for every service: reconnect forever, log state changes, fail fast at start."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import nats
from nats.aio.client import Client

log = logging.getLogger(__name__)


class NatsUnavailable(Exception):
    """The NATS server could not be reached at start-up (services exit 2 with this message)."""


async def connect(url: str, name: str, connect_timeout: float = 5.0, **options: Any) -> Client:
    """Connect once (raising :class:`NatsUnavailable` on failure), then reconnect forever in the background.

    Failing fast at start-up tells an operator the URL is wrong; after that, a NATS restart is routine.
    """

    async def on_disconnect() -> None:
        log.warning("nats disconnected", extra={"nats_url": url})

    async def on_reconnect() -> None:
        log.info("nats reconnected", extra={"nats_url": url})

    last_error: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        last_error[:] = [exc]
        log.debug("nats error: %s", exc)

    settings: dict[str, Any] = {
        "servers": [url],
        "name": name,
        "connect_timeout": connect_timeout,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "disconnected_cb": on_disconnect,
        "reconnected_cb": on_reconnect,
        "error_cb": on_error,
        "pending_size": 64 * 1024 * 1024,
    }
    settings.update(options)
    try:
        # nats-py keeps retrying a failed first connect, whatever its options say: bound it ourselves.
        return await asyncio.wait_for(nats.connect(**settings), timeout=connect_timeout)
    except Exception as exc:
        cause = last_error[0] if last_error else exc
        raise NatsUnavailable(f"cannot connect to NATS at {url}: {cause or type(cause).__name__}") from None
