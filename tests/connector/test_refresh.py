"""Discovery refresh in place: markets that disappear are deleted from their sid, new ones are added
(``update_subscription``), without reconnecting. Runs the connector in-process with ``transport: memory``."""

from __future__ import annotations

from pathlib import Path

import orjson

from ssmd.config import load_environment, load_feed
from ssmd.connector.service import Connector, Options
from ssmd.connector.shard import State
from ssmd.connector.sinks import MemorySink
from ssmd.testing import Sim, wait_until, write_env

FEED = Path(__file__).resolve().parents[2] / "examples" / "local" / "feeds" / "kalshi.yaml"


def _tickers(sink: MemorySink, since: int) -> set[str]:
    out = set()
    for _, payload, _ in sink.frames[since:]:
        frame = orjson.loads(payload)
        if frame.get("type", "").startswith("orderbook"):
            out.add(frame["msg"]["market_ticker"])
    return out


async def _wait_live(connector: Connector) -> None:
    await wait_until(lambda: all(s.state is State.LIVE for s in connector.shards), what="every shard live")


async def test_refresh_removes_gone_markets_and_adds_new_ones(sim: Sim, tmp_path: Path) -> None:
    """After the market list shrinks to 3, only those 3 send book frames; after it grows back, all do;
    the socket is never replaced."""
    env_path = write_env(tmp_path / "mem.yaml", "mem", "", {
        "channels": ["orderbook_delta"], "max_markets_per_subscription": 4,
        "markets": {"discover": {"status": "open", "refresh": "1h"}}}, transport="memory")
    connector = Connector(load_feed(FEED), load_environment(env_path),
                          Options(str(env_path), sim.url, None, "127.0.0.1:0"))
    await connector.start()
    try:
        await _wait_live(connector)
        sink = connector.sink
        assert isinstance(sink, MemorySink)
        everything = list(connector._markets)
        assert len(everything) > 8
        keep = everything[:3]
        # apply_markets returns once the exchange acknowledged the update: every frame read after that point
        # was sent under the new market list (one socket keeps order)
        await connector.apply_markets(keep)
        mark = len(sink.frames)
        await wait_until(lambda: len(sink.frames) >= mark + 40, what="book frames after the shrink")
        assert 0 < len(_tickers(sink, mark)) <= 3 and _tickers(sink, mark) <= set(keep)
        await connector.apply_markets(everything)
        mark = len(sink.frames)
        await wait_until(lambda: len(_tickers(sink, mark) - set(keep)) > 3, what="book frames of re-added markets")
        assert (await sim.stats())["connections_total"] == 1
        assert connector.metrics.subscribe_errors._metrics == {}
    finally:
        await connector.stop()
