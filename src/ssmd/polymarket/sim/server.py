"""The simulated market channel and Gamma ``/markets`` as one aiohttp server, plus ``/_sim`` controls.

Connection rules, as Polymarket enforces them (``../shared/polymarket-protocol.md`` §1.2, §1.3):

- the first text frame must be ``{"type": "market", "assets_ids": [...], ...}``; a text ``PING`` before it is
  closed with 1008 ``invalid subscription payload``, and so is a first frame that is not a subscribe;
- a second ``type`` message gets the text ``INVALID OPERATION``; later changes are ``{"operation": ...}``;
- a client that sends no ``PING`` for ``ping_timeout`` seconds is closed with 1008 ``no ping received``
  (WebSocket protocol pings do not count); every ``PING`` gets a text ``PONG``, even on a silent socket;
- ``initial_dump`` (default true) sends one ``book`` per subscribed asset: one array frame (``dump="array"``)
  or one frame per book; a subscribe of an already subscribed asset sends its ``book`` again.

Every frame sent (data, ``PONG``, ``INVALID OPERATION``, injected text) goes to the ``--sent-log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
from aiohttp import WSMsgType, web

from ssmd.polymarket.protocol import INVALID_OPERATION, PING, PONG, WS_PATH
from ssmd.polymarket.sim.model import Frame, MarketModel
from ssmd.runtime.tasks import cancel_all
from ssmd.sim.sentlog import SentLog
from ssmd.sim.wsframe import frame

log = logging.getLogger(__name__)

TICK_S = 0.01
FAULTS = ("disconnect", "silent", "text")
Dump = Literal["array", "objects"]


@dataclass(frozen=True)
class PolySimConfig:
    host: str = "127.0.0.1"
    port: int = 8766
    markets: int = 10
    closed_markets: int = 2
    """Closed markets Gamma lists (with ``closed=true``) and the channel never feeds."""
    rate: float = 50.0
    """Model steps per second (a step makes one to four frames)."""
    seed: int | None = None
    sent_log: Path | None = None
    ping_timeout: float = 10.0
    """No ``PING`` for this long (or no subscribe): close 1008. Polymarket's is about 10 s."""
    dump: Dump = "array"
    lifecycle_every: int = 0
    """Model steps between lifecycles (a market resolves, a new one opens); 0 = none."""
    duration: float | None = None

    def __post_init__(self) -> None:
        if self.markets < 1:
            raise ValueError("markets must be at least 1")
        if self.rate < 0 or self.ping_timeout <= 0 or self.lifecycle_every < 0:
            raise ValueError("rate and lifecycle_every must not be negative, ping_timeout must be positive")
        if self.dump not in ("array", "objects"):
            raise ValueError("dump must be array or objects")


class Socket:
    """One client connection's state on the server."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self.ws = ws
        self.transport = transport
        self.assets: set[str] = set()
        self.typed = False
        self.custom = False
        self.last_ping = time.monotonic()
        self.shut = False


class PolySim:
    def __init__(self, config: PolySimConfig) -> None:
        self.config = config
        self.model = MarketModel(config.markets, config.seed, config.closed_markets, config.lifecycle_every)
        self.sockets: set[Socket] = set()
        self.paused = False
        self.silent_until = 0.0
        self.sent = SentLog(config.sent_log)
        self.stats: dict[str, Any] = {"frames_sent": 0, "connections_total": 0, "closed_1008": 0,
                                      "invalid_operations": 0, "pings": 0, "subscribes": 0, "faults": 0,
                                      "rest_requests": 0}
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[None]] = set()
        self.port = config.port

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(WS_PATH, self._on_ws)
        app.router.add_get("/markets", self._markets)
        app.router.add_post("/_sim/fault", self._fault)
        app.router.add_get("/_sim/stats", self._stats)
        app.router.add_post("/_sim/pause", self._pause)
        app.router.add_post("/_sim/resume", self._resume)
        return app

    async def start(self) -> None:
        self.sent.open()
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
        await site.start()
        if self._runner.addresses:
            self.port = int(self._runner.addresses[0][1])
        self._tasks = [asyncio.create_task(self._generate()), asyncio.create_task(self._watch_pings())]

    async def stop(self) -> None:
        await cancel_all([*self._tasks, *self._closing])
        for sock in list(self.sockets):
            sock.transport.abort()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.sent.close()

    @property
    def url(self) -> str:
        return f"ws://{self.config.host}:{self.port}{WS_PATH}"

    @property
    def rest_url(self) -> str:
        """The Gamma base (``GET {rest_url}/markets``)."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def silent(self) -> bool:
        return time.monotonic() < self.silent_until

    # -- output ------------------------------------------------------------------------------------------------

    def send(self, sock: Socket, raws: list[bytes]) -> None:
        """Write ``raws`` in one transport write and log them as sent (nothing once the socket is closing)."""
        if not raws or sock.shut or sock.transport.is_closing():
            return
        sock.transport.write(b"".join(frame(raw) for raw in raws))
        self.sent.write(raws)
        self.stats["frames_sent"] += len(raws)

    def _dump(self, sock: Socket, assets: list[str]) -> None:
        now_ms = int(time.time() * 1000)
        books = [self.model.book(a, now_ms) for a in assets if a in self.model.by_asset]
        if not books:
            return
        if self.config.dump == "array":
            self.send(sock, [b"[" + b",".join(books) + b"]"])
        else:
            self.send(sock, books)

    def dispatch(self, frames: list[Frame]) -> None:
        if self.silent:
            return
        for sock in list(self.sockets):
            wanted = [f.raw for f in frames
                      if (sock.custom or not f.custom) and (f.broadcast or not sock.assets.isdisjoint(f.assets))]
            self.send(sock, wanted)

    # -- the WebSocket -----------------------------------------------------------------------------------------

    async def _on_ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        sock = Socket(ws, transport)
        self.sockets.add(sock)
        self.stats["connections_total"] += 1
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue  # protocol pings are answered by aiohttp and do not count as PING
                reason = self._handle(sock, msg.data)
                if reason is not None:
                    await self._close(sock, 1008, reason)
                    break
        finally:
            self.sockets.discard(sock)
        return ws

    def _handle(self, sock: Socket, text: str) -> str | None:
        """Act on one client frame; a reason means "close with 1008"."""
        if text == PING:
            if not sock.typed:
                return "invalid subscription payload"
            sock.last_ping = time.monotonic()
            self.stats["pings"] += 1
            self.send(sock, [PONG])
            return None
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError:
            body = None
        assets = body.get("assets_ids") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(assets, list) or not all(isinstance(a, str) for a in assets):
            return self._invalid(sock)
        if "operation" in body:
            op = body["operation"]
            if not sock.typed or op not in ("subscribe", "unsubscribe"):
                return self._invalid(sock)
            if op == "unsubscribe":
                sock.assets.difference_update(assets)
                return None
            self._subscribe(sock, body, assets)
            return None
        if sock.typed or str(body.get("type", "")).lower() != "market":
            return self._invalid(sock)
        sock.typed = True
        sock.last_ping = time.monotonic()
        self._subscribe(sock, body, assets)
        return None

    def _subscribe(self, sock: Socket, body: dict[str, Any], assets: list[str]) -> None:
        self.stats["subscribes"] += 1
        sock.assets.update(assets)
        if body.get("custom_feature_enabled") is True:
            sock.custom = True
        if body.get("initial_dump", True) is not False:
            self._dump(sock, assets)

    def _invalid(self, sock: Socket) -> str | None:
        if not sock.typed:
            return "invalid subscription payload"
        self.stats["invalid_operations"] += 1
        self.send(sock, [INVALID_OPERATION])
        return None

    async def _close(self, sock: Socket, code: int, reason: str) -> None:
        if code == 1008:
            self.stats["closed_1008"] += 1
        sock.shut = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sock.ws.close(code=code, message=reason.encode()), 2)
        sock.transport.close()  # not abort(): frames still buffered (the close frame among them) go out first

    async def close_all(self, abrupt: bool, code: int = 1011) -> int:
        socks = list(self.sockets)
        for sock in socks:
            if abrupt:
                sock.shut = True
                sock.transport.abort()
            else:
                await self._close(sock, code, "simulated disconnect")
        return len(socks)

    # -- tasks -------------------------------------------------------------------------------------------------

    async def _generate(self) -> None:
        """``rate`` model steps per second, emitted every tick; debt older than a quarter second is dropped."""
        rate = self.config.rate
        loop = asyncio.get_running_loop()
        base_t, done = loop.time(), 0
        while True:
            await asyncio.sleep(TICK_S)
            now = loop.time()
            if self.paused or rate <= 0:
                base_t, done = now, 0
                continue
            owed = int(rate * (now - base_t)) - done
            if owed > rate / 4 + 1:
                base_t, done, owed = now, 0, 1
            now_ms = int(time.time() * 1000)
            frames: list[Frame] = []
            for _ in range(max(owed, 0)):
                frames.extend(self.model.step(now_ms))
            done += max(owed, 0)
            self.dispatch(frames)

    async def _watch_pings(self) -> None:
        timeout = self.config.ping_timeout
        while True:
            await asyncio.sleep(min(timeout / 4, 1.0))
            now = time.monotonic()
            for sock in list(self.sockets):
                if not sock.shut and now - sock.last_ping > timeout:
                    reason = "no ping received" if sock.typed else "invalid subscription payload"
                    sock.shut = True
                    task = asyncio.create_task(self._close(sock, 1008, reason))
                    self._closing.add(task)
                    task.add_done_callback(self._closing.discard)

    # -- HTTP: Gamma and controls ------------------------------------------------------------------------------

    async def _markets(self, request: web.Request) -> web.Response:
        """Gamma ``GET /markets``: ``active``, ``closed`` (default false, as Gamma), ``limit`` (1-500,
        default 100), ``offset``."""
        self.stats["rest_requests"] += 1
        q = request.query
        try:
            limit = int(q.get("limit", "100"))
            offset = int(q.get("offset", "0"))
            if not 1 <= limit <= 500 or offset < 0:
                raise ValueError
        except ValueError:
            return web.json_response({"error": "limit must be 1-500 and offset >= 0"}, status=422)
        closed = q.get("closed", "false").lower() == "true"
        rows = [m for m in self.model.markets if m.closed == closed]
        if "active" in q:
            rows = [m for m in rows if (q["active"].lower() == "true")]
        return web.json_response([m.gamma() for m in rows[offset:offset + limit]])

    async def _fault(self, request: web.Request) -> web.Response:
        """``disconnect`` (``abrupt``, ``code``), ``silent`` (``seconds``: no data, ``PONG`` still answered),
        ``text`` (``text``: send a bare text frame such as ``NO NEW ASSETS`` to every socket)."""
        try:
            spec = await request.json()
            if not isinstance(spec, dict):
                raise ValueError("body must be a JSON object")
            done = await self._apply(spec)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.stats["faults"] += 1
        return web.json_response({"ok": True, "kind": spec["kind"], **done})

    async def _apply(self, spec: dict[str, Any]) -> dict[str, Any]:
        kind = spec.get("kind")
        if kind == "disconnect":
            return {"closed": await self.close_all(bool(spec.get("abrupt", False)), int(spec.get("code", 1011)))}
        if kind == "silent":
            seconds = float(spec.get("seconds", 30.0))
            self.silent_until = time.monotonic() + seconds
            return {"seconds": seconds}
        if kind == "text":
            text = spec.get("text", "NO NEW ASSETS")
            if not isinstance(text, str):
                raise ValueError("text must be a string")
            for sock in list(self.sockets):
                self.send(sock, [text.encode()])
            return {"sockets": len(self.sockets)}
        raise ValueError(f"kind must be one of {', '.join(FAULTS)}")

    async def _stats(self, request: web.Request) -> web.Response:
        out = dict(self.stats)
        out.update(connections=len(self.sockets), subscribed_assets=sum(len(s.assets) for s in self.sockets),
                   silent=self.silent, paused=self.paused, port=self.port)
        return web.json_response(out)

    async def _pause(self, request: web.Request) -> web.Response:
        self.paused = True
        return web.json_response({"paused": True})

    async def _resume(self, request: web.Request) -> web.Response:
        self.paused = False
        self.silent_until = 0.0
        return web.json_response({"paused": False})
