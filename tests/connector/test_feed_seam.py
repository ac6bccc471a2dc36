"""The connector speaks any Feed: the feed file selects it, --rest-url overrides its REST base, and the generic
silent-socket watchdog ends a connection that answers pings but delivers no data. In-process, memory sink."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmd.config import FeedConfig, load_environment, load_feed
from ssmd.connector.service import Connector, Options
from ssmd.connector.shard import State
from ssmd.connector.sinks import MemorySink
from ssmd.feed import Heartbeat, feed_name_for
from ssmd.kalshi.feed import KalshiFeed
from ssmd.testing import Sim, wait_until, write_env

FEED = Path(__file__).resolve().parents[2] / "examples" / "local" / "feeds" / "kalshi.yaml"


def _feed_file(feed_type: str) -> dict[str, object]:
    return {"name": "kalshi-eu", "feed_type": feed_type, "versions": [
        {"version": "1", "endpoint": "wss://x/ws", "protocol": {"transport": "websocket", "message": "json"}}]}


def test_feed_type_names_a_feed_or_stays_the_guides_websocket() -> None:
    """``feed_type: kalshi`` selects Kalshi whatever the name; ``websocket`` leaves the choice to ``name``."""
    cfg = FeedConfig.model_validate(_feed_file("kalshi"))
    assert feed_name_for(cfg.feed_type, cfg.name) == "kalshi"
    guide = FeedConfig.model_validate(_feed_file("websocket"))
    assert feed_name_for(guide.feed_type, guide.name) == "kalshi-eu"
    with pytest.raises(ValueError, match="websocket or a feed name"):
        FeedConfig.model_validate(_feed_file("carrier-pigeon"))


async def test_rest_url_overrides_the_environment_files_discovery_base(sim: Sim, tmp_path: Path) -> None:
    """--rest-url wins over capture.markets.discover.rest_url (here a dead port): discovery finds the markets."""
    env_path = write_env(tmp_path / "mem.yaml", "mem", "", {
        "channels": ["orderbook_delta"],
        "markets": {"discover": {"refresh": "1h", "rest_url": "http://127.0.0.1:1/trade-api/v2"}}}, transport="memory")
    connector = Connector(load_feed(FEED), load_environment(env_path),
                          Options(str(env_path), sim.url, None, "127.0.0.1:0", rest_url=f"{sim.http}/trade-api/v2"))
    await connector.start()
    try:
        assert len(connector.markets) == 30
        await wait_until(lambda: all(s.state is State.LIVE for s in connector.shards), what="every shard live")
        assert connector.metrics.discovery_failures._value.get() == 0
    finally:
        await connector.stop()


class _SilentWatchedKalshi(KalshiFeed):
    """Kalshi with a silent-socket watchdog, as a feed without sequence numbers (Polymarket) turns it on."""

    heartbeat = Heartbeat(silent_after=1.5)


async def test_a_socket_that_answers_pings_but_sends_no_data_is_replaced(sim: Sim, tmp_path: Path) -> None:
    """With the exchange paused, pings still flow (so ``dead_after`` never fires) but no data: after
    ``silent_after`` the connection is ended and a new one made; data flows again after resume."""
    env_path = write_env(tmp_path / "mem.yaml", "mem", "", {"channels": ["ticker", "trade"], "dead_after": 60,
                                                            "backoff_max": 0.5}, transport="memory")
    connector = Connector(load_feed(FEED), load_environment(env_path),
                          Options(str(env_path), sim.url, None, "127.0.0.1:0"), exchange=_SilentWatchedKalshi())
    await connector.start()
    try:
        await wait_until(lambda: connector.shards[0].state is State.LIVE, what="the shard live")
        await sim.pause()

        async def reconnected() -> bool:
            return bool((await sim.stats())["connections_total"] >= 2)
        await wait_until(reconnected, what="a new connection after the silence")
        assert connector.metrics.reconnects._value.get() >= 1
        await sim.resume()
        sink = connector.sink
        assert isinstance(sink, MemorySink)
        mark = len(sink.frames)
        await wait_until(lambda: len(sink.frames) > mark + 20, what="data after resume")
    finally:
        await connector.stop()
