"""Every ``POST /_sim/fault`` kind, and pause/resume, does what it says on a live connection."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ssmd.testing import wait_until


async def test_disconnect_closes_every_socket(make_sim: Any, connect: Any, ctl: Any) -> None:
    """``disconnect`` sends a close frame on every socket; the clients see the connection end."""
    server = await make_sim(rate=1000)
    clients = [await connect(server), await connect(server)]
    for c in clients:
        await c.subscribe(["ticker"])
    done = await ctl.fault(server, "disconnect")
    assert done["closed"] == 2
    for c in clients:
        for _ in range(10_000):
            msg = await asyncio.wait_for(c.ws.receive(), 5)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        assert c.ws.closed or msg.type != aiohttp.WSMsgType.TEXT
    assert (await ctl.stats(server))["connections"] == 0


async def test_abrupt_disconnect_drops_tcp_without_close_frame(make_sim: Any, connect: Any, ctl: Any) -> None:
    """``disconnect`` with ``abrupt`` drops the TCP connection: the client gets no close code from the server."""
    server = await make_sim()
    client = await connect(server)
    await ctl.fault(server, "disconnect", abrupt=True)
    msg = await asyncio.wait_for(client.ws.receive(), 5)
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
    assert client.ws.close_code != 1011


async def test_stall_stops_sending_without_closing(make_sim: Any, connect: Any, ctl: Any) -> None:
    """During a stall nothing arrives (no data, no pings) yet the socket stays open; data resumes after it."""
    server = await make_sim(rate=2000, ping_interval=0.1)
    client = await connect(server, autoping=False)
    await client.subscribe(["ticker", "trade"])
    await ctl.fault(server, "stall", seconds=1.5)
    stalled_at = time.monotonic()
    # Frames written just before the stall may still arrive; then silence until the stall ends.
    last = stalled_at
    longest_silence = 0.0
    for _ in range(100_000):
        msg = await asyncio.wait_for(client.ws.receive(), 5)
        now = time.monotonic()
        longest_silence = max(longest_silence, now - last)
        last = now
        if now - stalled_at > 2.0:
            break
    assert longest_silence >= 1.0
    assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.PING)
    assert not client.ws.closed


async def test_seq_gap_skips_one_seq_per_sid(make_sim: Any, connect: Any, ctl: Any) -> None:
    """``seq_gap`` makes the next frame of each seq'd sid jump by 2; everything else stays contiguous."""
    server = await make_sim(rate=5000)
    client = await connect(server)
    sids = await client.subscribe(["trade"])
    sids |= await client.subscribe(["orderbook_delta"], [m.ticker for m in server.model.active])
    frames = [await client.recv() for _ in range(300)]
    await ctl.fault(server, "seq_gap")
    frames += [await client.recv() for _ in range(1000)]
    await ctl.post(server, "/_sim/pause")
    frames += await client.barrier()
    for sid in sids.values():
        seqs = [f["seq"] for f in frames if f.get("sid") == sid]
        jumps = [b - a for a, b in itertools.pairwise(seqs) if b - a != 1]
        assert jumps == [2], (sid, jumps)


async def test_malformed_sends_non_json_and_typeless_frames(
    make_sim: Any, connect: Any, ctl: Any, tmp_path: Path
) -> None:
    """``malformed`` sends each socket one non-JSON frame and one JSON frame without ``type``; both are in the
    sent-log as data."""
    log = tmp_path / "sent.jsonl"
    server = await make_sim(sent_log=log)
    client = await connect(server)
    await ctl.fault(server, "malformed")
    first = await asyncio.wait_for(client.ws.receive(), 5)
    second = await asyncio.wait_for(client.ws.receive(), 5)
    try:
        orjson.loads(first.data)
        raise AssertionError("first frame parsed as JSON")
    except orjson.JSONDecodeError:
        pass
    parsed = orjson.loads(second.data)
    assert isinstance(parsed, dict) and "type" not in parsed
    assert log.read_text().splitlines() == [first.data, second.data]


async def test_reject_auth_refuses_the_next_handshakes(
    make_sim: Any, connect: Any, ctl: Any, http: aiohttp.ClientSession, keypair: Any
) -> None:
    """``reject_auth`` with count 2 makes the next two correctly signed handshakes get 401; the third works."""
    server = await make_sim()
    await ctl.fault(server, "reject_auth", count=2)
    statuses = []
    for _ in range(3):
        try:
            ws = await http.ws_connect(server.url, headers=keypair.credentials.headers("GET", "/trade-api/ws/v2"))
            statuses.append(101)
            await ws.close()
        except aiohttp.WSServerHandshakeError as exc:
            statuses.append(exc.status)
    assert statuses == [401, 401, 101]


async def test_unknown_fault_kind_is_400(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """An unknown fault kind is refused with 400 naming the valid kinds."""
    server = await make_sim()
    async with http.post(f"http://127.0.0.1:{server.port}/_sim/fault", json={"kind": "meteor"}) as resp:
        assert resp.status == 400
        assert "disconnect" in (await resp.json())["error"]


async def test_pause_stops_data_and_resume_restarts_it(make_sim: Any, connect: Any, ctl: Any) -> None:
    """While paused no data frame is generated; after resume frames flow again."""
    server = await make_sim(rate=5000)
    client = await connect(server)
    await client.subscribe(["ticker", "trade"])
    await ctl.post(server, "/_sim/pause")
    await client.barrier()
    before = (await ctl.stats(server))["frames_generated"]
    await asyncio.sleep(0.3)
    assert (await ctl.stats(server))["frames_generated"] == before
    await ctl.post(server, "/_sim/resume")
    frame = await client.recv()
    assert frame["type"] in ("ticker", "trade")


async def test_slow_reader_loses_subscriptions_with_error_25(make_sim: Any, connect: Any) -> None:
    """When a socket's send buffer passes ``buffer_limit`` its subscriptions die with error 25, as on Kalshi."""
    server = await make_sim(rate=50000, buffer_limit=64 * 1024)
    client = await connect(server)
    await client.subscribe(["ticker", "trade"])
    # do not read: let the server's buffer fill until it gives up on the subscriptions
    await wait_until(lambda: server.snapshot_stats()["subscriptions"] == 0, what="the subscriptions to die")
    frame, _ = await client.until(lambda f: f.get("type") == "error")
    assert frame["msg"]["code"] == 25


@pytest.mark.parametrize("abrupt", [False, True])
async def test_sent_log_matches_what_arrived_across_a_disconnect(
    make_sim: Any, connect: Any, ctl: Any, tmp_path: Path, abrupt: bool
) -> None:
    """After a (graceful or abrupt) disconnect at full flow, the sent-log lists exactly the data frames the client
    received: nothing is logged that the simulator threw away."""
    log = tmp_path / "sent.jsonl"
    server = await make_sim(rate=20000, sent_log=log)
    client = await connect(server)
    await client.subscribe(["ticker", "trade"])
    for _ in range(500):
        await client.recv()
    await ctl.fault(server, "disconnect", abrupt=abrupt)
    for _ in range(1_000_000):
        msg = await asyncio.wait_for(client.ws.receive(), 5)
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        client.raw.append(msg.data)
    received = [r for r in client.raw if orjson.loads(r)["type"] != "subscribed"]
    assert log.read_text().splitlines() == received


@pytest.mark.parametrize(("code", "text"), [(10, "Channel error"), (17, "Internal error"),
                                            (25, "Subscription buffer overflow")])
async def test_error_fault_sends_kalshis_async_error_frame_per_sid(
    make_sim: Any, connect: Any, ctl: Any, code: int, text: str
) -> None:
    """``error`` sends each live sid one ``{"sid","type":"error","msg":{"code","msg"}}`` frame with Kalshi's text
    and no ``id`` (it answers no command)."""
    server = await make_sim()
    client = await connect(server)
    sids = await client.subscribe(["ticker", "trade"])
    done = await ctl.fault(server, "error", code=code)
    assert done["sids"] == 2
    errors = [await client.recv(), await client.recv()]
    assert sorted(errors, key=lambda f: f["sid"]) == [
        {"sid": sid, "type": "error", "msg": {"code": code, "msg": text}} for sid in sorted(sids.values())
    ]


async def test_error_fault_kills_the_subscriptions(make_sim: Any, connect: Any, ctl: Any) -> None:
    """After ``error`` the sids are gone: no more data on them, ``list_subscriptions`` is empty, stats show none."""
    server = await make_sim(rate=5000)
    client = await connect(server)
    sids = await client.subscribe(["ticker", "trade"])
    await client.recv()
    await ctl.fault(server, "error", code=10)
    _, before = await client.until(lambda f: f.get("type") == "error")
    await client.until(lambda f: f.get("type") == "error")
    await asyncio.sleep(0.3)  # the generator keeps running: nothing may arrive for the dead sids
    cid = await client.send("list_subscriptions")
    reply, after = await client.until(lambda f: f.get("id") == cid)
    assert reply["msg"] == []
    assert after == []
    assert {f["sid"] for f in before} <= set(sids.values())
    assert (await ctl.stats(server))["subscriptions"] == 0


async def test_error_fault_can_target_channels(make_sim: Any, connect: Any, ctl: Any) -> None:
    """With ``channels`` only the subscriptions on those channels die; the others keep receiving data."""
    server = await make_sim(rate=5000)
    client = await connect(server)
    sids = await client.subscribe(["ticker", "trade"])
    done = await ctl.fault(server, "error", code=17, channels=["trade"])
    assert done["sids"] == 1
    error, _ = await client.until(lambda f: f.get("type") == "error")
    assert error["sid"] == sids["trade"]
    await client.until(lambda f: f.get("sid") == sids["ticker"] and f["type"] == "ticker")
    cid = await client.send("list_subscriptions")
    reply, _ = await client.until(lambda f: f.get("id") == cid)
    assert reply["msg"] == [{"channel": "ticker", "sid": sids["ticker"]}]


async def test_resubscribing_after_an_error_fault_gets_a_new_sid_and_data(
    make_sim: Any, connect: Any, ctl: Any
) -> None:
    """A client that resubscribes after a terminal error gets a fresh sid (the dead one is not reused), whose seq
    starts again at 1."""
    server = await make_sim(rate=5000)
    client = await connect(server)
    old = (await client.subscribe(["trade"]))["trade"]
    await ctl.fault(server, "error", code=25)
    await client.until(lambda f: f.get("type") == "error")
    new = (await client.subscribe(["trade"]))["trade"]
    assert new != old
    first, _ = await client.until(lambda f: f.get("type") == "trade")
    assert (first["sid"], first["seq"]) == (new, 1)


@pytest.mark.parametrize("body", [{"code": 7}, {"code": "10"}, {"code": 10, "channels": "trade"}])
async def test_error_fault_refuses_non_terminal_codes_and_bad_channels(
    make_sim: Any, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    """``error`` with a code that does not kill a subscription on Kalshi, or ``channels`` that is not a list,
    is a 400 saying what is expected."""
    server = await make_sim()
    async with http.post(f"http://127.0.0.1:{server.port}/_sim/fault", json={"kind": "error", **body}) as resp:
        assert resp.status == 400
        assert "must be" in (await resp.json())["error"]
