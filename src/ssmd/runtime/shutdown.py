"""Graceful shutdown: SIGTERM (Kubernetes) and SIGINT (Ctrl-C) both set one event."""

from __future__ import annotations

import asyncio
import signal


def shutdown_event() -> asyncio.Event:
    """Return an event set on the first SIGTERM or SIGINT; a second signal restores default behaviour."""
    loop = asyncio.get_running_loop()
    event = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        event.set()
        loop.remove_signal_handler(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    return event
