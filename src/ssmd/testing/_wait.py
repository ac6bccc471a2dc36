"""Polling with a deadline: the one way tests wait for something another process (or task) does.

A fixed ``sleep`` followed by an assert is a guess about how fast a loaded machine is; these poll often (so an
idle machine is quick) and give up late (so a loaded 2-core CI machine still passes), then say what they waited
for.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT_S = 60.0
"""Long enough for a busy 2-core machine; a healthy run never gets near it."""

Message = str | Callable[[], str]
"""What was awaited; a callable is only called on failure (e.g. to attach a process's log tail)."""


def _fail(what: Message, timeout: float, last: Any) -> AssertionError:
    text = what() if callable(what) else what
    return AssertionError(f"timed out after {timeout:g} s waiting for {text} (last check returned {last!r})")


async def wait_until(check: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT_S,  # noqa: ASYNC109
                     what: Message = "a condition", interval: float = 0.05,
                     retry_on: tuple[type[BaseException], ...] = ()) -> Any:
    """Call ``check`` (sync, or async) every ``interval`` s until it returns something truthy, and return that.

    Raises ``AssertionError`` naming ``what`` after ``timeout`` s: tests wait for events, never for guessed times.
    An exception in ``retry_on`` counts as "not yet" (e.g. a NATS request while a cluster elects a leader, a
    request to a node that is restarting); any other propagates at once. The last one is named on failure.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
        except retry_on as exc:
            result = exc
        else:
            if result:
                return result
        if loop.time() > deadline:
            raise _fail(what, timeout, result)
        await asyncio.sleep(interval)


def wait_until_sync(check: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT_S,
                    what: Message = "a condition", interval: float = 0.05) -> Any:
    """:func:`wait_until` for code without an event loop (plain tests, threads): blocks while it polls."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise _fail(what, timeout, result)
        time.sleep(interval)
