"""Fixtures for the simulator tests: a key pair, an in-process simulator factory and a small WS client."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest

from ssmd.kalshi.auth import KalshiCredentials, generate_key_pair, load_private_key, load_public_key
from ssmd.kalshi.sim.config import SimConfig
from ssmd.kalshi.sim.server import SimServer


@dataclasses.dataclass(frozen=True)
class KeyPair:
    key_id: str
    private_pem: str
    public_pem: str

    @property
    def credentials(self) -> KalshiCredentials:
        return KalshiCredentials(self.key_id, load_private_key(self.private_pem))


@pytest.fixture(scope="session")
def keypair() -> KeyPair:
    private, public = generate_key_pair()
    return KeyPair(str(uuid.uuid4()), private, public)


SimFactory = Callable[..., Awaitable[SimServer]]


@pytest.fixture
async def make_sim(keypair: KeyPair) -> AsyncIterator[SimFactory]:
    """Start in-process simulators on free ports (signed by ``keypair`` unless ``auth=False``); stopped after."""
    servers: list[SimServer] = []

    async def factory(**overrides: Any) -> SimServer:
        base: dict[str, Any] = {"port": 0, "keys": {keypair.key_id: load_public_key(keypair.public_pem)},
                                "seed": 7, "rate": 0.0}
        base.update(overrides)
        server = SimServer(SimConfig(**base))
        await server.start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        await server.stop()


class Client:
    """A thin WS client: send commands, read decoded frames with a deadline (never an unbounded wait)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.raw: list[str] = []
        self._next_id = 0

    async def send(self, cmd: str, params: dict[str, Any] | None = None) -> int:
        self._next_id += 1
        body: dict[str, Any] = {"id": self._next_id, "cmd": cmd}
        if params is not None:
            body["params"] = params
        await self.ws.send_str(orjson.dumps(body).decode())
        return self._next_id

    async def recv(self, within: float = 30.0) -> dict[str, Any]:
        msg = await asyncio.wait_for(self.ws.receive(), within)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        self.raw.append(msg.data)
        out: dict[str, Any] = orjson.loads(msg.data)
        return out

    async def until(self, pred: Callable[[dict[str, Any]], bool], within: float = 60.0,
                    limit: int = 1_000_000) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Read until ``pred(frame)``; return that frame and everything read before it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        seen: list[dict[str, Any]] = []
        for _ in range(limit):
            frame = await self.recv(max(0.01, deadline - loop.time()))
            if pred(frame):
                return frame, seen
            seen.append(frame)
        raise AssertionError("predicate never matched")

    async def subscribe(self, channels: list[str], tickers: list[str] | None = None) -> dict[str, int]:
        """Subscribe and return ``{channel: sid}`` from the ``subscribed`` replies."""
        params: dict[str, Any] = {"channels": channels}
        if tickers is not None:
            params["market_tickers"] = tickers
        cid = await self.send("subscribe", params)
        sids: dict[str, int] = {}
        while len(sids) < len(channels):
            frame, _ = await self.until(lambda f: f.get("id") == cid)
            assert frame["type"] == "subscribed", frame
            sids[frame["msg"]["channel"]] = frame["msg"]["sid"]
        return sids

    async def barrier(self) -> list[dict[str, Any]]:
        """Everything the server sent before a ``list_subscriptions`` reply (use after /_sim/pause to drain)."""
        cid = await self.send("list_subscriptions")
        _, seen = await self.until(lambda f: f.get("id") == cid and f.get("type") == "ok")
        return seen


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


ConnectFn = Callable[..., Awaitable[Client]]


@pytest.fixture
async def connect(http: aiohttp.ClientSession, keypair: KeyPair) -> AsyncIterator[ConnectFn]:
    """Open a signed WebSocket to a simulator (``signed=False`` for none)."""
    sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def factory(server: SimServer, signed: bool = True, autoping: bool = True) -> Client:
        headers = keypair.credentials.headers("GET", "/trade-api/ws/v2") if signed else {}
        ws = await http.ws_connect(server.url, headers=headers, autoping=autoping)
        sockets.append(ws)
        return Client(ws)

    yield factory
    for ws in sockets:
        await ws.close()


class Control:
    """The ``/_sim`` endpoints of a simulator."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def post(self, server: SimServer, path: str, body: Any = None) -> dict[str, Any]:
        async with self.http.post(f"http://127.0.0.1:{server.port}{path}", json=body) as resp:
            assert resp.status == 200, await resp.text()
            out: dict[str, Any] = await resp.json()
            return out

    async def fault(self, server: SimServer, kind: str, **extra: Any) -> dict[str, Any]:
        return await self.post(server, "/_sim/fault", {"kind": kind, **extra})

    async def stats(self, server: SimServer) -> dict[str, Any]:
        async with self.http.get(f"http://127.0.0.1:{server.port}/_sim/stats") as resp:
            out: dict[str, Any] = await resp.json()
            return out


@pytest.fixture
def ctl(http: aiohttp.ClientSession) -> Control:
    return Control(http)
