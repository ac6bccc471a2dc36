"""One WebSocket connection to an exchange, kept alive for the life of the process; the exchange is a
:class:`~ssmd.feed.base.Feed` (this module knows no exchange).

A shard owns a set of subscriptions (global channels and/or market lists). Its loop: sign, connect, start
reading *before* subscribing (data that arrives while a subscription is pending is published, not discarded),
subscribe and wait for each command's reply (when the exchange sends one), then read until the connection dies.
Liveness: we ping every ``ping_interval`` (WebSocket pings, or the feed's text heartbeat); a missing pong, or no
frame at all from the server for ``dead_after`` seconds, is a dead connection; so is a subscribed connection
that delivers no data for the feed's ``silent_after``. Any end of a connection is followed by a reconnect with
exponential back-off and jitter (cap ``backoff_max``), a fresh signature and a full resubscribe. Only a
rejected handshake before the first successful connection stops the process (bad credentials: exit 2).

Every frame is routed once (:meth:`Feed.route`). The feed's :class:`~ssmd.feed.base.Session` turns control
frames into :class:`~ssmd.feed.base.Reply` objects and sequence numbers into gaps; the policy is here: a reply
that says ``too_many`` halves the market list and subscribes both halves; ``dropped`` subscribes again; a gap
on one of the feed's ``resnapshot_channels`` unsubscribes and subscribes again (a fresh snapshot).

What the shard captures is told to its :attr:`Shard.coverage` recorder (``subscribed``/``unsubscribed`` per
channel, ``disconnected``/``stalled`` with the cause, ``seq_gap``/``resnapshot`` per market): those events are
rare, never per frame. Anything the shard recovers later (a REST backfill) is told to the same recorder.
What a lost subscription of one of the feed's ``backfill_channels`` missed is fetched again once it is live
(:mod:`ssmd.connector.backfill`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from ssmd.bus.headers import FrameHeaders
from ssmd.bus.subjects import SubjectCache, unparsed_subject
from ssmd.config.capture import CaptureConfig
from ssmd.connector.backfill import Backfiller
from ssmd.connector.metrics import ConnectorMetrics
from ssmd.connector.sinks import Sink
from ssmd.coverage.events import ALL
from ssmd.coverage.recorder import CoverageRecorder, wall_ms
from ssmd.feed.base import UNPARSED, Command, Credentials, Feed, Gap, Kind, Reply, Route, Session
from ssmd.runtime.backoff import Backoff
from ssmd.runtime.tasks import cancel_all

log = logging.getLogger(__name__)

_BACKOFF_BASE = 0.25
_CONNECT_TIMEOUT = 10.0
_YIELD_EVERY = 128
"""``ws.receive()`` does not yield while frames are buffered: let the publisher and acks run regularly."""
_COMMAND_FAILURES = (TimeoutError, aiohttp.ClientError, ConnectionError)
"""A command that got no reply or could not be sent: the connection no longer matches the plan."""
_STALL_REASONS = ("no frame from the server", "no pong", "no data from the server")
"""How :meth:`Shard._watch_frames`, :meth:`Shard._ping` and :meth:`Shard._watch_silence` say the server fell
silent."""


class State(enum.IntEnum):
    DOWN = 0
    CONNECTING = 1
    SUBSCRIBING = 2
    LIVE = 3


class HandshakeRejected(Exception):
    """The exchange refused the upgrade (HTTP 401/403): the credentials are wrong."""


class CommandFailed(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(f"error {reply.code}: {reply.message}")
        self.code = reply.code
        self.message = reply.message
        self.too_many = reply.too_many


@dataclass
class Subscription:
    """What we asked for; ``sid`` is the server's id of it on the current connection (the feed's
    :attr:`Reply.handle`; None until confirmed, and always None on exchanges without ids)."""

    channel: str
    markets: list[str] | None = None
    sid: int | None = None
    active: bool = False
    """Subscribed on the current connection (with or without a ``sid``)."""


@dataclass(slots=True)
class _Conn:
    ws: aiohttp.ClientWebSocketResponse[Literal[False]]
    conn_id: str
    session: Session
    waiting: dict[int, asyncio.Future[Reply]] = field(default_factory=dict)
    by_sid: dict[int, Subscription] = field(default_factory=dict)
    frames: int = 0
    last_server_frame: float = field(default_factory=time.monotonic)
    last_pong: float = field(default_factory=time.monotonic)
    last_data: float = field(default_factory=time.monotonic)
    got_data: bool = False
    commanded: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the first command is on the wire: a text heartbeat never goes first (Polymarket closes a socket
    whose first frame is a ``PING`` with 1008)."""
    live: bool = False
    live_at_ms: int = 0
    """Wall-clock ms when the connection became subscribed (the earliest a loss on it can start)."""
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    """Resubscriptions in flight on this connection (held so they are not collected; cancelled with it)."""

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class Shard:
    def __init__(
        self,
        index: int,
        feed: Feed,
        url: str,
        credentials: Credentials | None,
        sink: Sink,
        prefix: str,
        capture: CaptureConfig,
        metrics: ConnectorMetrics,
        run_id: str,
        subscriptions: list[Subscription],
        http: aiohttp.ClientSession,
        coverage: CoverageRecorder[None] | None = None,
        backfiller: Backfiller | None = None,
        on_market_change: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.index = index
        self.backfiller = backfiller
        self.coverage: CoverageRecorder[None] = coverage or CoverageRecorder(
            _nowhere, env="_", feed=feed.name, instance="_")
        """The connector's coverage recorder (one per process; events name this shard as ``conn``). Call it for
        what this connection captures or recovers, e.g. ``shard.coverage.backfilled("trade", (start_ms, end_ms),
        count, conn=shard.index)``; without a connector (unit tests) it publishes nowhere."""
        self.feed = feed
        self._route = feed.route
        self.url = url
        self._creds = credentials
        self._sink = sink
        self._unparsed = unparsed_subject(prefix)
        self._cfg = capture
        self._metrics = metrics
        self._run_id = run_id
        self.subscriptions = subscriptions
        self._http = http
        self.state = State.DOWN
        self.refused: dict[str, str] = {}
        """Channels the exchange refused on the current connection, with its error."""
        self.ever_connected = False
        self._attempt = 0
        self._down_since: float | None = None
        """When the last subscribed connection ended; cleared when capture resumes."""
        self._conn: _Conn | None = None
        self._subjects = SubjectCache(prefix)
        self._state_gauge = metrics.shard_state.labels(str(index))
        self._markets_gauge = metrics.shard_markets.labels(str(index))
        self._update_markets_gauge()
        self._on_market_change = on_market_change
        """Told ``(market, opened)`` when a lifecycle frame opens or finishes a market (the connector's discovery)."""

    # -- lifecycle -------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until ``stop`` is set. Raises :class:`HandshakeRejected` only before the first success."""
        backoff = Backoff(_BACKOFF_BASE, max(self._cfg.backoff_max, _BACKOFF_BASE))
        while not stop.is_set():
            self._attempt += 1
            reason = "closed"
            try:
                reason = await self._connect_and_read(stop)
            except HandshakeRejected:
                if not self.ever_connected:
                    raise
                reason = "handshake rejected (401/403)"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                reason = describe(exc)
            except CommandFailed as exc:
                reason = f"subscribe failed: {exc}"
            finally:
                self._set_state(State.DOWN)
            conn, self._conn = self._conn, None
            announced = any(sub.active for sub in self.subscriptions)  # told the ledger "subscribed"
            for sub in self.subscriptions:
                sub.sid = None  # a sid names a subscription on one connection only
                sub.active = False
            if conn is not None:
                if conn.got_data:
                    backoff.reset()
                if conn.live and self._down_since is None:
                    self._down_since = time.monotonic()
                if announced and not stop.is_set():  # at shutdown the connector says it once for all shards
                    self._lost(conn, reason)
                if conn.live and self.backfiller is not None:
                    self.backfiller.lost([s.channel for s in self.subscriptions], self._last_data_ms(conn))
                await _abort(conn.ws)
            if stop.is_set():
                break
            delay = backoff.next_delay()
            log.warning("shard %d connection ended (%s); reconnecting in %.2fs", self.index, reason, delay,
                        extra={"shard": self.index, "attempt": self._attempt})
            self._metrics.reconnects.inc()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def close(self) -> None:
        conn = self._conn
        if conn is not None:
            await _abort(conn.ws)

    def _lost(self, conn: _Conn, reason: str) -> None:
        """Tell the ledger this connection stopped capturing: a silent server is a stall that began at its last
        frame (wall clock), anything else a disconnect now."""
        if reason.startswith(_STALL_REASONS):
            since = wall_ms() - int((time.monotonic() - conn.last_server_frame) * 1000)
            self.coverage.stalled(reason, conn=self.index, since_ms=since)
        else:
            self.coverage.disconnected(reason, conn=self.index)

    @staticmethod
    def _last_data_ms(conn: _Conn) -> int:
        """When ``conn`` last delivered data (wall clock), not before it was subscribed: where a loss began."""
        last = wall_ms() - int((time.monotonic() - conn.last_data) * 1000)
        return max(last, conn.live_at_ms)

    def _backfill(self, conn: _Conn, subs: list[Subscription]) -> None:
        """Fetch what each pending backfillable subscription missed, on this connection (cancelled with it)."""
        backfiller = self.backfiller
        if backfiller is None:
            return
        for sub in subs:
            if sub.active and sub.channel in backfiller.pending:
                conn.spawn(backfiller.recover(sub.channel, sub.markets, conn.conn_id),
                           f"shard-{self.index}-backfill-{sub.channel}")

    def _set_state(self, state: State) -> None:
        self.state = state
        self._state_gauge.set(int(state))

    def _update_markets_gauge(self) -> None:
        self._markets_gauge.set(sum(len(s.markets or ()) for s in self.subscriptions))

    # -- one connection --------------------------------------------------------------------------------

    async def _connect_and_read(self, stop: asyncio.Event) -> str:
        self._set_state(State.CONNECTING)
        headers = self.feed.handshake_headers(self._creds, self.url)
        try:
            ws = await asyncio.wait_for(
                self._http.ws_connect(self.url, headers=headers, autoping=False, decode_text=False,
                                      max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=2.0)),
                _CONNECT_TIMEOUT,
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in (401, 403):
                what = " and ".join(self.feed.credential_vars) or "the credentials"
                raise HandshakeRejected(f"{self.url} refused the handshake with HTTP {exc.status}: check "
                                        f"{what}") from None
            raise
        conn = self._conn = _Conn(ws, f"{self._run_id}-{self.index}-{self._attempt}", self.feed.session())
        self.ever_connected = True
        log.info("shard %d connected to %s", self.index, self.url,
                 extra={"shard": self.index, "conn": conn.conn_id})
        reader = asyncio.create_task(self._read(conn), name=f"shard-{self.index}-reader")
        pinger = asyncio.create_task(self._ping(conn), name=f"shard-{self.index}-pinger")
        frames = asyncio.create_task(self._watch_frames(conn), name=f"shard-{self.index}-frames")
        stopper = asyncio.create_task(stop.wait())
        watchers = {reader, pinger, frames, stopper}
        silent_after = self._cfg.silent_after or self.feed.heartbeat.silent_after
        if silent_after is not None:
            watchers.add(asyncio.create_task(self._watch_silence(conn, silent_after),
                                             name=f"shard-{self.index}-silence"))
        try:
            self._set_state(State.SUBSCRIBING)
            subscriber = asyncio.create_task(self._subscribe_all(conn))
            done, _ = await asyncio.wait({*watchers, subscriber}, return_when=asyncio.FIRST_COMPLETED)
            if subscriber in done:
                subscriber.result()  # raises CommandFailed / TimeoutError
                done, _ = await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
            else:
                subscriber.cancel()
            if stopper in done:
                return "shutdown"
            first = next(iter(done))
            return first.result() if not first.cancelled() else "cancelled"  # type: ignore[return-value]
        finally:
            await cancel_all((*watchers, *conn.tasks))

    async def _subscribe_all(self, conn: _Conn) -> None:
        for sub in self.subscriptions:
            sub.sid = None
            sub.active = False
        self.refused = {}
        # By index over the live list: a subscription that discovery adds meanwhile is appended and taken too.
        i = 0
        while i < len(self.subscriptions):
            i += await self._subscribe_or_split(conn, self.subscriptions[i])
        self._set_state(State.LIVE)
        conn.live = True
        conn.live_at_ms = wall_ms()
        self._backfill(conn, self.subscriptions)
        if self._down_since is not None:
            log.warning("shard %d capturing again; capture was interrupted for %.2fs", self.index,
                        time.monotonic() - self._down_since, extra={"shard": self.index, "conn": conn.conn_id})
            self._down_since = None
        else:
            log.info("shard %d subscribed to %s", self.index,
                     ", ".join(s.channel for s in self.subscriptions), extra={"shard": self.index})

    async def _subscribe_or_split(self, conn: _Conn, sub: Subscription) -> int:
        """A refused subscription is reported and skipped (the others still run); a ``too_many`` refusal
        (Kalshi's error 26: too many markets for one subscription) halves the market list and tries again.
        Returns how many entries of ``self.subscriptions`` ``sub`` now takes (the halves are inserted right
        after it)."""
        try:
            await self._subscribe(conn, sub)
        except CommandFailed as exc:
            markets = sub.markets or []
            if exc.too_many and len(markets) > 1:
                half = len(markets) // 2
                other = Subscription(sub.channel, markets[half:])
                sub.markets = markets[:half]
                self.subscriptions.insert(self.subscriptions.index(sub) + 1, other)
                log.warning("error %s (too many markets): splitting a %s subscription into %d + %d markets",
                            exc.code, sub.channel, len(sub.markets), len(other.markets or ()),
                            extra={"shard": self.index})
                first = await self._subscribe_or_split(conn, sub)
                return first + await self._subscribe_or_split(conn, other)
            self.refused[sub.channel] = str(exc)
        return 1

    async def _subscribe(self, conn: _Conn, sub: Subscription) -> None:
        reply = await self._command(conn, conn.session.subscribe(sub.channel, sub.markets))
        if reply is not None and not reply.ok:
            self._metrics.subscribe_errors.labels(str(reply.code)).inc()
            log.error("subscribe %s refused by the exchange: error %s: %s", sub.channel, reply.code, reply.message,
                      extra={"shard": self.index, "channel": sub.channel})
            raise CommandFailed(reply)
        sid = reply.handle if reply is not None else None
        sub.active = True
        self.coverage.subscribed(sub.channel, ALL if sub.markets is None else sub.markets, conn=self.index)
        if sid is not None:
            sub.sid = sid
            conn.by_sid[sid] = sub
        log.debug("subscribed %s: sid %s, %d markets", sub.channel, sid, len(sub.markets or ()),
                  extra={"shard": self.index, "conn": conn.conn_id})

    async def _command(self, conn: _Conn, command: Command) -> Reply | None:
        """Send one command and wait for its reply (a refusal is returned, never a timeout); ``None`` when the
        exchange does not answer this command (done once sent)."""
        cid = command.id
        if cid is None:
            await conn.ws.send_str(command.frame.decode())
            conn.commanded.set()
            return None
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        conn.waiting[cid] = future
        try:
            await conn.ws.send_str(command.frame.decode())
            conn.commanded.set()
            return await asyncio.wait_for(future, self._cfg.subscribe_timeout)
        finally:
            conn.waiting.pop(cid, None)

    async def _ping(self, conn: _Conn) -> str:
        beat = self.feed.heartbeat
        if beat.text is not None:  # the exchange's own text heartbeat; any frame back counts as life
            text, every = beat.text, beat.interval or self._cfg.ping_interval
            with contextlib.suppress(TimeoutError):  # the first beat: after the first command, or one interval
                await asyncio.wait_for(conn.commanded.wait(), every)
            while True:
                await asyncio.wait_for(conn.ws.send_str(text), self._cfg.dead_after)
                await asyncio.sleep(every)
        interval = min(self._cfg.ping_interval, self._cfg.dead_after / 2)
        while True:
            sent = time.monotonic()
            await asyncio.wait_for(conn.ws.ping(b"ssmd"), self._cfg.dead_after)
            await asyncio.sleep(interval)
            now = time.monotonic()
            if conn.last_pong < sent and now - sent > self._cfg.dead_after:
                return f"no pong for {now - sent:.1f}s"

    async def _watch_frames(self, conn: _Conn) -> str:
        """No frame at all from the server for ``dead_after``: a dead connection. A task of its own, waking once per
        ``dead_after`` at most, rather than a timeout on every ``receive``: that was a timer per frame, a fifth of
        the connector's CPU at saturation."""
        dead_after = self._cfg.dead_after
        while True:
            remaining = conn.last_server_frame + dead_after - time.monotonic()
            if remaining <= 0:
                return f"no frame from the server for {dead_after:g}s"
            await asyncio.sleep(remaining)

    async def _watch_silence(self, conn: _Conn, silent_after: float) -> str:
        """A socket that answers pings but delivers no data (Polymarket's silent sockets) is dead too; counted
        from when the connection is subscribed."""
        while True:
            await asyncio.sleep(min(silent_after / 4, 1.0))
            if not conn.live:
                conn.last_data = time.monotonic()
                continue
            quiet = time.monotonic() - conn.last_data
            if quiet > silent_after:
                return f"no data from the server for {quiet:.1f}s (silent socket)"

    # -- the hot path ----------------------------------------------------------------------------------

    async def _read(self, conn: _Conn) -> str:
        ws = conn.ws
        metrics = self._metrics
        submit = self._sink.submit
        conn_id = conn.conn_id
        subjects = self._subjects
        route_of = self._route
        session = conn.session
        lifecycle = self.feed.lifecycle_token if self._on_market_change is not None else None
        text, binary = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
        while True:
            msg = await ws.receive()
            now = time.monotonic()
            mtype = msg.type
            if mtype is text or mtype is binary:
                received_ns = time.time_ns()
                conn.last_server_frame = now
                metrics.last_frame_at = now
                raw: bytes = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                conn.frames += 1
                if conn.frames % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                route = route_of(raw) if mtype is text else UNPARSED
                kind = route.kind
                if kind is Kind.DATA:
                    token = route.type
                    subj = subjects[token][route.key]
                    sid = route.sid
                    seq = route.seq
                    if sid is not None and seq is not None:
                        gap = session.gap(route)
                        if gap is not None:
                            self._on_gap(conn, gap)
                    metrics.count_received(token)
                    if token == lifecycle:
                        self._market_changed(raw)
                    conn.got_data = True
                    conn.last_data = now
                    submit(subj, raw, FrameHeaders(received_ns, conn_id, sid, seq, conn.frames), token, now)
                elif kind is Kind.CONTROL:
                    self._on_control(conn, route, raw)
                else:  # UNPARSED, or KEPT: a control word the feed expects (not data, no warning)
                    metrics.count_received("unparsed")
                    if kind is not Kind.KEPT:
                        metrics.unparsed.inc()
                        log.warning("frame without JSON or type, published raw to %s", self._unparsed,
                                    extra={"shard": self.index, "conn": conn_id, "bytes": len(raw)})
                    submit(self._unparsed, raw, FrameHeaders(received_ns, conn=conn_id, n=conn.frames), "unparsed",
                           now)
            elif mtype is aiohttp.WSMsgType.PING:
                conn.last_server_frame = now
                await ws.pong(msg.data)
            elif mtype is aiohttp.WSMsgType.PONG:
                conn.last_pong = now
            elif mtype is aiohttp.WSMsgType.ERROR:
                return f"websocket error: {ws.exception()!r}"
            else:  # CLOSE, CLOSING, CLOSED
                return f"closed by the server (code {ws.close_code})"

    def _market_changed(self, raw: bytes) -> None:
        change = self.feed.market_change(raw)
        if change is not None and self._on_market_change is not None:
            self._on_market_change(*change)

    def _on_gap(self, conn: _Conn, gap: Gap) -> None:
        sid = gap.sid
        sub = conn.by_sid.get(sid)
        channel = sub.channel if sub else "unknown"
        self._metrics.seq_gaps.labels(channel).inc()
        log.warning("seq gap on sid %d (%s): expected %d, got %d", sid, channel, gap.expected, gap.got,
                    extra={"shard": self.index, "conn": conn.conn_id, "missing": gap.got - gap.expected})
        if sub is not None and sub.channel in self.feed.resnapshot_channels:
            # The sequence is per subscription: the frames lost may be of any of its markets.
            cause = f"sid {sid}: expected seq {gap.expected}, got {gap.got}"
            for market in sub.markets or ():
                self.coverage.seq_gap(sub.channel, market, cause, conn=self.index)
            conn.by_sid.pop(sid, None)
            conn.spawn(self._resubscribe(conn, sub, sid, "a seq gap", "seq_gap"), f"shard-{self.index}-resubscribe")

    async def _resubscribe(self, conn: _Conn, sub: Subscription, old: int | None, why: str, reason: str,
                           dead: bool = False) -> None:
        """Subscribe ``sub`` again on this connection. After a seq gap the book is wrong until a fresh snapshot,
        so the live sid is unsubscribed first; after a terminal error (``dead``) the exchange already dropped it.
        The caller has removed ``old`` from ``conn.by_sid``, so one sid is never resubscribed twice."""
        try:
            if not dead:
                command = conn.session.unsubscribe(sub.channel, old, sub.markets)
                if command is not None:
                    await self._command(conn, command)
            await self._subscribe(conn, sub)
            self._metrics.resubscribes.labels(reason).inc()
            if reason == "seq_gap":
                for market in sub.markets or ():
                    self.coverage.resnapshot(sub.channel, market, conn=self.index)
            self._backfill(conn, [sub])
            log.info("resubscribed %s after %s (sid %s -> %s)", sub.channel, why, old, sub.sid,
                     extra={"shard": self.index, "conn": conn.conn_id})
        except (CommandFailed, TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            log.error("resubscribe of %s after %s failed: %s; reconnecting", sub.channel, why, exc,
                      extra={"shard": self.index, "conn": conn.conn_id})
            await _abort(conn.ws)

    def _on_control(self, conn: _Conn, route: Route, raw: bytes) -> None:
        self._metrics.control.labels(route.type).inc()
        reply = conn.session.reply(route, raw)
        if reply is None:
            log.debug("control frame %s", raw[:200], extra={"shard": self.index})
            return
        cid = reply.id
        waiter = conn.waiting.get(cid) if cid is not None else None
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)
            return
        if not reply.ok:
            code, sid = reply.code, reply.handle
            self._metrics.subscribe_errors.labels(str(code)).inc()
            log.error("exchange error %s: %s", code, reply.message, extra={"shard": self.index, "sid": sid, "id": cid})
            if reply.dropped and sid is not None:
                sub = conn.by_sid.pop(sid, None)
                if sub is not None:
                    self.coverage.dropped(sub.channel, ALL if sub.markets is None else sub.markets,
                                          f"error {code}: {reply.message}", conn=self.index)
                    if self.backfiller is not None:
                        self.backfiller.lost([sub.channel], self._last_data_ms(conn))
                    conn.spawn(self._resubscribe(conn, sub, sid, f"error {code}", f"error_{code}", dead=True),
                               f"shard-{self.index}-resubscribe")
            return
        log.debug("control frame %s", raw[:200], extra={"shard": self.index})

    # -- market updates (discovery) --------------------------------------------------------------------

    async def update_markets(self, sub: Subscription, add: list[str], remove: list[str]) -> None:
        """Edit the plan, then bring a live subscription in line (the feed's :meth:`Session.update` commands).

        Never raises for the exchange's sake: if a command cannot be sent or gets no reply, the connection is
        ended, and the reconnect subscribes the plan as it now is."""
        markets = sub.markets if sub.markets is not None else []
        sub.markets = [m for m in markets if m not in set(remove)] + [m for m in add if m not in set(markets)]
        self._update_markets_gauge()
        if remove:  # deliberately no longer wanted (settled): never a loss, whatever the connection does
            self.coverage.unsubscribed(sub.channel, remove, conn=self.index)
        conn = self._conn
        if conn is None or not sub.active:
            return  # not subscribed on this connection (yet): its (re)subscribe uses the new list
        for command in conn.session.update(sub.channel, sub.sid, add, remove):
            try:
                reply = await self._command(conn, command)
            except _COMMAND_FAILURES as exc:
                await self._out_of_step(conn, "updating a subscription", exc)
                return
            if reply is not None and not reply.ok:
                self._metrics.subscribe_errors.labels(str(reply.code)).inc()
                log.error("updating the %s subscription was refused: error %s: %s", sub.channel, reply.code,
                          reply.message, extra={"shard": self.index, "sid": sub.sid})
                return
        if add:
            self.coverage.subscribed(sub.channel, add, conn=self.index)

    async def add_subscription(self, sub: Subscription) -> None:
        """Add to the plan; subscribe now if live (a connection still subscribing takes it from the list)."""
        self.subscriptions.append(sub)
        self._update_markets_gauge()
        conn = self._conn
        if conn is not None and self.state is State.LIVE:
            try:
                await self._subscribe_or_split(conn, sub)
            except _COMMAND_FAILURES as exc:
                await self._out_of_step(conn, f"subscribe {sub.channel}", exc)

    async def _out_of_step(self, conn: _Conn, what: str, exc: BaseException) -> None:
        log.error("shard %d: %s failed (%s); reconnecting so that the subscriptions match the plan", self.index,
                  what, describe(exc),
                  extra={"shard": self.index, "conn": conn.conn_id})
        await _abort(conn.ws)


def _nowhere(subject: str, payload: bytes) -> None:
    """The publish function of a shard's recorder when no connector gave it one."""


def describe(exc: BaseException) -> str:
    """An exception as one log line; some (a bare ``TimeoutError``) have an empty message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _abort(ws: aiohttp.ClientWebSocketResponse[Literal[False]]) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(), 2.0)

