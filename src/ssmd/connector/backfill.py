"""Refetch what a shard missed on its backfillable channels (the feed's :attr:`Feed.backfill_channels`; Kalshi:
``trade``) once it is subscribed again.

When a connection that carried such a channel ends (disconnect, stall, dead socket) or the exchange drops the
subscription (a terminal error), the shard calls :meth:`Backfiller.lost` with the time of the last frame it got.
When the channel is live again, :meth:`Backfiller.recover` asks the feed for the window
``[lost_at - margin, now + margin]`` over REST and publishes each frame through the shard's normal sink on the
subject :meth:`Feed.route` gives it, with ``Nats-Msg-Id: backfill:{key}`` (the trade id): a backfill that is
retried (the connection died meanwhile, the REST call failed) is stored once by JetStream's duplicate window,
and the WebSocket copy of the same trade is dropped by the read-time merge, which keys trades on ``trade_id``.
A window stays pending until one fetch succeeds, so the next live connection retries it, widened.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Sequence
from typing import Protocol

import aiohttp

from ssmd.bus.headers import FrameHeaders
from ssmd.bus.subjects import subject
from ssmd.connector.metrics import ConnectorMetrics
from ssmd.connector.sinks import Sink
from ssmd.coverage.recorder import wall_ms
from ssmd.feed.base import Credentials, DiscoveryError, Feed
from ssmd.runtime.backoff import Backoff

log = logging.getLogger(__name__)

MARGIN_MS = 5000
"""Added on each side of an outage: clocks differ, and the last frame seen is not the last one sent."""
_RETRY_MAX_S = 60.0


class BackfillRecorder(Protocol):
    """The coverage ledger's side of a backfill (:meth:`ssmd.coverage.recorder.CoverageRecorder.backfilled`)."""

    def backfilled(self, channel: str, window: tuple[int, int], count: int, conn: str | int | None = None) -> object:
        ...


class Backfiller:
    """One per shard. Not thread-safe; runs on the shard's event loop."""

    def __init__(self, feed: Feed, http: aiohttp.ClientSession, rest_url: str, credentials: Credentials | None,
                 sink: Sink, prefix: str, metrics: ConnectorMetrics, instance: str, shard: int,
                 recorder: BackfillRecorder | None = None, margin_ms: int = MARGIN_MS) -> None:
        self.feed = feed
        self._http = http
        self._rest_url = rest_url
        self._creds = credentials
        self._sink = sink
        self._prefix = prefix
        self._metrics = metrics
        self.instance = instance
        self._shard = shard
        self.recorder = recorder
        self.margin_ms = margin_ms
        self.pending: dict[str, int] = {}
        """Channel -> when it was lost (epoch ms), until a backfill of it succeeds."""

    def lost(self, channels: Sequence[str], at_ms: int) -> None:
        """``channels`` stopped delivering at ``at_ms``; the earliest loss of a still-pending channel wins."""
        for channel in channels:
            if channel in self.feed.backfill_channels:
                self.pending[channel] = min(self.pending.get(channel, at_ms), at_ms)

    async def recover(self, channel: str, markets: Sequence[str] | None, conn: str) -> None:
        """Backfill ``channel`` if it is pending; retried with back-off until it succeeds (cancelled with the
        connection: the window then stays pending for the next one)."""
        backoff = Backoff(1.0, _RETRY_MAX_S)
        while channel in self.pending:
            lost_at = self.pending[channel]
            window = (lost_at - self.margin_ms, wall_ms() + self.margin_ms)
            try:
                result = await self.feed.backfill(self._http, self._rest_url, self._creds, channel, window, markets,
                                                  self.instance)
            except (DiscoveryError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                self._metrics.backfill_failures.inc()
                wait = backoff.next_delay()
                log.error("backfill of %s for the outage since %d failed (%s); retrying in %.1fs", channel, lost_at,
                          exc, wait, extra={"shard": self._shard, "conn": conn})
                await asyncio.sleep(wait)
                continue
            self._publish(channel, result.frames, conn)
            if self.pending.get(channel) == lost_at:
                del self.pending[channel]  # a loss recorded meanwhile (an earlier one cannot be) stays pending
            count = len(result.frames)
            self._metrics.backfills.labels(channel, "complete" if result.complete else "partial").inc()
            if result.complete:
                log.warning("backfilled %d %s frames over REST for the outage [%d, %d] ms", count, channel,
                            *window, extra={"shard": self._shard, "conn": conn})
            else:
                log.error("PARTIAL backfill of %s: %d frames; %s; covered [%d, %d] ms of [%d, %d] ms", channel,
                          count, result.detail, *result.covered_ms, *window,
                          extra={"shard": self._shard, "conn": conn})
            if self.recorder is not None:  # only what was covered: the ledger keeps the rest as a gap
                done = self.recorder.backfilled(channel, result.covered_ms, count, conn=self._shard)
                if inspect.isawaitable(done):
                    await done

    def _publish(self, channel: str, frames: list[tuple[str, bytes]], conn: str) -> None:
        route_of, submit, prefix = self.feed.route, self._sink.submit, self._prefix
        counter = self._metrics.backfilled.labels(channel)
        for key, raw in frames:
            route = route_of(raw)
            t0 = time.monotonic()
            headers = FrameHeaders(time.time_ns(), conn=conn, msg_id=f"backfill:{key}", backfill="rest")
            submit(subject(prefix, route.type, route.key), raw, headers, route.type, t0)
            counter.inc()
