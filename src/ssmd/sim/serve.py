"""Running a simulator from its command line until it is told to stop: one loop for every feed's simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol


class Server(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def serve_until_stopped(server: Server, banner: Callable[[], str], duration: float | None) -> None:
    """Start ``server``, print ``banner()`` (asked after the start, when the port is known; one line whose end is the
    URL ``ssmd up`` and the test helpers read), then serve until SIGINT/SIGTERM or ``duration`` seconds; stop it
    either way."""
    from ssmd.runtime.logging import setup_logging
    from ssmd.runtime.shutdown import shutdown_event

    setup_logging()
    stop = shutdown_event()
    await server.start()
    print(banner(), flush=True)
    try:
        await asyncio.wait_for(stop.wait(), timeout=duration)
    except TimeoutError:
        pass
    finally:
        await server.stop()
