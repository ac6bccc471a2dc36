"""Coverage events published through a real nats-server are archived by the real archiver with the deployment
guide's filter (``{env}.{feed}.json.>``) and read back as the same events."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import orjson
from nats.js.api import StreamConfig

from ssmd.bus.embedded import EmbeddedNats
from ssmd.coverage import CoverageRecorder
from ssmd.coverage.source import load
from ssmd.testing import ArchiverProc, read_archive, read_samples, wait_until


async def test_published_events_are_archived_under_the_guides_filter_and_read_back(
        nats_server: EmbeddedNats, unique_name: str, tmp_path: Path, samples_path: Path) -> None:
    trade = next(f for f in read_samples(samples_path) if f.startswith(b'{"type":"trade"'))
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        stream = f"{unique_name.upper()}_KALSHI"
        await js.add_stream(StreamConfig(name=stream, subjects=[f"{unique_name}.kalshi.>"]))
        published: list[tuple[str, bytes]] = []

        async def publish(subject: str, payload: bytes) -> None:
            await js.publish(subject, payload)
            published.append((subject, payload))

        rec = CoverageRecorder(publish, env=unique_name, feed="kalshi", instance="conn-a.zone1",
                               heartbeat_every_s=0.2)
        await rec.subscribed("trade", "all", conn=0)
        await js.publish(f"{unique_name}.kalshi.json.trade.X", trade)
        beats = asyncio.create_task(rec.heartbeats())
        await wait_until(lambda: len(published) >= 3, 30, "two heartbeats published")
        beats.cancel()
        await asyncio.gather(beats, return_exceptions=True)
        await rec.disconnected("websocket closed 1006", conn=0)
    finally:
        await nc.close()
    assert rec.subject == f"{unique_name}.kalshi.json.ssmd_coverage.conn-a_zone1"

    config = tmp_path / "archiver.yaml"
    config.write_text(f"nats:\n  url: {nats_server.url}\n  stream: {stream}\n  consumer: archiver-kalshi\n"
                      f"  filter: \"{unique_name}.kalshi.json.>\"\nstorage:\n  path: {tmp_path / 'data'}\n"
                      f"feed: kalshi\nformat: envelope\n")
    archiver = ArchiverProc(config, tmp_path / "archiver.log")
    try:
        await archiver.wait_archived(len(published) + 1)
    finally:
        assert archiver.terminate() == 0, archiver.logs()

    lines = [orjson.loads(line) for line in read_archive(tmp_path / "data" / "kalshi")]
    assert [line["subject"] for line in lines if line["subject"] == rec.subject] == [rec.subject] * len(published)
    collector, problems = load(tmp_path / "data")
    assert [e.encode() for e in collector.events] == [payload for _subject, payload in published]
    assert not problems
    assert [e.event for e in collector.events][-1] == "disconnected"
    report = collector.report()
    assert list(report.instances) == ["conn-a.zone1"] and report.gaps == []
    assert len(report.instances["conn-a.zone1"].windows[("kalshi", "trade")]) == 1
