"""``--replay``: archived frames played as the live feed, re-addressed to each subscriber, with original spacing."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from ssmd.archive_format.writer import ArchiveWriter, Record
from ssmd.bus.embedded import free_port
from ssmd.kalshi import frames as kalshi_frames
from ssmd.testing import wait_until

T0 = 1_764_072_000_000


def _trade(i: int, ts_ms: int) -> dict[str, Any]:
    return {"type": "trade", "sid": 9, "seq": 100 + i, "msg": {
        "trade_id": f"00000000-0000-0000-0000-{i:012d}", "market_ticker": "KXETHD-26FEB1217-T1819.99",
        "yes_price_dollars": "0.4200", "no_price_dollars": "0.5800", "count_fp": "1.00", "taker_side": "yes",
        "ts": ts_ms // 1000, "ts_ms": ts_ms}}


def _archive(root: Path, lines: list[bytes], name: str = "1200.jsonl.gz") -> Path:
    day = root / "kalshi" / "2026-11-25"
    day.mkdir(parents=True, exist_ok=True)
    with gzip.open(day / name, "wb") as fh:
        fh.write(b"".join(line + b"\n" for line in lines))
    return root


async def _frames(client: Any, n: int) -> list[tuple[float, dict[str, Any]]]:
    out = []
    for _ in range(n):
        frame = await client.recv(within=10)
        out.append((time.monotonic(), frame))
    return out


async def test_replay_keeps_spacing_and_readdresses_frames(make_sim: Any, connect: Any, ctl: Any,
                                                          tmp_path: Path) -> None:
    """Frames 300 ms apart by ts_ms arrive ~300 ms apart at speed 1, carrying the subscriber's sid and its own
    seq 1, 2, 3, with the archived ``msg`` unchanged."""
    trades = [_trade(i, T0 + 300 * i) for i in range(4)]
    root = _archive(tmp_path / "arch", [orjson.dumps(t) for t in trades])
    server = await make_sim(replay=root, speed=1.0)
    await ctl.post(server, "/_sim/pause")
    client = await connect(server)
    sid = (await client.subscribe(["trade"]))["trade"]
    await ctl.post(server, "/_sim/resume")
    got = await _frames(client, 4)
    assert [f["msg"] for _, f in got] == [t["msg"] for t in trades]
    assert [(f["sid"], f["seq"]) for _, f in got] == [(sid, 1), (sid, 2), (sid, 3), (sid, 4)]
    span = got[-1][0] - got[0][0]
    assert 0.6 <= span <= 3.0


async def test_replay_speed_scales_spacing(make_sim: Any, connect: Any, ctl: Any, tmp_path: Path) -> None:
    """At speed 10, frames 1 s apart in the archive arrive ~0.1 s apart."""
    trades = [_trade(i, T0 + 1000 * i) for i in range(5)]
    root = _archive(tmp_path / "arch", [orjson.dumps(t) for t in trades])
    server = await make_sim(replay=root, speed=10.0)
    await ctl.post(server, "/_sim/pause")
    client = await connect(server)
    await client.subscribe(["trade"])
    await ctl.post(server, "/_sim/resume")
    got = await _frames(client, 5)
    span = got[-1][0] - got[0][0]
    assert 0.3 <= span <= 2.0


async def test_replay_passes_lines_that_are_not_json_frames(make_sim: Any, connect: Any, ctl: Any,
                                                             tmp_path: Path) -> None:
    """A jsonl line that is not a JSON frame is sent as is, in order; the replay is marked done in /_sim/stats once
    the archive is exhausted."""
    root = _archive(tmp_path / "arch", [orjson.dumps(_trade(0, T0)), b"garbage line",
                                        orjson.dumps(_trade(1, T0 + 10))])
    server = await make_sim(replay=root, speed=None)
    await ctl.post(server, "/_sim/pause")
    client = await connect(server)
    await client.subscribe(["trade"])
    await ctl.post(server, "/_sim/resume")
    a = await client.recv()
    raw = await asyncio.wait_for(client.ws.receive(), 5)
    b = await client.recv()
    assert a["msg"]["trade_id"].endswith("0")
    assert raw.data == "garbage line"
    assert b["msg"]["trade_id"].endswith("1")
    async def done() -> bool:
        return bool((await ctl.stats(server))["replay_done"])

    await wait_until(done, what="the replay to finish")


async def test_replay_plays_files_in_name_order(make_sim: Any, connect: Any, ctl: Any, tmp_path: Path) -> None:
    """A directory is played file by file in name (= time) order."""
    root = tmp_path / "arch"
    _archive(root, [orjson.dumps(_trade(2, T0 + 20))], "1215.jsonl.gz")
    _archive(root, [orjson.dumps(_trade(1, T0 + 10))], "1200.jsonl.gz")
    server = await make_sim(replay=root, speed=None)
    await ctl.post(server, "/_sim/pause")
    client = await connect(server)
    await client.subscribe(["trade"])
    await ctl.post(server, "/_sim/resume")
    ids = [(await client.recv())["msg"]["trade_id"][-1] for _ in range(2)]
    assert ids == ["1", "2"]


async def _archive_of_restarts(root: Path, payloads: list[bytes]) -> list[str]:
    """The real archiver writer, ``format: envelope``, closing its file after every payload within one 15-minute
    window, as an archiver restarted that often would: the files are named 1200, 1200_1, ... 1200_10."""
    window = dt.datetime(2026, 11, 25, 12, 5, tzinfo=dt.UTC).timestamp()
    writer = ArchiveWriter(root, "kalshi", 900, "15m", fmt="envelope", clock=lambda: window, facts=kalshi_frames)
    for seq, payload in enumerate(payloads, 1):
        await writer.write_batch([Record(payload, seq, f"prod.kalshi.json.trade.{seq}", seq * 1000)])
        await writer.close()
    return [p.name for p in sorted((root / "kalshi" / "2026-11-25").glob("*.jsonl.gz"))]


async def test_sim_process_replays_archive_files_in_archive_order_with_payloads_unwrapped(
        http: aiohttp.ClientSession, tmp_path: Path) -> None:
    """``ssmd sim kalshi --replay`` as a real process on a real port: a WebSocket client receives the frames of
    1200, 1200_1, 1200_2 ... 1200_10 in that order (not 1200_10 before 1200_2), each unwrapped from its envelope,
    and a payload the archiver stored as ``data_b64`` (not JSON) arrives as its original text."""
    trades = [_trade(i, T0 + i) for i in range(11)]
    payloads = [orjson.dumps(t) for t in trades]
    payloads.insert(3, b"not json {")  # the 4th file: 1200_3
    names = await _archive_of_restarts(tmp_path / "arch", payloads)
    assert {"1200.jsonl.gz", "1200_2.jsonl.gz", "1200_10.jsonl.gz", "1200_11.jsonl.gz"} <= set(names)
    assert sorted(names).index("1200_10.jsonl.gz") < sorted(names).index("1200_2.jsonl.gz")  # text order is wrong

    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ssmd", "sim", "kalshi", "--no-auth", "--port", str(port), "--speed", "max",
        "--replay", str(tmp_path / "arch"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert b"listening on" in line, line
        async with http.ws_connect(f"ws://127.0.0.1:{port}/trade-api/ws/v2") as ws:
            await ws.send_str(orjson.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"]}}).decode())
            got: list[str] = []
            while len(got) < len(payloads):
                msg = await asyncio.wait_for(ws.receive(), 30)
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                if msg.data.startswith("{") and orjson.loads(msg.data).get("type") == "subscribed":
                    continue
                got.append(msg.data)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    assert got[3] == "not json {"
    frames = [orjson.loads(g) for i, g in enumerate(got) if i != 3]
    assert [f["msg"] for f in frames] == [t["msg"] for t in trades]
    assert all(f["type"] == "trade" for f in frames)


def test_replay_of_a_path_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    """--replay on a directory without archive files exits 2 before listening, naming the path."""
    from click.testing import CliRunner

    from ssmd.sim.cli import sim_group

    result = CliRunner().invoke(sim_group, ["kalshi", "--no-auth", "--port", "0", "--duration", "5",
                                          "--replay", str(tmp_path)])
    assert result.exit_code == 2
    assert f"--replay {tmp_path}: not an archive" in result.output
    assert "listening" not in result.output
