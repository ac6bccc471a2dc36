"""``--replay``: archived frames played as the live feed, re-addressed to each subscriber, with original spacing."""

from __future__ import annotations

import asyncio
import gzip
import time
from pathlib import Path
from typing import Any

import orjson

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


async def test_replay_reads_envelopes_and_passes_unparseable_lines(make_sim: Any, connect: Any, ctl: Any,
                                                                   tmp_path: Path) -> None:
    """Envelope-format lines are unwrapped to their frame; a non-JSON line is sent as is, in order; the
    replay is marked done in /_sim/stats once the archive is exhausted."""
    first = _trade(0, T0)
    env = {"subject": "prod.kalshi.json.trade.X", "seq": 5, "received_ns": 1, "data": _trade(1, T0 + 10)}
    root = _archive(tmp_path / "arch", [orjson.dumps(first), b"garbage line", orjson.dumps(env)])
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
