"""The generic connector's shard on the Polymarket feed, in-process against the simulator: the silent-socket
watchdog and the text heartbeat, with timings shortened so the test takes seconds."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import aiohttp

from ssmd.config.capture import CaptureConfig
from ssmd.connector.metrics import ConnectorMetrics
from ssmd.connector.shard import Shard, Subscription
from ssmd.connector.sinks import MemorySink
from ssmd.feed.base import Heartbeat
from ssmd.polymarket.feed import PolymarketFeed
from ssmd.polymarket.sim.server import PolySim, PolySimConfig
from ssmd.testing import wait_until


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
            await wait_until(lambda: sim.stats["subscribes"] >= 2, what="the resubscribe")
        finally:
            stop.set()
            await shard.close()
            await asyncio.wait_for(task, 30)
            await sim.stop()
    assert sim.stats["closed_1008"] == 0  # PING only after the subscribe, and often enough
    dumps = [f for f in sink.frames if f[1].startswith(b'[{"market"')]
    assert len(dumps) == 2  # the resubscribe brought a fresh snapshot of every asset
    assert {f[2]["Ssmd-Conn"] for f in dumps} == {f[2]["Ssmd-Conn"] for f in sink.frames if f[1] != b"PONG"}
