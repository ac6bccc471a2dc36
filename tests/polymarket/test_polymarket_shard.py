"""The generic connector's shard on the Polymarket feed, in-process against the simulator: the silent-socket
watchdog and the text heartbeat, with timings shortened so the test takes seconds."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import aiohttp
import pytest

from ssmd.config.capture import CaptureConfig
from ssmd.connector.metrics import ConnectorMetrics
from ssmd.connector.shard import Shard, State, Subscription
from ssmd.connector.sinks import MemorySink
from ssmd.feed.base import Heartbeat
from ssmd.polymarket.feed import PolymarketFeed
from ssmd.polymarket.sim.server import PolySim, PolySimConfig
from ssmd.testing import wait_until


def _dumps(sink: MemorySink) -> list[tuple[str, bytes, dict[str, str]]]:
    """The subscribe dumps (one array of every subscribed asset's book) the shard published."""
    return [f for f in sink.frames if f[1].startswith(b'[{"market"')]


class QuickFeed(PolymarketFeed):
    """Polymarket with a 0.3 s PING and a 1.5 s silence limit (production: 10 s and 60 s)."""

    heartbeat = dataclasses.replace(PolymarketFeed.heartbeat, interval=0.3, silent_after=1.5)


async def test_silent_socket_that_answers_ping_is_reconnected_and_resubscribed(tmp_path: Path) -> None:
    sim = PolySim(PolySimConfig(port=0, seed=5, markets=2, rate=30, ping_timeout=2.0, sent_log=tmp_path / "s"))
    await sim.start()
    feed = QuickFeed()
    assert isinstance(feed.heartbeat, Heartbeat)
    sink = MemorySink()
    stop = asyncio.Event()
    assets = list(sim.model.by_asset)[:4]
    capture = CaptureConfig.model_validate({"backoff_max": 0.5, "markets": {"tickers": assets}}).for_feed(feed)
    async with aiohttp.ClientSession() as http:
        shard = Shard(0, feed, sim.url, None, sink, "t.polymarket", capture, ConnectorMetrics(), "run",
                      [Subscription("market", assets)], http)
        task = asyncio.create_task(shard.run(stop))
        try:
            await wait_until(lambda: any(b'"price_change"' in f[1] for f in sink.frames), what="data")
            await wait_until(lambda: sim.stats["pings"] >= 3, what="three PINGs (and no 1008 close)")
            async with http.post(f"{sim.rest_url}/_sim/fault", json={"kind": "silent", "seconds": 600}) as resp:
                assert resp.status == 200
            await wait_until(lambda: sim.stats["connections_total"] >= 2, what="a reconnect after the silence")
            # the resubscribe's fresh snapshot, read by the shard (the simulator counts the subscribe before sending it)
            await wait_until(lambda: len(_dumps(sink)) >= 2, what="the resubscribe's snapshot")
        finally:
            stop.set()
            await shard.close()
            await asyncio.wait_for(task, 30)
            await sim.stop()
    assert sim.stats["closed_1008"] == 0  # PING only after the subscribe, and often enough
    dumps = _dumps(sink)
    assert len(dumps) == 2  # the resubscribe brought a fresh snapshot of every asset
    assert {f[2]["Ssmd-Conn"] for f in dumps} == {f[2]["Ssmd-Conn"] for f in sink.frames if f[1] != b"PONG"}


class SlowBeatFeed(PolymarketFeed):
    """A 1 s PING: long enough that a subscribe made after the socket is up comes before the first one."""

    heartbeat = dataclasses.replace(PolymarketFeed.heartbeat, interval=1.0, silent_after=30.0)


async def test_first_ping_waits_for_the_first_subscribe_and_pongs_are_kept_quietly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A shard that connects with nothing to subscribe yet (discovery adds the markets a moment later) must not
    send ``PING`` first: the exchange closes such a socket with 1008. ``PONG`` frames are published (unparsed
    subject) but are neither warned about nor counted as unparsed."""
    sim = PolySim(PolySimConfig(port=0, seed=7, markets=2, rate=30, ping_timeout=5.0, sent_log=tmp_path / "s"))
    await sim.start()
    sink = MemorySink()
    stop = asyncio.Event()
    assets = list(sim.model.by_asset)[:2]
    feed = SlowBeatFeed()
    capture = CaptureConfig.model_validate({"backoff_max": 0.5, "markets": {"tickers": assets}}).for_feed(feed)
    metrics = ConnectorMetrics()
    caplog.set_level(logging.WARNING, logger="ssmd")
    async with aiohttp.ClientSession() as http:
        shard = Shard(0, feed, sim.url, None, sink, "t.polymarket", capture, metrics, "run", [], http)
        task = asyncio.create_task(shard.run(stop))
        try:
            await wait_until(lambda: shard.state is State.LIVE, what="the shard up with no subscription")
            await shard.add_subscription(Subscription("market", assets))
            await wait_until(lambda: sum(f[1] == b"PONG" for f in sink.frames) >= 2, what="two PONGs")
        finally:
            stop.set()
            await shard.close()
            await asyncio.wait_for(task, 30)
            await sim.stop()
    assert sim.stats["closed_1008"] == 0 and sim.stats["connections_total"] == 1
    assert {f[0] for f in sink.frames if f[1] == b"PONG"} == {"t.polymarket.json.unparsed._"}
    assert metrics.unparsed._value.get() == 0
    assert not [r for r in caplog.records if "without JSON" in r.getMessage()]
