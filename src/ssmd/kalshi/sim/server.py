"""The simulated exchange as one aiohttp server: WebSocket v2, REST v2 and the ``/_sim`` control endpoints.

Usable in-process (``await SimServer(config).start()``) or as ``ssmd sim kalshi``. One generator task turns the
market model into frames at ``--rate`` (or replays an archive) and fans each batch out to every session, which
writes it in one ``transport.write``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import IO, Any

from aiohttp import WSMsgType, web

from ssmd.kalshi.auth import REST_PREFIX, WS_PATH
from ssmd.kalshi.sim.config import SimConfig
from ssmd.kalshi.sim.handshake import Rejected, check_signature
from ssmd.kalshi.sim.markets import Event, MarketModel
from ssmd.kalshi.sim.session import Session
from ssmd.runtime.tasks import cancel_all
from ssmd.sim.wsframe import PONG, frame

log = logging.getLogger(__name__)

TICK_S = 0.01
"""How often the generator wakes; each wake emits every frame owed since the last one, in one write per socket."""
MAX_BATCH = 2000
"""Most frames generated between two yields to the event loop (a few ms of work)."""


class SimServer:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.max_markets_per_sub = config.max_markets_per_sub
        self.buffer_limit = config.buffer_limit
        self.model: MarketModel | None = None
        if config.replay is None:
            self.model = MarketModel(config.markets, config.seed, config.wire, config.lifecycle_every)
        self.sessions: set[Session] = set()
        self._sockets: dict[Session, web.WebSocketResponse] = {}
        self.paused = False
        self.first_subscription = asyncio.Event()
        """Set once any client subscribes (a replay waits for it)."""
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._stall_timer: asyncio.TimerHandle | None = None
        self.reject_auth = 0
        self.replay_tickers: set[str] = set()
        self.stats: dict[str, Any] = {
            "frames_sent": 0, "frames_generated": 0, "connections_total": 0, "handshakes_rejected": 0,
            "commands": 0, "rest_requests": 0, "rest_rate_limited": 0, "faults": 0, "replay_done": False,
        }
        self._log_file: IO[bytes] | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port = config.port

    # ----- lifecycle -------------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        from ssmd.kalshi.sim.control import control_routes
        from ssmd.kalshi.sim.rest import rest_routes

        app = web.Application()
        app.router.add_get(WS_PATH, self._on_ws)
        app.add_routes(rest_routes(self, REST_PREFIX))
        app.add_routes(control_routes(self))
        return app

    async def start(self) -> None:
        replaying = None
        if self.config.replay is not None:
            from ssmd.kalshi.sim.replay import open_archive

            replaying = open_archive(self.config.replay)  # a path that is not an archive fails before listening
        if self.config.sent_log is not None:
            # open for the server's lifetime (closed in stop()); appends are small page-cache writes
            self._log_file = Path(self.config.sent_log).open("ab")  # noqa: ASYNC230, SIM115
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
        await site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])
        if replaying is not None:
            from ssmd.kalshi.sim.replay import replay

            self._tasks.append(asyncio.create_task(replay(self, replaying, self.config.speed)))
        else:
            self._tasks.append(asyncio.create_task(self._generate()))
        self._tasks.append(asyncio.create_task(self._pinger()))

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks.clear()
        for session in list(self.sessions):
            session.transport.abort()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    @property
    def url(self) -> str:
        return f"ws://{self.config.host}:{self.port}{WS_PATH}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self.port}{REST_PREFIX}"

    # ----- Hub protocol for sessions ---------------------------------------------------------------------------
    def market_known(self, ticker: str) -> bool:
        if self.model is None:
            return True  # replay: any ticker the archive may carry
        return ticker in self.model.markets

    def snapshot(self, ticker: str) -> Event | None:
        if self.model is None or ticker not in self.model.markets:
            return None
        return self.model.snapshot(ticker)

    def ticker_now(self, tickers: list[str] | None) -> list[Event]:
        """Current ticker frames for ``tickers`` (``None``: every trading market), for ``send_initial_snapshot``."""
        model = self.model
        if model is None:
            return []
        markets = model.active if tickers is None else [model.markets[t] for t in tickers if t in model.markets]
        now_ms = int(time.time() * 1000)
        return [model.ticker_event(m, now_ms) for m in markets]

    def log_sent(self, frames: list[bytes]) -> None:
        """One line per data frame (``frames`` is left as it is: the caller counts it)."""
        if self._log_file is not None:
            self._log_file.write(b"\n".join(frames))
            self._log_file.write(b"\n")
            self._log_file.flush()

    def count_sent(self, n: int) -> None:
        """``frames_sent``: data frames written, once per socket (so always the sent-log's line count)."""
        self.stats["frames_sent"] += n

    # ----- state -----------------------------------------------------------------------------------------------
    @property
    def stalled(self) -> bool:
        return not self._flowing.is_set()

    def stall(self, seconds: float) -> None:
        """Send nothing on any socket (data, replies, pings, pongs) for ``seconds``, without closing."""
        self._flowing.clear()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
        self._stall_timer = asyncio.get_running_loop().call_later(seconds, self.unstall)

    def unstall(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        self._flowing.set()

    def on_subscribe(self) -> None:
        self.first_subscription.set()

    def snapshot_stats(self) -> dict[str, Any]:
        out = dict(self.stats)
        out["connections"] = len(self.sessions)
        out["subscriptions"] = sum(len(s.subs) for s in self.sessions)
        out["paused"] = self.paused
        out["stalled"] = self.stalled
        out["markets"] = len(self.model.active) if self.model else len(self.replay_tickers)
        out["port"] = self.port
        return out

    def dispatch(self, events: list[Event]) -> None:
        """Hand one batch of frames to every live session and write it out."""
        self.stats["frames_generated"] += len(events)
        for session in list(self.sessions):
            session.deliver(events)
            session.flush()

    async def wait_unstalled(self) -> None:
        await self._flowing.wait()

    # ----- tasks -----------------------------------------------------------------------------------------------
    async def _generate(self) -> None:
        """Emit ``rate`` frames per second: wake every tick, generate what is owed (in batches of at most
        ``MAX_BATCH`` so commands and control calls stay responsive) and drop debt older than a quarter second."""
        assert self.model is not None
        model = self.model
        rate = self.config.rate
        loop = asyncio.get_running_loop()
        base_t, base_n = loop.time(), 0
        cap = max(1, int(rate * 0.25))
        while True:
            now = loop.time()
            if self.paused or self.stalled or rate <= 0:
                base_t, base_n = now, 0
                await asyncio.sleep(TICK_S)
                continue
            owed = int(rate * (now - base_t)) - base_n
            if owed > cap:
                base_t, base_n, owed = now - cap / rate, 0, cap
            if owed <= 0:
                await asyncio.sleep(TICK_S)
                continue
            n = min(owed, MAX_BATCH)
            now_ms = int(time.time() * 1000)
            events: list[Event] = []
            while len(events) < n:
                events.extend(model.step(now_ms))
            base_n += len(events)
            self.dispatch(events)
            await asyncio.sleep(0 if owed > n else TICK_S)

    async def _pinger(self) -> None:
        while True:
            await asyncio.sleep(self.config.ping_interval)
            if self.stalled:
                continue
            for session in list(self.sessions):
                session.ping()

    # ----- WebSocket -------------------------------------------------------------------------------------------
    def _refuse(self, status: int, reason: str) -> web.Response:
        self.stats["handshakes_rejected"] += 1
        return web.json_response({"error": {"code": "unauthorized" if status == 401 else "too_many_requests",
                                            "message": reason}}, status=status)

    async def _on_ws(self, request: web.Request) -> web.StreamResponse:
        if self.reject_auth > 0:
            self.reject_auth -= 1
            return self._refuse(401, "authentication rejected (injected fault)")
        key = "anonymous"
        if self.config.auth:
            try:
                key = check_signature(request.headers, "GET", WS_PATH, self.config.keys, self.config.skew_s)
            except Rejected as exc:
                return self._refuse(401, str(exc))
        cap = self.config.max_connections_per_key
        if cap and sum(1 for s in self.sessions if s.key == key) >= cap:
            return self._refuse(429, "too many connections for this API key")
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        session = Session(self, transport, key)
        self.sessions.add(session)
        self._sockets[session] = ws
        self.stats["connections_total"] += 1
        try:
            async for msg in ws:
                if self.stalled:
                    await self.wait_unstalled()
                if msg.type == WSMsgType.TEXT or msg.type == WSMsgType.BINARY:
                    self.stats["commands"] += 1
                    session.handle(msg.data)
                    session.flush()
                elif msg.type == WSMsgType.PING:
                    if not session.closing:
                        transport.write(frame(msg.data, PONG))
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        finally:
            self.sessions.discard(session)
            self._sockets.pop(session, None)
        return ws

    async def close_all(self, abrupt: bool, code: int = 1011) -> int:
        """Close every socket: a WebSocket close frame, or (``abrupt``) drop the TCP connection.

        Frames already logged as sent are first handed to the kernel (bounded wait), so ``--sent-log`` never
        lists a frame the process threw away; what the kernel then delivers is up to TCP, as on a real drop."""
        sessions = list(self.sessions)
        for session in sessions:
            session.shut = True
        for _ in range(200):
            if all(s.transport.get_write_buffer_size() == 0 or s.transport.is_closing() for s in sessions):
                break
            await asyncio.sleep(0.01)
        for session in sessions:
            if abrupt:
                session.transport.abort()
            else:
                ws = self._sockets.get(session)
                if ws is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(ws.close(code=code, message=b"simulated disconnect"), 2)
                session.transport.abort()
        return len(sessions)
