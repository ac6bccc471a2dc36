"""The live runtime against a real nats-server: fires with JetStream acks, acks after fires, equality with
backtests, NATS restarts, and failing fire publishes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
from _agent_frames import T0, market_session, trade
from _agent_live import capture_stream, publish_frames, running
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from ssmd.agent.backtest import archive_frames, run_backtest
from ssmd.agent.live import LiveConfig, Runtime
from ssmd.agent.loader import load_signals
from ssmd.bus.embedded import EmbeddedNats
from ssmd.testing import SIGNALS, fire_keys, read_fires, wait_until, write_archive

M = "KXBTCD-26FEB1217-T67749.99"


async def _acked_through(js: object, stream: str, durable: str, seq: int) -> bool:
    info = await js.consumer_info(stream, durable)  # type: ignore[attr-defined]
    return bool(info.ack_floor.stream_seq >= seq and info.num_ack_pending == 0)


async def test_fires_published_with_acks_and_frames_acked(nats_server: EmbeddedNats, unique_name: str) -> None:
    """A crossing publishes one fire to {env}.signals.fired.{signal}.{sanitised ticker} carrying the frame's
    stream seq, and every consumed frame ends up acked."""
    env = unique_name
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    stream = await capture_stream(js, env)
    try:
        async with running(nats_server.url, env, "agent", ["price_cross[threshold=0.6]"]) as runtime:
            await publish_frames(js, env, [trade(M, 0.55, 1, "yes", T0), trade(M, 0.61, 1, "yes", T0 + 1000),
                                           trade(M, 0.62, 1, "yes", T0 + 2000)])
            await wait_until(lambda: _acked_through(js, stream, "agent", 3), what="frames acked")
            fires = await read_fires(js, env)
            assert runtime.published == 1
        assert [(f["subject"], f["seq"], f["values"]["price"]) for f in fires] == [
            (f"{env}.signals.fired.price_cross.KXBTCD-26FEB1217-T67749_99", 2, 0.61)]
        assert fires[0]["market"] == M and fires[0]["ts_ms"] == T0 + 1000
    finally:
        await nc.close()


async def test_live_fires_equal_backtest_fires(nats_server: EmbeddedNats, unique_name: str, tmp_path: Path,
                                               samples_path: Path) -> None:
    """An archive replayed into NATS gives the live runtime exactly the fires the backtest finds, one for one."""
    env = unique_name
    samples = await asyncio.to_thread(samples_path.read_bytes)
    frames = [*samples.splitlines(), *market_session(2500, seed=11), b"garbage{"]
    root = write_archive(tmp_path / "archive", frames, per_file=700)
    backtest = run_backtest(archive_frames(root, raw=True), load_signals(SIGNALS))
    assert len(backtest.outcomes) > 100  # every signal kind fires in this data
    assert {o.fire.signal for o in backtest.outcomes} == {"price_cross", "spread_wide", "volume_spike",
                                                          "flow_imbalance", "market_status"}
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    stream = await capture_stream(js, env)
    try:
        replay = [raw for raw, _ in archive_frames(root, raw=True)]  # the archive's frames, in the archive's order
        await publish_frames(js, env, replay)
        async with running(nats_server.url, env, "agent"):
            await wait_until(lambda: _acked_through(js, stream, "agent", len(replay)), what="all frames acked")
            live = await read_fires(js, env)
        assert len(live) == len(backtest.outcomes)
        assert fire_keys(live) == fire_keys([o.fire.to_dict() for o in backtest.outcomes])
    finally:
        await nc.close()


async def test_survives_nats_restart_without_losing_or_duplicating_fires(own_nats: EmbeddedNats,
                                                                         unique_name: str) -> None:
    """Frames published before and after a NATS restart all reach the runtime; each fire is stored once."""
    env = unique_name
    frames = market_session(1200, seed=5)
    half = len(frames) // 2
    expected = run_backtest([(f, None) for f in frames], load_signals(SIGNALS)).outcomes
    nc = await nats.connect(own_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    stream = await capture_stream(js, env)
    try:
        async with running(own_nats.url, env, "agent"):
            await publish_frames(js, env, frames[:half])
            await wait_until(lambda: _acked_through(js, stream, "agent", half), what="first half acked")
            own_nats.stop()
            own_nats.start()
            await wait_until(lambda: nc.is_connected, what="test client reconnected")
            await publish_frames(js, env, frames[half:], first_id=half)
            await wait_until(lambda: _acked_through(js, stream, "agent", len(frames)), what="second half acked")
            live = await read_fires(js, env)
        assert fire_keys(live) == fire_keys([o.fire.to_dict() for o in expected])
    finally:
        await nc.close()


async def test_frame_stays_unacked_until_its_fire_is_stored(nats_server: EmbeddedNats, unique_name: str) -> None:
    """With the fires stream gone, the runtime retries the publish, holds the frame's ack and reports not ready;
    once the stream is back the fire is stored exactly once and the frame acked."""
    env = unique_name
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    stream = await capture_stream(js, env)
    fires_stream = f"{env.upper()}_SIGNALS"
    try:
        async with running(nats_server.url, env, "agent", ["price_cross[threshold=0.6]"], ack_wait_s=1.0) as runtime:
            config = (await js.stream_info(fires_stream)).config
            await js.delete_stream(fires_stream)
            await publish_frames(js, env, [trade(M, 0.55, 1, "yes", T0), trade(M, 0.61, 1, "yes", T0 + 1000)])
            await wait_until(lambda: runtime.metrics.publish_failures._value.get() >= 3, what="publish retries")
            assert runtime._ready() is not None and "failing" in (runtime._ready() or "")
            assert not await _acked_through(js, stream, "agent", 2)
            await wait_until(lambda: runtime.metrics.publish_failures._value.get() >= 6, what="ack_wait passed")
            await js.add_stream(StreamConfig.from_response(config.as_dict()))
            await wait_until(lambda: _acked_through(js, stream, "agent", 2), what="frames acked after recovery")
            fires = await read_fires(js, env)
            assert runtime._ready() is None
        assert [(f["signal"], f["values"]["price"]) for f in fires] == [("price_cross", 0.61)]
        assert runtime.engine.frames == 2
    finally:
        await nc.close()


async def test_frames_delivered_again_are_acked_not_reevaluated(nats_server: EmbeddedNats, unique_name: str) -> None:
    """Frames with a stream seq the runtime already evaluated (a redelivery) are acked and counted, but never fed
    to the state builders again, so no duplicate fires and no double-counted volume."""
    env = unique_name
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    stream = await capture_stream(js, env)
    try:
        await publish_frames(js, env, [trade(M, 0.55, 1, "yes", T0), trade(M, 0.61, 1, "yes", T0 + 1000)])
        runtime = Runtime(LiveConfig(nats_url=nats_server.url, subjects=(f"{env}.kalshi.json.>",)),
                          load_signals(["price_cross[threshold=0.6]"]))
        await runtime._open_publisher(nc, await runtime._ensure_fires_stream(js))
        stop = asyncio.Event()
        for durable in ("first", "again"):  # the second consumer delivers the same stream seqs once more
            await js.add_consumer(stream, ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.ALL))
            sub = await js.pull_subscribe_bind(durable, stream)
            runtime._next_delivery = 1  # a new consumer: its deliveries are numbered from 1
            msgs = await sub.fetch(2, timeout=30)
            await runtime._handle(js, msgs, stop)
            await wait_until(lambda d=durable: _acked_through(js, stream, d, 2), what=f"{durable} acked")
        assert runtime.engine.frames == 2 and runtime.metrics.redelivered._value.get() == 2
        assert runtime.engine.markets[M].volume.total == 2
        assert [f["values"]["price"] for f in await read_fires(js, env)] == [0.61]
    finally:
        await nc.close()


async def test_a_delivery_lost_in_transit_recreates_the_consumer_after_the_last_frame_evaluated(
    nats_server: EmbeddedNats, unique_name: str
) -> None:
    """A jump in the consumer's delivery sequence (a frame lost in transit when a node died) stops evaluation
    before the jump and acks only what was evaluated; the re-created consumer delivers the lost frame and the ones
    after it, in stream order, so the state sees every frame once and in order."""
    env = unique_name
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    stream = await capture_stream(js, env)
    try:
        frames = [trade(M, price, 1, "yes", T0 + i * 1000) for i, price in enumerate((0.55, 0.61, 0.62))]
        await publish_frames(js, env, frames)
        runtime = Runtime(LiveConfig(nats_url=nats_server.url, subjects=(f"{env}.kalshi.json.>",), durable="d"),
                          load_signals(["price_cross[threshold=0.6]"]))
        sub, fires_stream = await runtime._bind(js)
        await runtime._open_publisher(nc, fires_stream)
        stop = asyncio.Event()
        first, _lost, third = await sub.fetch(3, timeout=30)
        assert await runtime._handle(js, [first, third], stop) is not None
        async def floor() -> int:
            return int((await js.consumer_info(stream, "d")).ack_floor.stream_seq)

        await wait_until(lambda: floor(), what="the first frame acked")
        assert await floor() == 1
        assert runtime.engine.frames == 1 and runtime.last_seq == 1
        sub = await runtime._start_consumer(js)
        again = await sub.fetch(2, timeout=30)
        assert [m.data for m in again] == frames[1:]
        assert await runtime._handle(js, again, stop) is None
        await wait_until(lambda: _acked_through(js, stream, "d", 3), what="every frame acked")
        assert runtime.engine.frames == 3 and runtime.engine.markets[M].volume.total == 3
        assert [f["seq"] for f in await read_fires(js, env)] == [2]  # the crossing, from the frame lost at first
    finally:
        await nc.close()


def test_stream_position_read_from_both_ack_subject_forms() -> None:
    """The stream seq, the consumer's delivery seq and the pending count come from the ack subject in its 9-token
    and 12-token (domain) forms."""
    from nats.aio.msg import Msg

    from ssmd.agent.live import _position

    short = Msg(_client=None, subject="p.kalshi.json.trade.X", reply="$JS.ACK.S.d.1.42.7.1795619670956553894.9")  # type: ignore[arg-type]
    domain = Msg(_client=None, subject="p.kalshi.json.trade.X",  # type: ignore[arg-type]
                 reply="$JS.ACK.hub.ACCHASH.S.d.1.43.8.1795619670956553894.5.rnd")
    assert (_position(short), _position(domain)) == ((42, 7, 9), (43, 8, 5))
