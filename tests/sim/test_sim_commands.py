"""Commands and replies over a real socket, per Kalshi's WebSocket API v2 (kalshi-protocol.md §3)."""

from __future__ import annotations

from typing import Any

import pytest


def _tickers(server: Any, n: int) -> list[str]:
    return [m.ticker for m in server.model.active[:n]]


async def test_one_subscribed_reply_per_channel_with_own_sid(make_sim: Any, connect: Any) -> None:
    """A subscribe naming three channels gets three ``subscribed`` replies, same id, distinct sids."""
    server = await make_sim()
    client = await connect(server)
    cid = await client.send("subscribe", {"channels": ["ticker", "trade", "market_lifecycle_v2"]})
    replies = [await client.recv() for _ in range(3)]
    assert {r["id"] for r in replies} == {cid}
    assert {r["type"] for r in replies} == {"subscribed"}
    assert [r["msg"]["channel"] for r in replies] == ["ticker", "trade", "market_lifecycle_v2"]
    assert len({r["msg"]["sid"] for r in replies}) == 3


async def test_orderbook_subscribe_sends_a_snapshot_per_market(make_sim: Any, connect: Any) -> None:
    """Subscribing to orderbook_delta for two markets yields their snapshots as seq 1 and 2 of the new sid."""
    server = await make_sim()
    client = await connect(server)
    tickers = _tickers(server, 2)
    sid = (await client.subscribe(["orderbook_delta"], tickers))["orderbook_delta"]
    snaps = [await client.recv(), await client.recv()]
    assert [s["type"] for s in snaps] == ["orderbook_snapshot"] * 2
    assert [s["msg"]["market_ticker"] for s in snaps] == tickers
    assert [(s["sid"], s["seq"]) for s in snaps] == [(sid, 1), (sid, 2)]


async def test_update_subscription_adds_and_removes_markets(make_sim: Any, connect: Any, ctl: Any) -> None:
    """add_markets widens an orderbook sid (ok reply lists all its markets, snapshot for the new one);
    delete_markets narrows it and no further frames arrive for the removed market."""
    server = await make_sim(rate=3000)
    await ctl.post(server, "/_sim/pause")
    client = await connect(server)
    a, b = _tickers(server, 2)
    sid = (await client.subscribe(["orderbook_delta"], [a]))["orderbook_delta"]
    await client.recv()  # snapshot of a

    cid = await client.send("update_subscription", {"sids": [sid], "market_tickers": [b], "action": "add_markets"})
    ok = await client.recv()
    assert ok["type"] == "ok" and ok["id"] == cid and ok["sid"] == sid
    assert sorted(ok["msg"]["market_tickers"]) == sorted([a, b])
    snap = await client.recv()
    assert (snap["type"], snap["msg"]["market_ticker"]) == ("orderbook_snapshot", b)

    cid = await client.send("update_subscription", {"sid": sid, "market_tickers": [a], "action": "delete_markets"})
    ok = await client.recv()
    assert ok["type"] == "ok" and ok["msg"]["market_tickers"] == [b]
    await ctl.post(server, "/_sim/resume")
    seen: list[dict[str, Any]] = []
    while len([f for f in seen if f.get("type") == "orderbook_delta"]) < 5:
        seen.append(await client.recv())
    await ctl.post(server, "/_sim/pause")
    seen += await client.barrier()
    markets = {f["msg"]["market_ticker"] for f in seen if f.get("sid") == sid}
    assert markets == {b}


async def test_get_snapshot_resends_the_book_without_changing_the_sid(make_sim: Any, connect: Any) -> None:
    """update_subscription get_snapshot answers with a fresh orderbook_snapshot on the same sid, next seq."""
    server = await make_sim()
    client = await connect(server)
    (a,) = _tickers(server, 1)
    sid = (await client.subscribe(["orderbook_delta"], [a]))["orderbook_delta"]
    first = await client.recv()
    await client.send("update_subscription", {"sids": [sid], "market_tickers": [a], "action": "get_snapshot"})
    again = await client.recv()
    assert again["type"] == "orderbook_snapshot" and again["sid"] == sid and again["seq"] == first["seq"] + 1
    assert again["msg"] == first["msg"]


async def test_unsubscribe_replies_per_sid_and_stops_data(make_sim: Any, connect: Any, ctl: Any) -> None:
    """unsubscribe answers ``unsubscribed`` for the sid; list_subscriptions then no longer lists it."""
    server = await make_sim()
    client = await connect(server)
    sids = await client.subscribe(["ticker", "trade"])
    cid = await client.send("unsubscribe", {"sids": [sids["trade"]]})
    reply = await client.recv()
    assert (reply["type"], reply["id"], reply["sid"]) == ("unsubscribed", cid, sids["trade"])
    cid = await client.send("list_subscriptions")
    listing = await client.recv()
    assert listing["id"] == cid and listing["type"] == "ok"
    assert listing["msg"] == [{"channel": "ticker", "sid": sids["ticker"]}]


@pytest.mark.parametrize(
    ("cmd", "params", "code"),
    [
        ("subscribe", None, 2),
        ("subscribe", {"channels": []}, 3),
        ("subscribe", {"channels": ["nonsense"]}, 8),
        ("subscribe", {"channels": ["ticker_v2"]}, 8),
        ("subscribe", {"channels": ["orderbook_delta"]}, 14),
        ("subscribe", {"channels": ["orderbook_delta"], "market_tickers": ["NO-SUCH-MARKET"]}, 16),
        ("unsubscribe", {"sids": []}, 4),
        ("unsubscribe", {"sids": [999]}, 7),
        ("frobnicate", {}, 5),
        ("update_subscription", {"sids": [1], "market_tickers": ["X"]}, 15),
        ("update_subscription", {"sids": [1], "market_tickers": ["X"], "action": "replace"}, 13),
        ("update_subscription", {"sids": [1, 2], "market_tickers": ["X"], "action": "add_markets"}, 12),
        ("update_subscription", {"sids": [999], "market_tickers": ["X"], "action": "add_markets"}, 7),
    ],
)
async def test_bad_commands_get_kalshi_error_codes(
    make_sim: Any, connect: Any, cmd: str, params: dict[str, Any] | None, code: int
) -> None:
    """Each malformed command gets an ``error`` reply with Kalshi's code and the command's id."""
    server = await make_sim()
    client = await connect(server)
    cid = await client.send(cmd, params)
    reply = await client.recv()
    assert reply["type"] == "error" and reply["id"] == cid
    assert reply["msg"]["code"] == code, reply


async def test_update_without_tickers_is_error_14(make_sim: Any, connect: Any) -> None:
    """update_subscription on a live orderbook sid without market_tickers is error 14 (Market Ticker required)."""
    server = await make_sim()
    client = await connect(server)
    sid = (await client.subscribe(["orderbook_delta"], _tickers(server, 1)))["orderbook_delta"]
    await client.recv()
    cid = await client.send("update_subscription", {"sids": [sid], "action": "add_markets"})
    reply = await client.recv()
    assert (reply["type"], reply["id"], reply["msg"]["code"]) == ("error", cid, 14)


async def test_non_json_command_is_error_1(make_sim: Any, connect: Any) -> None:
    """A command that is not JSON gets error 1 (Unable to process message) and the socket stays usable."""
    server = await make_sim()
    client = await connect(server)
    await client.ws.send_str("{not json")
    reply = await client.recv()
    assert reply["type"] == "error" and reply["msg"]["code"] == 1
    await client.subscribe(["ticker"])


async def test_market_cap_per_subscription_is_error_26(make_sim: Any, connect: Any) -> None:
    """With ``max_markets_per_sub=2`` a 3-market subscribe, or an add beyond 2, is error 26."""
    server = await make_sim(max_markets_per_sub=2)
    client = await connect(server)
    a, b, c = _tickers(server, 3)
    cid = await client.send("subscribe", {"channels": ["orderbook_delta"], "market_tickers": [a, b, c]})
    reply = await client.recv()
    assert (reply["id"], reply["msg"]["code"]) == (cid, 26)
    sid = (await client.subscribe(["orderbook_delta"], [a, b]))["orderbook_delta"]
    await client.recv()
    await client.recv()
    cid = await client.send("update_subscription", {"sids": [sid], "market_tickers": [c], "action": "add_markets"})
    reply = await client.recv()
    assert (reply["id"], reply["type"], reply["msg"]["code"]) == (cid, "error", 26)


async def test_quiet_private_channels_are_accepted(make_sim: Any, connect: Any) -> None:
    """Known channels the simulator does not feed (fill) still get a ``subscribed`` reply, as on Kalshi."""
    server = await make_sim()
    client = await connect(server)
    sids = await client.subscribe(["fill"])
    assert sids["fill"] >= 1


async def test_server_pings_with_heartbeat_payload(make_sim: Any, connect: Any) -> None:
    """The server sends a WebSocket Ping with payload ``heartbeat`` every ping interval."""
    import aiohttp

    server = await make_sim(ping_interval=0.2)
    client = await connect(server, autoping=False)
    msg = await client.ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.PING and msg.data == b"heartbeat"


async def test_client_ping_gets_pong(make_sim: Any, connect: Any) -> None:
    """A client Ping is answered with a Pong carrying the same payload."""
    import aiohttp

    server = await make_sim()
    client = await connect(server, autoping=False)
    await client.ws.ping(b"are-you-there")
    msg = await client.ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.PONG and msg.data == b"are-you-there"


async def test_ticker_initial_snapshot_sends_current_state(make_sim: Any, connect: Any) -> None:
    """``send_initial_snapshot`` on a ticker subscribe sends one ticker frame per listed market at once."""
    server = await make_sim()
    client = await connect(server)
    tickers = _tickers(server, 3)
    await client.send("subscribe", {"channels": ["ticker"], "market_tickers": tickers, "send_initial_snapshot": True})
    reply = await client.recv()
    assert reply["type"] == "subscribed"
    frames = [await client.recv() for _ in range(3)]
    assert [(f["type"], f["msg"]["market_ticker"]) for f in frames] == [("ticker", t) for t in tickers]


async def test_skip_ticker_ack_omits_market_list(make_sim: Any, connect: Any) -> None:
    """With ``skip_ticker_ack`` the ``ok`` reply to an update carries no market list."""
    server = await make_sim()
    client = await connect(server)
    a, b = _tickers(server, 2)
    cid = await client.send("subscribe", {"channels": ["ticker"], "market_tickers": [a], "skip_ticker_ack": True})
    sid = (await client.recv())["msg"]["sid"]
    cid = await client.send("update_subscription", {"sids": [sid], "market_tickers": [b], "action": "add_markets"})
    ok = await client.recv()
    assert (ok["type"], ok["id"], ok["sid"]) == ("ok", cid, sid) and "msg" not in ok
