"""The connector process: start-up checks, shards, market discovery, health, graceful shutdown.

Start-up fails fast (exit 2, one line saying what to fix) on what an operator must fix: bad credentials,
NATS unreachable, a stream that does not capture our subjects. After that nothing the exchange or NATS does
ends the process; only SIGTERM/SIGINT does, after flushing every buffered frame (bounded).

Supervision has two layers and no third. Every failure the outside world can cause is handled inside the
task that meets it, with back-off (:class:`~ssmd.runtime.backoff.Backoff`): a shard reconnects, discovery
retries, the publisher re-sends. A background task that ends anyway has met something nobody planned for (a
bug); its state is unknown, so it is not restarted in place: :meth:`Connector.run` raises
:class:`TaskCrashed`, the buffered frames are flushed, and the process exits 1 so that Kubernetes restarts it
(and counts the restart where operators look).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

from ssmd import naming
from ssmd.bus.headers import FrameHeaders
from ssmd.bus.streams import StreamConflict, StreamUnavailable, check_capture
from ssmd.config import EnvironmentConfig, FeedConfig
from ssmd.config.instance import default_instance
from ssmd.connector.backfill import Backfiller
from ssmd.connector.endpoint import resolve_rest_url
from ssmd.connector.metrics import ConnectorMetrics
from ssmd.connector.partition import WHOLE, Partition
from ssmd.connector.plan import place_new_markets, plan_shards
from ssmd.connector.publisher import AckHook
from ssmd.connector.shard import HandshakeRejected, Shard, State, Subscription, describe
from ssmd.connector.sinks import MemorySink, Sink
from ssmd.coverage.events import TYPE as COVERAGE_TYPE
from ssmd.coverage.recorder import CoverageRecorder
from ssmd.feed.base import Credentials, DiscoveryError, Feed
from ssmd.feed.registry import feed_name_for, get_feed
from ssmd.runtime.backoff import Backoff
from ssmd.runtime.http import HealthServer
from ssmd.runtime.tasks import cancel_all

log = logging.getLogger(__name__)


_DISCOVERY_FAILURES = (DiscoveryError, aiohttp.ClientError, OSError, TimeoutError)
"""What the exchange's REST (or the way to it) can do to a discovery: retried with back-off, never fatal."""
_DISCOVERY_RETRY_MIN = 1.0


class StartupError(Exception):
    """Something the operator must fix; the CLI prints it as one line and exits 2."""


class TaskCrashed(Exception):
    """A background task ended unexpectedly (a bug, logged with its traceback): the CLI exits 1."""


@dataclass(frozen=True)
class Options:
    env_path: str
    ws_url: str
    credentials: Credentials | None
    health_addr: str = "0.0.0.0:8080"
    rotation: str = "15m"
    on_ack: AckHook | None = None
    partition: Partition = WHOLE
    """``--partition``/``SSMD_PARTITION``: the share of the market list this process captures."""
    instance: str | None = None
    """``--instance``/``SSMD_INSTANCE`` (validated by the CLI): stamped on every message; ``None``: the hostname."""
    rest_url: str | None = None
    """``--rest-url``: the discovery base, over the environment file's and the feed's."""


class Connector:
    def __init__(self, feed: FeedConfig, env: EnvironmentConfig, options: Options,
                 metrics: ConnectorMetrics | None = None, exchange: Feed | None = None) -> None:
        """``exchange``: the feed to speak; default: the one the feed file selects (``feed_type`` or ``name``)."""
        self.feed = feed
        self.exchange = exchange or get_feed(feed_name_for(feed.feed_type, feed.name))
        self.env = env
        self.opts = options
        self.capture = env.capture.for_feed(self.exchange)
        self.metrics = metrics or ConnectorMetrics()
        self.run_id = secrets.token_hex(4)
        self.instance = options.instance or default_instance()
        """This instance's name: stamped on its messages, its coverage events and its backfilled frames."""
        self.shards: list[Shard] = []
        self.sink: Sink | None = None
        self.health: HealthServer | None = None
        self._nc: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._markets: list[str] = []
        self.coverage: CoverageRecorder[None] = CoverageRecorder(
            self._publish_coverage, env=env.name, feed=env.feed, instance=self.instance,
            heartbeat_every_s=self.capture.coverage_heartbeat)
        """What this instance captured when (docs/coverage.md), published through the sink with the frames; every
        shard holds it as ``shard.coverage``."""
        self._coverage_sent = 0
        self._announced: dict[str, tuple[bool, float]] = {}
        """Markets lifecycle frames opened (True) or finished (False), and when (monotonic): applied at once, and
        over any discovery answer older than them."""
        self._market_news = asyncio.Event()

    # -- start-up --------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.sink = await self._open_sink()
        await self.sink.start()
        self._spawn(self.coverage.heartbeats(), "coverage-heartbeats")
        self._http = aiohttp.ClientSession()
        self.health = HealthServer(self.opts.health_addr, self.metrics.registry, self.health_body,
                                   self.not_ready_reason)
        try:
            await self.health.start()
        except OSError as exc:
            raise StartupError(f"cannot listen on --health-addr {self.opts.health_addr}: {exc.strerror}") from None
        partition = self.opts.partition
        if not partition.has_global_channels and not self.capture.market_channels:
            log.warning("partition %s captures nothing: every channel configured is global, and global channels "
                        "go to partition 0 only", partition)
        found: list[str] = []
        discovered = True
        if self.capture.market_channels and self.capture.markets.discover is not None:
            try:
                found = await self._discover()
            except _DISCOVERY_FAILURES as exc:
                log.error("market discovery failed at start-up; retrying with back-off: %s", describe(exc))
                self.metrics.discovery_failures.inc()
                discovered = False
        self._markets = partition.select([*self.capture.markets.tickers, *found])
        for index, subs in enumerate(plan_shards(self.capture, self._markets, partition.has_global_channels)):
            self._start_shard(index, subs)
        if self.capture.market_channels and self.capture.markets.discover is not None:
            self._spawn(self._refresh_loop(retry_first=not discovered), "discovery")

    async def _open_sink(self) -> Sink:
        kind = self.env.transport.transport_type
        if kind == "memory":
            return MemorySink()
        if kind == "file":
            from ssmd.connector.filesink import FileSink

            path = self.env.storage.path
            if not path:
                raise StartupError(f"{self.opts.env_path}: storage.path is required for transport file")
            return FileSink(path, self.env.feed, self.opts.rotation, self.metrics, instance=self.instance,
                            max_buffer=self.capture.buffer_frames)
        return await self._open_nats()

    async def _open_nats(self) -> Sink:
        from ssmd.bus.connect import NatsUnavailable, connect
        from ssmd.connector.publisher import JetStreamPublisher

        url = self.env.transport.url
        assert url is not None  # validated by the config model
        try:
            # No client-side buffering while disconnected: a publish then fails at once and the publisher's
            # own buffer re-sends it in order. nats-py would otherwise flush stale publishes first on reconnect.
            self._nc = await connect(url, "ssmd-connector", pending_size=0)
        except NatsUnavailable as exc:
            raise StartupError(f"{exc} (transport.url in {self.opts.env_path}, or NATS_URL)") from None
        stream = self.env.stream_name
        subjects = naming.frames_filter(self.env.subject_prefix)
        try:
            await check_capture(self._nc.jetstream(), stream, subjects)
        except StreamConflict as exc:
            await self._nc.close()
            raise StartupError(f"{exc}; create it with: ssmd stream ensure --env {self.opts.env_path}") from None
        except StreamUnavailable as exc:
            await self._nc.close()
            raise StartupError(str(exc)) from None
        return JetStreamPublisher(
            self._nc, stream, self.metrics, instance=self.coverage.instance,
            max_buffer=self.capture.buffer_frames,
            max_in_flight=self.capture.max_in_flight, publish_timeout=self.capture.publish_timeout,
            on_ack=self.opts.on_ack,
        )

    def _start_shard(self, index: int, subs: list[Subscription]) -> Shard:
        assert self.sink is not None and self._http is not None
        follow = self.capture.market_channels and self.capture.markets.discover is not None
        shard = Shard(index, self.exchange, self.opts.ws_url, self.opts.credentials, self.sink, self.env.subject_prefix,
                      self.capture, self.metrics, self.run_id, subs, self._http,
                      coverage=self.coverage, backfiller=self._backfiller(index, subs),
                      on_market_change=self._market_changed if follow else None)
        self.shards.append(shard)
        self._spawn(shard.run(self._stop), f"shard-{index}")
        return shard

    def _publish_coverage(self, subject: str, payload: bytes) -> None:
        """The recorder's publish function: the sink, like a frame (same stream, acks, buffer). The msg-id is unique
        per event (``run`` is random per process), so a retried publish is stored once."""
        if self.sink is None:
            return
        self._coverage_sent += 1
        headers = FrameHeaders(time.time_ns(), msg_id=f"{self.coverage.run}:coverage:{self._coverage_sent}")
        self.sink.submit(subject, payload, headers, COVERAGE_TYPE, time.monotonic())

    def _backfiller(self, index: int, subs: list[Subscription]) -> Backfiller | None:
        """A shard that carries one of the feed's backfillable channels refetches what it misses (None: nothing
        to backfill). What it recovers is told to the coverage ledger."""
        if not any(s.channel in self.exchange.backfill_channels for s in subs):
            return None
        assert self.sink is not None and self._http is not None
        discover = self.capture.markets.discover
        rest = resolve_rest_url(self.exchange, self.opts.ws_url, self.opts.rest_url,
                                discover.rest_url if discover is not None else None)
        return Backfiller(self.exchange, self._http, rest, self.opts.credentials, self.sink,
                          self.env.subject_prefix, self.metrics, self.instance, index,
                          recorder=self.coverage)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Start a background task that :meth:`run` watches: it must not end until :meth:`stop`."""
        self._tasks.add(asyncio.create_task(coro, name=name))

    # -- running ---------------------------------------------------------------------------------------

    async def run(self, shutdown: asyncio.Event) -> None:
        """Run until ``shutdown`` is set. Raise :class:`StartupError` if the credentials are rejected, and
        :class:`TaskCrashed` if any background task (shard, discovery, the sink's) ends (see the module doc)."""
        waiter = asyncio.create_task(shutdown.wait())
        try:
            while not shutdown.is_set():
                self.metrics.connected.set(1 if self._all_live() else 0)
                sink_tasks = self.sink.tasks if self.sink is not None else ()
                done, _ = await asyncio.wait({waiter, *self._tasks, *sink_tasks}, timeout=1.0,
                                             return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task is waiter:
                        continue
                    self._tasks.discard(task)
                    exc = None if task.cancelled() else task.exception()
                    if isinstance(exc, HandshakeRejected):
                        raise StartupError(str(exc))
                    how = "was cancelled" if task.cancelled() else f"crashed: {exc!r}" if exc else "ended"
                    log.error("background task %s %s; stopping the connector so that it is restarted clean",
                              task.get_name(), how, exc_info=exc)
                    raise TaskCrashed(f"background task {task.get_name()} {how}")
        finally:
            waiter.cancel()

    async def _discover(self) -> list[str]:
        cfg = self.capture.markets.discover
        assert cfg is not None and self._http is not None
        base = resolve_rest_url(self.exchange, self.opts.ws_url, self.opts.rest_url, cfg.rest_url)
        return await self.exchange.discover(self._http, base, self.opts.credentials, cfg)

    def _market_changed(self, market: str, opened: bool) -> None:
        """A lifecycle frame opened or finished ``market``: the refresh loop applies it now, without REST."""
        self._announced[market] = (opened, time.monotonic())
        self._market_news.set()

    def _with_announced(self, markets: list[str], since: float | None = None) -> list[str]:
        """``markets`` corrected by what lifecycle frames announced (after ``since``: a discovery that began then
        already knows the older ones, which are forgotten)."""
        out = dict.fromkeys(markets)
        if since is not None:
            self._announced = {m: v for m, v in self._announced.items() if v[1] >= since}
        for market, (opened, _at) in self._announced.items():
            if opened:
                out[market] = None
            else:
                out.pop(market, None)
        return list(out)

    async def _refresh_loop(self, retry_first: bool = False) -> None:
        """Re-discover every ``refresh``; after a failure keep the current list and retry sooner, with back-off
        (from 1 s up to ``refresh``). In between, markets that lifecycle frames open or finish are subscribed or
        unsubscribed at once. Never ends: every failure the exchange can cause is retried."""
        cfg = self.capture.markets.discover
        assert cfg is not None
        refresh = float(cfg.refresh_s)
        retry = Backoff(min(_DISCOVERY_RETRY_MIN, refresh), refresh)
        deadline = time.monotonic() + (retry.next_delay() if retry_first else refresh)
        while True:
            self._market_news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._market_news.wait(), max(deadline - time.monotonic(), 0.0))
            if time.monotonic() < deadline:  # news from a lifecycle frame
                await self.apply_markets(self._with_announced(self._markets))
                continue
            began = time.monotonic()
            try:
                found = await self._discover()
                await self.apply_markets(self._with_announced([*self.capture.markets.tickers, *found], began))
            except _DISCOVERY_FAILURES as exc:
                self.metrics.discovery_failures.inc()
                delay = retry.next_delay()
                deadline = time.monotonic() + delay
                log.warning("market discovery failed, keeping the current list; retrying in %.1fs: %s", delay,
                            describe(exc))
                continue
            if retry.failures:
                log.info("market discovery works again", extra={"markets": len(self._markets)})
            retry.reset()
            deadline = time.monotonic() + refresh

    async def apply_markets(self, wanted: list[str]) -> None:
        """Subscribe markets that appeared, unsubscribe those that are gone (settled), in place. Only this
        partition's markets of ``wanted`` are taken."""
        want = dict.fromkeys(self.opts.partition.select(wanted))
        have = set(self._markets)
        added = [m for m in want if m not in have]
        removed = [m for m in self._markets if m not in want]
        if not added and not removed:
            return
        log.info("market list changed: +%d -%d", len(added), len(removed))
        for channel in self.capture.market_channels:
            for shard in list(self.shards):
                for sub in list(shard.subscriptions):
                    gone = [m for m in (sub.markets or ()) if m in set(removed)]
                    if sub.channel == channel and gone:
                        await shard.update_markets(sub, [], gone)
            plan = [s.subscriptions for s in self.shards]
            for index, sub, tickers, is_new in place_new_markets(self.capture, plan, channel, added):
                if index >= len(self.shards):
                    self._start_shard(index, [Subscription(channel, tickers)])
                elif is_new:
                    sub.markets = tickers
                    await self.shards[index].add_subscription(sub)
                else:
                    await self.shards[index].update_markets(sub, tickers, [])
        self._markets = list(want)

    @property
    def markets(self) -> list[str]:
        """The markets this process captures on market-list channels (its partition's share)."""
        return list(self._markets)

    # -- health ----------------------------------------------------------------------------------------

    def _all_live(self) -> bool:
        return bool(self.shards) and all(s.state is State.LIVE for s in self.shards)

    def health_body(self) -> dict[str, Any]:
        dropped = self.sink.dropped if self.sink else 0
        return {
            "status": "unhealthy" if dropped else "ok",
            "feed": self.feed.name,
            "partition": str(self.opts.partition),
            "markets": len(self._markets),
            "connected": self._all_live(),
            "shards": [{"shard": s.index, "state": s.state.name.lower()} for s in self.shards],
            "buffered": self.sink.pending if self.sink else 0,
            "dropped": dropped,
        }

    def not_ready_reason(self) -> str | None:
        down = [s for s in self.shards if s.state is not State.LIVE]
        if not self.shards or down:
            names = ", ".join(f"shard {s.index} {s.state.name.lower()}" for s in down) or "no shards"
            return f"not connected and subscribed: {names}"
        refused = [f"shard {s.index} {channel}: {error}" for s in self.shards for channel, error in s.refused.items()]
        if refused:
            return "subscription refused by the exchange: " + "; ".join(refused)
        return self.sink.not_ready_reason() if self.sink else "starting"

    # -- shutdown --------------------------------------------------------------------------------------

    async def stop(self) -> int:
        """Stop reading, flush (bounded by ``shutdown_timeout``), close. Return frames left unflushed."""
        self._stop.set()
        for shard in self.shards:
            await shard.close()
        await cancel_all(self._tasks)
        if self.sink is not None and any(s.ever_connected for s in self.shards):
            self.coverage.disconnected("shutdown")  # before the drain, so that it is flushed with the frames
        left = 0
        if self.sink is not None:
            left = await self.sink.drain(self.capture.shutdown_timeout)
            if left:
                log.error("shutdown: %d frames were not acknowledged within %gs and are lost", left,
                          self.capture.shutdown_timeout)
            await self.sink.stop()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), 5.0)
        if self._http is not None:
            await self._http.close()
        if self.health is not None:
            await self.health.stop()
        return left

