"""End to end with real processes: ``ssmd sim polymarket`` -> ``ssmd connector`` (the generic one, given the
Polymarket feed) -> nats-server; the simulator's sent-log is the oracle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from ssmd.bus.embedded import EmbeddedNats
from ssmd.polymarket.sim.server import PolySim, PolySimConfig
from ssmd.testing import (
    ArchiverProc,
    ConnectorProc,
    expected_subject,
    make_stream,
    read_archive,
    run_ssmd,
    stream_messages,
    wait_until,
)

FEED = Path(__file__).resolve().parents[2] / "feeds" / "polymarket.yaml"


def sent_lines(sim: PolySim) -> list[bytes]:
    assert sim.config.sent_log is not None
    path = Path(sim.config.sent_log)
    return [line for line in path.read_bytes().split(b"\n") if line] if path.exists() else []


async def test_capture_and_archive_through_a_reconnect_are_the_sent_log_byte_for_byte(
        nats_server: EmbeddedNats, unique_name: str, tmp_path: Path) -> None:
    """Discovery through Gamma, the array-framed dump, deltas, PONGs (kept on unparsed), an abrupt drop, the
    reconnect's resubscribe and its fresh dump: every frame sent is in the stream once, in order, on its subject;
    the archiver writes them all, and ``ssmd archive verify`` passes."""
    sim = PolySim(PolySimConfig(port=0, seed=3, markets=4, rate=40, sent_log=tmp_path / "sent.log"))
    await sim.start()
    name, prefix = unique_name, f"{unique_name}.polymarket"
    stream = f"{name}_POLYMARKET".upper()
    env = tmp_path / "env.yaml"
    env.write_text(yaml.safe_dump({
        "name": name, "feed": "polymarket",
        "transport": {"type": "nats", "url": nats_server.url},
        "storage": {"type": "local", "path": str(tmp_path / "data")},
        "capture": {"markets": {"discover": {"refresh": "5m"}}},
    }))
    await make_stream(nats_server.url, stream, prefix)
    conn = ConnectorProc(tmp_path, env, sim.url, feed=FEED)
    try:
        await conn.wait_ready()
        await wait_until(lambda: len(sent_lines(sim)) >= 40, what="40 frames sent")
        assert sim.stats["subscribes"] == 1
        async with aiohttp.ClientSession() as http, \
                http.post(f"{sim.rest_url}/_sim/fault", json={"kind": "disconnect", "abrupt": True}) as resp:
            assert resp.status == 200
        await wait_until(lambda: sim.stats["subscribes"] >= 2, what="the connector to resubscribe")
        before = len(sent_lines(sim))
        await wait_until(lambda: len(sent_lines(sim)) >= before + 40, what="40 more frames")
        sim.paused = True

        async def settled() -> tuple[list[bytes], list[Any]] | None:
            """The sent-log and the stream read together: equal counts (a PONG may land between the reads:
            then try again; the connector keeps PINGing while the model is paused)."""
            sent = sent_lines(sim)
            msgs = await stream_messages(nats_server.url, stream, f"{prefix}.>")
            return (sent, msgs) if len(msgs) == len(sent) else None

        sent, msgs = await wait_until(settled, what="the stream to hold what was sent")
    finally:
        assert conn.terminate() == 0
        await sim.stop()
    assert [m.data for m in msgs] == sent
    assert all(m.subject == expected_subject(prefix, m.data, "polymarket") for m in msgs)
    dumps = [i for i, m in enumerate(msgs) if m.data.startswith(b'[{"market"')]
    assert len(dumps) == 2 and dumps[0] == 0  # one array dump per connection, the first frame of each
    assert orjson.loads(msgs[dumps[1]].data)[0]["event_type"] == "book"
    conns = [m.headers["Ssmd-Conn"] for m in msgs]
    assert conns[dumps[1]] != conns[0] and len(set(conns)) == 2
    assert len(orjson.loads(msgs[0].data)) == 8  # every asset of the 4 open markets, found through Gamma
    archive = tmp_path / "archive"
    config = tmp_path / "archiver.yaml"
    config.write_text(yaml.safe_dump({
        "nats": {"url": nats_server.url, "stream": stream, "consumer": "archiver", "filter": f"{prefix}.json.>"},
        "storage": {"path": str(archive)}, "feed": "polymarket"}))
    archiver = ArchiverProc(config, tmp_path / "archiver.log")
    try:
        await archiver.wait_archived(len(msgs))
    finally:
        assert archiver.terminate() == 0, archiver.logs()
    assert read_archive(archive / "polymarket") == sent
    verified = run_ssmd("archive", "verify", archive / "polymarket")
    assert verified.returncode == 0, verified.stdout + verified.stderr
