"""Where frames go: the interface the WebSocket reader sees, and the in-memory sink for tests.

The reader only ever calls ``submit`` (synchronous, never blocks); durability and retries are the sink's job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from ssmd.bus.headers import FrameHeaders


class Sink(Protocol):
    dropped: int

    @property
    def tasks(self) -> Sequence[asyncio.Task[Any]]:
        """Background tasks the connector watches: one that ends before ``stop`` is a crash."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def submit(self, subject: str, payload: bytes, headers: FrameHeaders, type_token: str, t0: float) -> None:
        """Take one frame with its ``Nats-Msg-Id`` and ``Ssmd-*`` metadata; ``t0`` is ``time.monotonic()`` when it was
        read (its publish latency runs from there)."""

    async def drain(self, limit_s: float) -> int:
        """Make everything submitted durable within ``limit_s`` s; return how many frames are not."""

    def not_ready_reason(self) -> str | None: ...

    @property
    def pending(self) -> int: ...


class MemorySink:
    """``transport: memory``: keeps frames in a list. For tests only; nothing survives the process."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, bytes, dict[str, str]]] = []
        self.dropped = 0

    @property
    def tasks(self) -> Sequence[asyncio.Task[Any]]:
        return ()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def submit(self, subject: str, payload: bytes, headers: FrameHeaders, type_token: str, t0: float) -> None:
        self.frames.append((subject, payload, headers.as_dict()))

    async def drain(self, limit_s: float) -> int:
        return 0

    def not_ready_reason(self) -> str | None:
        return None

    @property
    def pending(self) -> int:
        return 0
