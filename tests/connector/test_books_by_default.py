"""Issue #14 items 1 and 5 with real processes: the deployment guide's environment file (no ``capture:``) captures
every open market's order book and follows markets opening and settling; the connector's coverage events (connect,
subscribe, heartbeat, disconnect, seq gap, re-snapshot) are in the stream; the archiver counts the seconds no
instance was subscribed while the only connector is dead."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import nats
import orjson
import pytest

from ssmd import naming
from ssmd.bus.embedded import EmbeddedNats
from ssmd.coverage.events import CoverageEvent, decode
from ssmd.testing import ArchiverProc, ConnectorProc, Setup, Sim, coverage_filter, make_stream, wait_until, write_env

GUIDE = Path(__file__).resolve().parents[2] / "examples" / "deployment-guide"
BOOK = "orderbook_delta"


class CoverageTap:
    """Every coverage event in the stream, in stream order, as it arrives (an ordered consumer)."""

    def __init__(self) -> None:
        self.events: list[CoverageEvent] = []
        self._nc: Any = None

    async def start(self, url: str, stream: str, prefix: str) -> None:
        self._nc = await nats.connect(url)

        async def take(msg: Any) -> None:
            self.events.append(decode(msg.data))

        await self._nc.jetstream().subscribe(coverage_filter(prefix), stream=stream, ordered_consumer=True, cb=take)

    async def stop(self) -> None:
        await self._nc.close()

    def of(self, kind: str, channel: str | None = None) -> list[CoverageEvent]:
        return [e for e in self.events if e.event == kind and (channel is None or e.channel == channel)]

    def books(self) -> set[str]:
        """Markets whose book is subscribed now, by the events (deliberate unsubscribes remove them)."""
        out: set[str] = set()
        for e in self.events:
            if e.channel == BOOK and isinstance(e.markets, tuple):
                if e.event == "subscribed":
                    out |= set(e.markets)
                elif e.event == "unsubscribed":
                    out -= set(e.markets)
        return out


@pytest.fixture
async def tap() -> AsyncIterator[CoverageTap]:
    t = CoverageTap()
    yield t
    await t.stop()


async def open_markets(sim: Sim) -> set[str]:
    async with aiohttp.ClientSession() as s, s.get(f"{sim.http}/trade-api/v2/markets",
                                                   params={"status": "open", "limit": "1000"}) as r:
        body = await r.json()
    return {m["ticker"] for m in body["markets"]}


def lifecycle(sim: Sim, event_type: str, after: int) -> list[str]:
    """Markets whose ``market_lifecycle_v2`` frame of ``event_type`` the simulator sent after sent-log line
    ``after``."""
    out = []
    for raw in sim.sent()[after:]:
        if raw.startswith(b'{"type":"market_lifecycle_v2"'):
            msg = orjson.loads(raw)["msg"]
            if msg.get("event_type") == event_type:
                out.append(msg["market_ticker"])
    return out


@pytest.mark.slow
async def test_guide_env_subscribes_every_open_book_follows_new_and_settled_and_records_coverage(
        own_nats: EmbeddedNats, tmp_path: Path, tap: CoverageTap) -> None:
    """prod-nats.yaml unchanged (NATS_URL, --ws-url): the book of every open market is subscribed (coverage events
    name exactly the simulator's open markets), a market the simulator opens later is subscribed and gets a
    snapshot, a settled one is unsubscribed; connect/subscribe/heartbeat events are in the stream, a forced
    disconnect is recorded with its cause and followed by a resubscribe, a seq gap by seq_gap and resnapshot."""
    await make_stream(own_nats.url, "PROD_KALSHI", "prod.kalshi")
    await tap.start(own_nats.url, "PROD_KALSHI", "prod.kalshi")
    sim = Sim(tmp_path, "--no-auth", "--rate", "100", "--seed", "5", "--markets", "12", "--lifecycle-interval", "2")
    conn = ConnectorProc(tmp_path, GUIDE / "environments" / "prod-nats.yaml", sim.url,
                         feed=GUIDE / "feeds" / "kalshi.yaml",
                         environ={"NATS_URL": own_nats.url, "SSMD_INSTANCE": "guide-a"})
    try:
        await conn.wait_ready()
        start_line = len(sim.sent())
        await wait_until(lambda: tap.of("heartbeat"), 60, "a coverage heartbeat")
        for channel in ("ticker", "trade", "market_lifecycle_v2"):
            await wait_until(lambda c=channel: any(e.markets == "all" for e in tap.of("subscribed", c)), 60,
                             f"{channel} subscribed for all markets")

        async def books_are_the_open_markets() -> bool:
            return tap.books() == await open_markets(sim)

        await wait_until(books_are_the_open_markets, 60, lambda: f"books {sorted(tap.books())}")
        assert len(tap.books()) >= 10

        await wait_until(lambda: lifecycle(sim, "activated", start_line), 60, "the simulator to open a market")
        opened = lifecycle(sim, "activated", start_line)[0]
        await wait_until(lambda: opened in tap.books(), 60, f"{opened} subscribed")
        await wait_until(lambda: any(raw.startswith(b'{"type":"orderbook_snapshot"') and opened.encode() in raw
                                     for raw in sim.sent()[start_line:]), 60, f"a snapshot of {opened}")
        def settled_books() -> list[str]:  # a market closed before discovery was never subscribed: not those
            ever = {m for e in tap.of("subscribed", BOOK) for m in (e.markets if isinstance(e.markets, tuple) else ())}
            return [m for m in lifecycle(sim, "settled", start_line) if m in ever]

        await wait_until(settled_books, 60, "the simulator to settle a subscribed market")
        settled = settled_books()[0]
        await wait_until(lambda: any(e.markets != "all" and settled in (e.markets or ())
                                     for e in tap.of("unsubscribed", BOOK)), 60, f"{settled} unsubscribed")
        assert settled not in tap.books()

        subscribed_before = len(tap.of("subscribed"))
        await sim.fault("disconnect", abrupt=True)
        await wait_until(lambda: tap.of("disconnected") or tap.of("stalled"), 60, "the disconnect recorded")
        lost = (tap.of("disconnected") or tap.of("stalled"))[0]
        assert lost.instance == "guide-a" and lost.conn == "0" and lost.cause
        await wait_until(lambda: len(tap.of("subscribed")) > subscribed_before + 3, 60, "subscribed again")

        await sim.fault("seq_gap")
        await wait_until(lambda: tap.of("resnapshot", BOOK), 60, "a book re-snapshot after the seq gap")
        gap = tap.of("seq_gap", BOOK)[0]
        assert gap.market and "expected seq" in (gap.cause or "") and gap.instance == "guide-a"
    finally:
        assert conn.terminate() == 0, conn.logs()[-3000:]
        sim.stop()
    await wait_until(lambda: tap.of("disconnected") and tap.events[-1].event == "disconnected", 30,
                     "the shutdown recorded")
    assert tap.events[-1].cause == "shutdown"
    assert {e.run for e in tap.events} == {tap.events[0].run}  # one process, one run


@pytest.mark.slow
async def test_archiver_counts_uncovered_seconds_while_the_only_connector_is_dead(
        stream: Setup, tmp_path: Path) -> None:
    """One connector (heartbeat 0.5 s), the archiver on the guide's filter: ssmd_coverage_uncovered_seconds_total
    stays 0 while it captures, and grows once it is killed with -9 (no goodbye: its heartbeats stop)."""
    env = write_env(tmp_path / "cov.yaml", stream.name, stream.nats.url,
                    {"channels": ["trade"], "coverage_heartbeat": 0.5})
    config = tmp_path / "archiver.yaml"
    config.write_text(f"nats:\n  url: {stream.nats.url}\n  stream: {stream.stream}\n  consumer: archiver-kalshi\n"
                      f"  filter: \"{naming.frames_filter(stream.prefix)}\"\n"
                      f"storage:\n  path: {tmp_path / 'data'}\nfeed: kalshi\n")
    sim = Sim(tmp_path, "--no-auth", "--rate", "50", "--seed", "3", "--markets", "5")
    archiver = ArchiverProc(config, tmp_path / "archiver.log")
    conn = ConnectorProc(tmp_path, env, sim.url, environ={"SSMD_INSTANCE": "only"})
    name, labels = "ssmd_coverage_uncovered_seconds_total", {"feed": "kalshi", "channel": "trade"}
    try:
        await archiver.wait_ready()
        await conn.wait_ready()

        async def counted() -> bool:  # the series exists once the archiver applied the subscribe (after its lag)
            _, text = await archiver.get("/metrics")
            return f'{name}{{channel="trade",feed="kalshi"}}' in text

        await wait_until(counted, 60, f"{name} exported")
        covered_at = time.monotonic()
        await wait_until(lambda: time.monotonic() - covered_at > 3, 10, "3 s of coverage")
        assert await archiver.metric(name, **labels) == 0.0
        assert conn.kill() == -9
        assert await archiver.wait_metric(name, 2.0, within=60, **labels) >= 2.0
    finally:
        conn.terminate(or_kill=True)
        assert archiver.terminate() == 0, archiver.logs()[-3000:]
        sim.stop()
