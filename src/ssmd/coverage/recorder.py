"""``CoverageRecorder``: what a connector calls when its capture changes; it builds the event and hands
``(subject, payload)`` to the connector's own publish function.

Why a callback and not a NATS client: the connector already has a publisher with acks, retries and back-pressure;
coverage events must go the same way as the frames (same stream, same durability), so the recorder only decides
*what* to say. The callback's return value is returned unchanged: a coroutine for an async publisher (``await``
it), ``None`` for a queueing one. Wiring it is a handful of lines::

    rec = CoverageRecorder(publisher.publish, env="prod", feed="kalshi", instance=instance)
    await rec.subscribed("trade", "all", conn=shard_id)
    await rec.disconnected("websocket closed 1006", conn=shard_id)
    tasks.spawn(rec.heartbeats())
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from ssmd.coverage.events import ALL, CoverageEvent, Markets, coverage_subject

R = TypeVar("R")
HEARTBEAT_EVERY_S = 10.0
log = logging.getLogger("ssmd.coverage")


def wall_ms() -> int:
    """Wall-clock ms: coverage from several hosts is compared on one time line, so not a monotonic clock."""
    return time.time_ns() // 1_000_000


class CoverageRecorder(Generic[R]):
    """One per connector process. ``conn`` (a connection or shard name) is optional everywhere: ``None`` means
    the whole instance. The recorder remembers what is subscribed, so each heartbeat restates it."""

    def __init__(self, publish: Callable[[str, bytes], R], *, env: str, feed: str, instance: str,
                 run: str | None = None, clock: Callable[[], int] = wall_ms,
                 heartbeat_every_s: float = HEARTBEAT_EVERY_S) -> None:
        if heartbeat_every_s <= 0:
            raise ValueError("heartbeat_every_s must be > 0")
        self.publish = publish
        self.feed = feed
        self.instance = instance
        self.run = run or uuid.uuid4().hex[:12]
        self.subject = coverage_subject(env, feed, instance)
        self.heartbeat_every_s = heartbeat_every_s
        self._clock = clock
        self._subscribed: dict[str | None, set[str]] = {}

    # -- what the connector calls ----------------------------------------------------------------------------

    def subscribed(self, channel: str, markets: Iterable[str] | str = ALL, conn: str | int | None = None) -> R:
        """``channel`` is now captured for ``markets`` (``"all"`` or market keys) on ``conn``."""
        self._subscribed.setdefault(_conn(conn), set()).add(channel)
        return self._emit("subscribed", conn, channel=channel, markets=_markets(markets))

    def unsubscribed(self, channel: str, markets: Iterable[str] | str = ALL, conn: str | int | None = None) -> R:
        """``markets`` are deliberately no longer wanted (settled, deselected): never counted as a loss. A
        connection that goes away is :meth:`disconnected`, even at shutdown."""
        if markets == ALL:
            self._subscribed.get(_conn(conn), set()).discard(channel)
        return self._emit("unsubscribed", conn, channel=channel, markets=_markets(markets))

    def dropped(self, channel: str, markets: Iterable[str] | str, cause: str, conn: str | int | None = None) -> R:
        """The exchange ended ``channel``'s subscription to ``markets`` on ``conn``: a loss until the next
        :meth:`subscribed` (a resubscribe on the same connection, or after a reconnect)."""
        if markets == ALL:
            self._subscribed.get(_conn(conn), set()).discard(channel)
        return self._emit("dropped", conn, channel=channel, markets=_markets(markets), cause=cause)

    def disconnected(self, cause: str, conn: str | int | None = None) -> R:
        """Capture on ``conn`` (every connection if ``None``) stopped; ``cause`` says why (no secrets in it)."""
        self._drop(conn)
        return self._emit("disconnected", conn, cause=cause)

    def stalled(self, cause: str = "no frames", conn: str | int | None = None, since_ms: int | None = None) -> R:
        """``conn`` stopped receiving; ``since_ms`` is the last frame's arrival, where the loss really began."""
        self._drop(conn)
        return self._emit("stalled", conn, cause=cause, since_ms=since_ms)

    def seq_gap(self, channel: str, market: str, cause: str | None = None, conn: str | int | None = None) -> R:
        """``market``'s sequence broke on ``channel``: its chain on this connection is unusable until
        :meth:`resnapshot`."""
        return self._emit("seq_gap", conn, channel=channel, market=market, cause=cause)

    def resnapshot(self, channel: str, market: str, conn: str | int | None = None) -> R:
        return self._emit("resnapshot", conn, channel=channel, market=market)

    def backfilled(self, channel: str, window: tuple[int, int], count: int, conn: str | int | None = None) -> R:
        """``count`` frames of ``channel`` for ``window`` (epoch ms ``[start, end)``) were fetched again."""
        return self._emit("backfill", conn, channel=channel, start_ms=window[0], end_ms=window[1], count=count)

    def heartbeat(self) -> R:
        channels = {str(c): tuple(sorted(chs)) for c, chs in self._subscribed.items() if chs}
        return self._emit("heartbeat", None, every_ms=int(self.heartbeat_every_s * 1000), channels=channels)

    async def heartbeats(self) -> None:
        """Heartbeat forever (cancel to stop). A failed publish is logged and retried at the next beat: the
        ledger then sees silence, which it counts as not capturing, the safe side."""
        import asyncio
        import inspect

        while True:
            try:
                result = self.heartbeat()
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any publish failure: the next beat tries again
                log.warning("coverage heartbeat not published: %s", exc)
            await asyncio.sleep(self.heartbeat_every_s)

    # -- internals ---------------------------------------------------------------------------------------------

    def event(self, kind: str, conn: str | int | None, **details: object) -> CoverageEvent:
        """The event the next call would publish (also for tests and tools that write archives)."""
        return CoverageEvent(feed=self.feed, instance=self.instance, run=self.run, event=kind, ts_ms=self._clock(),
                             conn=_conn(conn), **details)  # type: ignore[arg-type]

    def _emit(self, kind: str, conn: str | int | None, **details: object) -> R:
        return self.publish(self.subject, self.event(kind, conn, **details).encode())

    def _drop(self, conn: str | int | None) -> None:
        if conn is None:
            self._subscribed.clear()
        else:
            self._subscribed.pop(_conn(conn), None)


def _conn(conn: str | int | None) -> str | None:
    return None if conn is None else str(conn)


def _markets(markets: Iterable[str] | str) -> Markets:
    if isinstance(markets, str):
        if markets != ALL:
            raise ValueError(f"markets: expected \"all\" or an iterable of market keys, got {markets!r}")
        return "all"
    return tuple(markets)
