"""REST backfill of trades by a real connector process, the simulator as the exchange: what the WebSocket missed
while the connector was away is in the stream afterwards, marked, each trade once after a merge by trade_id."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client import generate_latest

from ssmd.connector.backfill import Backfiller
from ssmd.connector.metrics import ConnectorMetrics
from ssmd.connector.sinks import MemorySink
from ssmd.coverage.recorder import CoverageRecorder, wall_ms
from ssmd.feed.registry import get_feed
from ssmd.kalshi.sim.config import SimConfig
from ssmd.kalshi.sim.server import SimServer
from ssmd.runtime.http import metric_total
from ssmd.testing import ConnectorProc, Setup, Sim, drain_and_compare, expected_subject, is_backfill, stream_messages


async def _rest_trades(sim: Sim) -> list[dict[str, Any]]:
    """Every trade the simulator made (its REST tape: the oracle, including trades no socket was sent)."""
    out: list[dict[str, Any]] = []
    cursor = ""
    async with aiohttp.ClientSession() as http:
        while True:
            params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            async with http.get(f"{sim.http}/trade-api/v2/markets/trades", params=params) as resp:
                body = await resp.json()
            out += body["trades"]
            cursor = body["cursor"]
            if not cursor:
                return out


@pytest.mark.slow
async def test_outages_are_backfilled_once_and_marked(stream: Setup, sim: Sim) -> None:
    """Two outages (the connection dropped, the next reconnects refused) while the simulator keeps trading:
    after each, the connector backfills over REST. The WebSocket copy is still exactly what was sent; the
    trades the socket never carried are all in the stream as marked backfills; a trade backfilled by both
    windows (their margins overlap) is stored once (Nats-Msg-Id backfill:{trade_id}); merged by trade_id,
    the stream holds every trade the exchange made in the captured period."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        for n in (1, 2):
            await sim.wait_sent(len(sim.sent()) + 100)
            await sim.fault("reject_auth", count=3)  # the outage lasts three refused reconnects (~1-2 s)
            await sim.fault("disconnect")
            await conn.wait_metric("ssmd_connector_backfills_total", n, channel="trade", result="complete")
        await sim.wait_sent(len(sim.sent()) + 100)
        await drain_and_compare(sim, stream)  # the WebSocket copy: every sent frame once, in order
        msgs = await stream_messages(stream.nats.url, stream.stream, f"{stream.prefix}.>")
        counted = await conn.metric("ssmd_connector_backfilled_frames_total", channel="trade")
    finally:
        assert conn.terminate() == 0
    ws = [orjson.loads(m.data)["msg"] for m in msgs if not is_backfill(m) and b'"type":"trade"' in m.data]
    backfilled = [m for m in msgs if is_backfill(m)]
    assert counted >= len(backfilled) > 0  # published counts a re-sent duplicate too; the stream keeps one
    ws_ids = [t["trade_id"] for t in ws]
    bf_ids = [orjson.loads(m.data)["msg"]["trade_id"] for m in backfilled]
    assert len(ws_ids) == len(set(ws_ids))
    assert len(bf_ids) == len(set(bf_ids)), "a trade backfilled twice"
    for m in backfilled:
        frame = orjson.loads(m.data)
        assert frame["type"] == "trade" and frame["ssmd_backfill"]["source"] == "rest"
        assert m.headers["Nats-Msg-Id"] == f"backfill:{frame['msg']['trade_id']}"
        assert m.subject == expected_subject(stream.prefix, m.data)
    made = {t["trade_id"]: t for t in await _rest_trades(sim)}
    first, last = ws[0]["ts_ms"], ws[-1]["ts_ms"]
    in_period = {i for i, t in made.items() if first <= _ms(t["created_time"]) <= last}
    merged = set(ws_ids) | set(bf_ids)
    assert merged <= set(made), "a trade the exchange never made"
    assert in_period <= merged, f"{len(in_period - merged)} trades lost"
    missed_by_ws = in_period - set(ws_ids)
    assert missed_by_ws, "the outages missed no trade: the test proves nothing"
    assert missed_by_ws <= set(bf_ids)
    assert "backfilled" in conn.logs()


def _ms(created: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp() * 1000)


async def test_bound_reached_is_a_recorded_partial_backfill(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backfill that stops at its bound publishes what it fetched, counts a partial backfill, logs it, and
    records in the coverage ledger only the newest part it covered: the rest of the outage stays a gap."""
    monkeypatch.setattr("ssmd.kalshi.backfill.MAX_PAGES", 2)
    monkeypatch.setattr("ssmd.kalshi.backfill.PAGE", 5)
    server = SimServer(SimConfig(port=0, auth=False, rate=0, seed=7, markets=4))
    await server.start()
    try:
        model = server.model
        assert model is not None
        now_ms = wall_ms()
        for age_s in (30, 20, 10):
            while len(model.trades) < 6 * (4 - age_s // 10):
                model.step(now_ms - age_s * 1000)
        events: list[dict[str, Any]] = []
        recorder = CoverageRecorder(lambda _subject, payload: events.append(orjson.loads(payload)), env="t",
                                    feed="kalshi", instance="a")
        sink, metrics = MemorySink(), ConnectorMetrics()
        async with aiohttp.ClientSession() as http:
            backfiller = Backfiller(get_feed("kalshi"), http, server.rest_url, None, sink, "t.kalshi", metrics, "a", 0,
                                    recorder=recorder, margin_ms=0)
            backfiller.lost(["trade", "ticker"], now_ms - 35_000)
            assert set(backfiller.pending) == {"trade"}  # tickers cannot be fetched again
            await asyncio.wait_for(backfiller.recover("trade", None, "c1"), 60)
    finally:
        await server.stop()
    assert not backfiller.pending
    assert len(sink.frames) == 10
    assert all(s.startswith("t.kalshi.json.trade.") and h["Nats-Msg-Id"].startswith("backfill:")
               for s, _, h in sink.frames)
    assert metric_total(generate_latest(metrics.registry).decode(), "ssmd_connector_backfills_total",
                        channel="trade", result="partial") == 1
    [event] = [e for e in events if e["event"] == "backfill"]
    assert event["count"] == 10 and event["channel"] == "trade"
    assert now_ms - 20_000 < event["start_ms"] <= now_ms - 10_000 + 1000  # only the newest part: 10 s old trades
    oldest_fetched = min(orjson.loads(f)["msg"]["ts_ms"] for _, f, _ in sink.frames)
    assert event["start_ms"] > oldest_fetched - 1000
