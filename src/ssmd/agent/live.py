"""The live runtime: a durable JetStream consumer feeding the :class:`Engine`, publishing fires with acks.

Delivery contract: a frame is acked only after every fire it caused is stored (JetStream publish ack); the
consumer uses AckAll, so the last frame's ack after a batch's fires are stored acks the batch. Each
fire carries ``Nats-Msg-Id = {stream seq}:{signal}:{market}``, so a retried publish inside the stream's duplicate
window is stored once. A redelivered frame the engine already evaluated is acked without being evaluated again
(state would double-count it). State lives in memory: after a restart of the agent itself, windows fill again
from the frames the durable consumer still has to deliver.

Order: frames are evaluated in stream order, as a backtest over the archive reads them (live == backtest). A
delivery lost in transit (the node serving the agent died with it in flight) would break that: JetStream delivers
newer frames at once and the lost one only after ``ack_wait``, and the AckAll of a newer frame would ack it unseen.
Each delivery carries the consumer's delivery sequence, which counts every delivery without a hole, so a lost one
shows as a jump: the agent then evaluates up to the jump and re-creates its consumer at the next frame after the
last one it evaluated (the archiver does the same with its own consumer). The consumer is re-created the same
way at start-up, so frames a previous process received but did not ack come first, not after ``ack_wait``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import nats.errors
from aiohttp import web
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from ssmd import __version__, naming
from ssmd.agent._metrics import AgentMetrics
from ssmd.agent.engine import Engine
from ssmd.agent.signal import Fire, Signal
from ssmd.bus.acks import parse_ack_subject
from ssmd.bus.connect import connect
from ssmd.bus.publish import Outgoing, Publisher, msg_id_header
from ssmd.bus.streams import StreamConflict, StreamSpec, StreamUnavailable, check_capture, ensure_stream
from ssmd.errors import InputError
from ssmd.feed import Feed, feed_names, get_feed
from ssmd.runtime.backoff import Backoff
from ssmd.runtime.http import HealthServer

log = logging.getLogger(__name__)

FIRES_MAX_AGE_S = 7 * 86400
_RETRY_MIN_S = 0.1
_RETRY_MAX_S = 2.0
NO_SIGNALS_WARNING = (
    "no signals selected: the agent evaluates nothing and only serves /health, /ready and /metrics; select signals "
    "with SSMD_SIGNALS (or --signals), e.g. SSMD_SIGNALS='price_cross[threshold=0.6],volume_spike' together with "
    "NATS_URL and NATS_SUBJECTS='prod.kalshi.json.>' (docs/agent.md)"
)

class AgentSetupError(InputError):
    """The runtime cannot start as configured (no stream for the subjects, ...): exit 2 with this message."""


@dataclass(frozen=True)
class LiveConfig:
    nats_url: str
    subjects: tuple[str, ...]
    stream: str | None = None
    durable: str = naming.AGENT_DURABLE
    health_addr: str = "0.0.0.0:8080"
    fires_stream: str | None = None
    deliver: str = "all"
    batch: int = 256
    fetch_timeout_s: float = 1.0
    ack_wait_s: float = 30.0
    feed: str = "kalshi"
    """The feed whose frames the subjects carry (``--feed``; the agent reads them through its events)."""

    def __post_init__(self) -> None:
        envs = {naming.env_of(subject) for subject in self.subjects}
        env = next(iter(envs), "")
        if len(envs) != 1 or not naming.is_token(env):  # one literal token: no wildcard, no mix
            raise ValueError(
                f"NATS_SUBJECTS {','.join(self.subjects)!r}: every filter must start with the same literal "
                f"environment token (e.g. prod.kalshi.json.trade.>,prod.kalshi.json.ticker.>); fires go to "
                f"{naming.fires_filter('{env}')}"
            )

    @property
    def env(self) -> str:
        """The environment token fires are published under: the first token of the first subject filter."""
        return naming.env_of(self.subjects[0])


def subjects_feed(subjects: Sequence[str]) -> str:
    """The feed token of subject filters (``prod.kalshi.json.>`` -> ``kalshi``) when it names a registered feed,
    else ``kalshi`` (subjects always had it before feeds had names)."""
    tokens = {naming.feed_of(subject) for subject in subjects}
    name = next(iter(tokens)) if len(tokens) == 1 else None
    return name if name is not None and name in feed_names() else "kalshi"


def fire_subject(env: str, fire: Fire) -> str:
    return naming.fire_subject(env, fire.signal, fire.market)


class Runtime:
    def __init__(self, config: LiveConfig, signals: Sequence[Signal[Any]], metrics: AgentMetrics | None = None,
                 feed: Feed | None = None) -> None:
        self.config = config
        self.engine = Engine(signals, feed if feed is not None else get_feed(config.feed))
        self.metrics = metrics or AgentMetrics()
        self.metrics.signals.set(len(self.engine.signals))
        self.health = HealthServer(config.health_addr, self.metrics.registry, self._health, self._ready,
                                         extra_routes=[web.get("/", _on_root)])
        self.last_seq = 0
        self._next_delivery = 1
        self._stream = ""
        self._consumer: ConsumerConfig | None = None
        self.published = 0
        self.nc: Client | None = None
        self._publisher: Publisher | None = None
        self._bound = False
        self._failing_since: float | None = None
        self._errors_seen = dict(self.engine.errors)

    # -- HTTP -----------------------------------------------------------------------------------------------
    def _health(self) -> dict[str, Any]:
        return {"status": "ok"}

    def _ready(self) -> str | None:
        if self.nc is None or not self.nc.is_connected:
            return "not connected to NATS"
        if not self._bound:
            return "consumer not bound yet"
        if self._failing_since is not None:
            return f"fire publishes failing for {time.monotonic() - self._failing_since:.0f}s"
        return None

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Serve /health, connect, bind the consumer, then evaluate until ``stop`` is set."""
        await self.health.start()
        try:
            self.nc = await connect(self.config.nats_url, "ssmd-agent")
            try:
                js = self.nc.jetstream()
                sub, fires_stream = await self._bind(js)
                await self._open_publisher(self.nc, fires_stream)
                await self._consume(js, sub, stop)
            finally:
                if self._publisher is not None:
                    await self._publisher.stop()
                await _close(self.nc)
        finally:
            await self.health.stop()

    async def _bind(self, js: JetStreamContext) -> tuple[JetStreamContext.PullSubscription, str]:
        """The pull subscription, and the stream fires go to."""
        cfg = self.config
        stream = cfg.stream
        if stream is None:
            try:
                stream = await js.find_stream_name_by_subject(cfg.subjects[0])
            except NotFoundError:
                raise AgentSetupError(f"no JetStream stream captures {cfg.subjects[0]!r}: pass --stream or check "
                                      f"NATS_SUBJECTS") from None
        try:
            for subject in cfg.subjects:
                info = await check_capture(js, stream, subject)
        except (StreamConflict, StreamUnavailable) as exc:
            raise AgentSetupError(str(exc)) from None
        fires_stream = await self._ensure_fires_stream(js, info.config.num_replicas or 1)
        self._stream = stream
        self._consumer = ConsumerConfig(
            durable_name=cfg.durable,
            ack_policy=AckPolicy.ALL,  # frames are handled in order, so one ack per batch is exact
            ack_wait=cfg.ack_wait_s,
            deliver_policy=DeliverPolicy.ALL if cfg.deliver == "all" else DeliverPolicy.NEW,
            max_ack_pending=max(1024, cfg.batch * 4),
            **({"filter_subject": cfg.subjects[0]} if len(cfg.subjects) == 1
               else {"filter_subjects": list(cfg.subjects)}),
        )
        try:
            sub = await self._start_consumer(js)
        except Exception as exc:
            raise AgentSetupError(f"cannot create durable consumer {cfg.durable!r} on {stream}: {exc}") from None
        self._bound = True
        log.info("agent consuming", extra={"stream": stream, "subjects": list(cfg.subjects), "durable": cfg.durable,
                                           "signals": [s.id for s in self.engine.signals]})
        return sub, fires_stream

    async def _start_consumer(self, js: JetStreamContext) -> JetStreamContext.PullSubscription:
        """(Re)create the durable consumer so that its first delivery is the frame after the last one evaluated (or,
        in a new process, acked), with no delivery of an older frame pending behind newer ones (module docstring).
        A consumer that does not exist yet starts where ``--deliver`` says."""
        assert self._consumer is not None
        durable, stream = self._consumer.durable_name, self._stream
        assert durable is not None
        config = self._consumer
        try:
            info = await js.consumer_info(stream, durable)
        except NotFoundError:
            info = None
        done = max(self.last_seq, info.ack_floor.stream_seq if info is not None and info.ack_floor else 0)
        if info is not None or done:
            config = replace(config, deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=done + 1)
        if info is not None:
            await js.delete_consumer(stream, durable)
        await js.add_consumer(stream, config)
        self._next_delivery = 1
        return await js.pull_subscribe_bind(durable, stream)

    async def _open_publisher(self, nc: Client, fires_stream: str) -> None:
        self._publisher = Publisher(nc, fires_stream, on_acked=self._fire_stored, on_retry=self._fires_retried,
                                    name="agent-fires")
        await self._publisher.start()

    async def _ensure_fires_stream(self, js: JetStreamContext, replicas: int = 1) -> str:
        """Create ``{ENV}_SIGNALS`` unless a stream stores fires already, with as many replicas as the stream the
        agent reads: fires must survive the same dead nodes the frames they come from do."""
        env = self.config.env
        try:
            return await js.find_stream_name_by_subject(naming.fire_subject(env, "x", "y"))  # one stores fires already
        except NotFoundError:
            pass
        name = self.config.fires_stream or naming.fires_stream(env)
        spec = StreamSpec(name=name, subjects=(naming.fires_capture(env),), max_age_s=FIRES_MAX_AGE_S,
                          replicas=replicas)
        try:
            await ensure_stream(js, spec)
        except (StreamConflict, StreamUnavailable) as exc:
            raise AgentSetupError(str(exc)) from None
        return name

    # -- hot loop -------------------------------------------------------------------------------------------
    async def _consume(self, js: JetStreamContext, sub: JetStreamContext.PullSubscription,
                       stop: asyncio.Event) -> None:
        cfg = self.config
        backoff = Backoff(_RETRY_MIN_S, _RETRY_MAX_S)
        while not stop.is_set():
            try:
                msgs = await sub.fetch(cfg.batch, timeout=cfg.fetch_timeout_s)
            except (TimeoutError, NatsTimeout):
                continue
            except Exception as exc:  # disconnected, server restarting: nats-py reconnects on its own
                log.debug("fetch failed: %s", exc)
                await backoff.wait(stop)
                continue
            backoff.reset()
            if not msgs:
                continue
            lost = await self._handle(js, msgs, stop)
            if lost is not None:
                log.warning("a delivery was lost (%s): re-creating the consumer after stream seq %d", lost,
                            self.last_seq)
            while lost is not None and not stop.is_set():
                try:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
                    sub = await self._start_consumer(js)
                    self.metrics.resyncs.inc()
                    lost = None
                except Exception as exc:  # no quorum yet, say: the cluster elects a leader, then this works
                    log.debug("re-creating the consumer failed: %s", exc)
                    await backoff.wait(stop)

    async def _handle(self, js: JetStreamContext, msgs: list[Msg], stop: asyncio.Event) -> str | None:
        """Evaluate a batch in order and ack it once its fires are stored. Returns why the consumer must be
        re-created (a delivery was lost before one of these; the frames from there on are left unevaluated and
        unacked), else ``None``."""
        engine, metrics = self.engine, self.metrics
        on_frame = engine.on_frame
        observe = metrics.eval_seconds.observe
        perf = time.perf_counter
        outgoing: list[tuple[str, bytes, str, Fire]] = []
        evaluated = 0
        unparsed_before = engine.unparsed
        pending = None
        lost = None
        last: Msg | None = None
        for msg in msgs:
            seq, delivery, pending = _position(msg)
            if delivery != self._next_delivery:
                lost = f"expected delivery {self._next_delivery}, got {delivery} (stream seq {seq})"
                break
            self._next_delivery += 1
            last = msg
            if seq <= self.last_seq:
                metrics.redelivered.inc()
                continue
            started = perf()
            fires = on_frame(msg.data, seq)
            observe(perf() - started)
            evaluated += 1
            self.last_seq = seq
            if fires:
                env = naming.env_of(msg.subject)
                for fire in fires:
                    outgoing.append((fire_subject(env, fire), fire.to_json(), f"{seq}:{fire.signal}:{fire.market}",
                                     fire))
        metrics.frames.inc(evaluated)
        if engine.unparsed != unparsed_before:
            metrics.unparsed.inc(engine.unparsed - unparsed_before)
        self._count_signal_errors()
        if outgoing and not await self._publish(outgoing, stop):
            return None  # stopping with fires unstored: leave the frames unacked so they are redelivered
        if last is not None:
            try:
                await last.ack()  # AckAll: one ack covers the batch, sent only now that its fires are stored
            except nats.errors.Error as exc:  # failing over: the next ack covers this one, or it is redelivered
                log.debug("ack failed: %s", exc)
        metrics.last_seq.set(self.last_seq)
        if pending is not None:
            metrics.lag_messages.set(pending)
        if engine.clock is not None:
            metrics.lag_seconds.set(max(0.0, time.time() - engine.clock / 1000))
        return lost

    async def _publish(self, outgoing: list[tuple[str, bytes, str, Fire]], stop: asyncio.Event) -> bool:
        """Publish every fire and wait for its ack; the publisher retries (same msg id) until stored. Returns False
        if ``stop`` came first."""
        publisher = self._publisher
        assert publisher is not None
        for subject, data, msg_id, fire in outgoing:
            publisher.submit(subject, data, msg_id_header(msg_id), fire.signal)
        stored = asyncio.ensure_future(publisher.wait_idle())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait((stored, stopping), return_when=asyncio.FIRST_COMPLETED)
        for waiter in (stored, stopping):
            waiter.cancel()
        if publisher.pending:
            return False
        self._failing_since = None
        return True

    def _fire_stored(self, items: list[Outgoing]) -> None:
        self.published += len(items)
        for item in items:
            self.metrics.fires.labels(item.tag).inc()

    def _fires_retried(self, count: int, reason: str) -> None:
        self.metrics.publish_failures.inc(count)
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning("publishing %d fires failed (%s); retrying", count, reason)

    def _count_signal_errors(self) -> None:
        for name, count in self.engine.errors.items():
            seen = self._errors_seen.get(name, 0)
            if count != seen:
                self.metrics.signal_errors.labels(name).inc(count - seen)
                self._errors_seen[name] = count


async def serve_idle(health_addr: str, stop: asyncio.Event, metrics: AgentMetrics | None = None) -> None:
    """No signals selected: serve /health, /ready and /metrics until ``stop``, evaluating nothing.

    The deployment guide's agent Deployment sets only ``PORT`` (its NATS and signal settings are "future
    configuration"), so a pod started that way must stay up and healthy rather than crash-loop; the one warning tells
    the operator what to set. Nothing connects to NATS: there is nothing to consume for.
    """
    metrics = metrics or AgentMetrics()
    metrics.signals.set(0)
    health = HealthServer(health_addr, metrics.registry, lambda: {"status": "ok"}, lambda: None,
                          extra_routes=[web.get("/", _on_root)])
    await health.start()
    log.warning(NO_SIGNALS_WARNING)
    try:
        await stop.wait()
    finally:
        await health.stop()


def _position(msg: Msg) -> tuple[int, int, int]:
    """(stream seq, the consumer's delivery seq, messages pending) from the ack subject
    (:func:`ssmd.bus.acks.parse_ack_subject`)."""
    delivery = parse_ack_subject(msg.reply)
    if delivery is None:
        raise ValueError(f"not a JetStream message (reply subject {msg.reply!r})")
    return delivery.stream_seq, delivery.consumer_seq, delivery.pending


async def _close(nc: Client) -> None:
    """Flush our acks if the server is there, then close; never hang shutdown on a dead connection."""
    if nc.is_connected:
        with contextlib.suppress(Exception):
            await nc.flush(timeout=2)
    await nc.close()


async def _on_root(_: web.Request) -> web.Response:
    return web.json_response({"service": "ssmd-agent", "version": __version__})
