"""One client connection: its subscriptions (sid -> channel + markets, per-sid seq), its commands and replies.

Replies and error codes follow Kalshi's WebSocket API v2 (see docs/simulator.md). Data frames are wrapped here
with the subscription's ``sid``/``seq`` and queued; :meth:`Session.flush` writes the whole batch in one call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ssmd.kalshi.sim.markets import LIFECYCLE, ORDERBOOK, TICKER, TRADE, Event
from ssmd.sim.wsframe import PING, frame

DATA_CHANNELS = frozenset({TICKER, TRADE, ORDERBOOK, LIFECYCLE})
"""Channels the simulator feeds with data."""
QUIET_CHANNELS = frozenset({
    "fill", "market_positions", "communications", "user_orders", "order_group_updates", "multivariate",
    "multivariate_market_lifecycle", "cfbenchmarks_value",
})
"""Channels Kalshi has that the simulator accepts but never feeds (private or out of scope)."""
SEQ_CHANNELS = frozenset({TRADE, ORDERBOOK, LIFECYCLE})
"""Channels whose frames carry a per-sid ``seq`` (ticker frames carry none, as on Kalshi)."""

ERRORS = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    10: "Channel error",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
    16: "Market not found",
    17: "Internal error",
    25: "Subscription buffer overflow",
    26: "Subscription market limit exceeded",
}
TERMINAL_ERRORS = (10, 17, 25)
"""Codes Kalshi sends asynchronously for a live sid that kill the subscription: the client must resubscribe."""


class Hub(Protocol):
    """What a session needs from the server."""

    max_markets_per_sub: int
    buffer_limit: int

    def market_known(self, ticker: str) -> bool: ...
    def snapshot(self, ticker: str) -> Event | None: ...
    def ticker_now(self, tickers: list[str] | None) -> list[Event]: ...
    def log_sent(self, frames: list[bytes]) -> None: ...
    def count_sent(self, n: int) -> None: ...
    def on_subscribe(self) -> None: ...


class CommandError(Exception):
    def __init__(self, code: int, extra: dict[str, Any] | None = None) -> None:
        super().__init__(ERRORS.get(code, "error"))
        self.code = code
        self.extra = extra or {}


@dataclass
class Subscription:
    sid: int
    channel: str
    tickers: set[str] | None
    """``None`` = every market (global ticker/trade/lifecycle subscriptions)."""
    seq: int = 0
    skip_next: bool = False
    skip_ack: bool = False
    """``skip_ticker_ack``: ``ok`` replies to updates leave out the market list."""

    def next_seq(self) -> int:
        self.seq += 2 if self.skip_next else 1
        self.skip_next = False
        return self.seq


class Session:
    def __init__(self, hub: Hub, transport: asyncio.Transport, key: str) -> None:
        self.hub = hub
        self.transport = transport
        self.key = key
        self.subs: dict[int, Subscription] = {}
        self.by_channel: dict[str, list[Subscription]] = {c: [] for c in DATA_CHANNELS}
        self._next_sid = 1
        self._out: list[bytes] = []
        self._log: list[bytes] = []
        self.shut = False
        """Set when the server is closing this socket: nothing more is sent (or logged as sent)."""

    # ----- output ----------------------------------------------------------------------------------------------
    @property
    def closing(self) -> bool:
        return self.shut or self.transport.is_closing()

    def _data(self, raw: bytes) -> None:
        self._out.append(frame(raw))
        self._log.append(raw)

    def _wrap(self, sub: Subscription, ev: Event) -> None:
        if sub.channel in SEQ_CHANNELS:
            raw = b'{"type":"%b","sid":%d,"seq":%d,"msg":%b}' % (ev.type.encode(), sub.sid, sub.next_seq(), ev.body)
        else:
            raw = b'{"type":"%b","sid":%d,"msg":%b}' % (ev.type.encode(), sub.sid, ev.body)
        self._data(raw)

    def deliver(self, events: Iterable[Event]) -> None:
        """Queue every event some subscription of this session wants."""
        by_channel = self.by_channel
        for ev in events:
            for sub in by_channel[ev.channel]:
                if sub.tickers is None or ev.ticker in sub.tickers:
                    self._wrap(sub, ev)

    def deliver_raw(self, raw: bytes) -> None:
        """A frame sent as is (replayed unparseable lines, injected malformed frames): still data."""
        self._data(raw)

    def send_control(self, payload: dict[str, Any]) -> None:
        self._out.append(frame(orjson.dumps(payload)))

    def ping(self) -> None:
        if not self.closing:
            self.transport.write(frame(b"heartbeat", PING))

    def flush(self) -> None:
        if not self._out:
            return
        out, log = self._out, self._log
        self._out, self._log = [], []
        if self.closing:
            return
        self.transport.write(b"".join(out))
        if log:
            self.hub.count_sent(len(log))
            self.hub.log_sent(log)
        if self.transport.get_write_buffer_size() > self.hub.buffer_limit:
            self._overflow()

    def _overflow(self) -> None:
        """A reader too slow for its subscriptions loses them, as on Kalshi (error 25, terminal)."""
        self.fail_subscriptions(25)
        out, self._out = self._out, []
        self.transport.write(b"".join(out))

    def fail_subscriptions(self, code: int, channels: Collection[str] | None = None) -> int:
        """Kill every subscription (or those on ``channels``) the way Kalshi does: an error frame with the sid and
        no ``id``, then silence on that sid. Returns how many died; the caller flushes."""
        dead = [sid for sid, sub in self.subs.items() if channels is None or sub.channel in channels]
        for sid in dead:
            self._error(0, CommandError(code), sid=sid)
            self._drop(sid)
        return len(dead)

    # ----- commands --------------------------------------------------------------------------------------------
    def handle(self, text: str | bytes) -> None:
        """Run one client command and queue its replies (the caller flushes)."""
        try:
            cmd = orjson.loads(text)
        except orjson.JSONDecodeError:
            self._error(0, CommandError(1))
            return
        if not isinstance(cmd, dict):
            self._error(0, CommandError(1))
            return
        cid = cmd.get("id")
        cid = cid if isinstance(cid, int) and not isinstance(cid, bool) else 0
        try:
            name = cmd.get("cmd")
            params = cmd.get("params")
            if name == "list_subscriptions":
                self._list(cid)
                return
            handler = {"subscribe": self._subscribe, "unsubscribe": self._unsubscribe,
                       "update_subscription": self._update}.get(name if isinstance(name, str) else "")
            if handler is None:
                raise CommandError(5)
            if not isinstance(params, dict):
                raise CommandError(2)
            handler(cid, params)
        except CommandError as exc:
            self._error(cid, exc)

    def _error(self, cid: int, exc: CommandError, sid: int | None = None) -> None:
        reply: dict[str, Any] = {"id": cid} if cid else {}
        if sid is not None:
            reply["sid"] = sid
        reply["type"] = "error"
        reply["msg"] = {"code": exc.code, "msg": str(exc), **exc.extra}
        self.send_control(reply)

    def _tickers(self, params: dict[str, Any]) -> list[str] | None:
        one = params.get("market_ticker")
        many = params.get("market_tickers")
        if one is None and many is None:
            return None
        tickers: list[str] = []
        if one is not None:
            if not isinstance(one, str) or not one:
                raise CommandError(11)
            tickers.append(one)
        if many is not None:
            if not isinstance(many, list) or not all(isinstance(t, str) and t for t in many):
                raise CommandError(11)
            tickers.extend(many)
        for t in tickers:
            if not self.hub.market_known(t):
                raise CommandError(16, {"market_ticker": t})
        return list(dict.fromkeys(tickers))

    def _check_cap(self, n: int) -> None:
        cap = self.hub.max_markets_per_sub
        if cap and n > cap:
            raise CommandError(26)

    def _subscribe(self, cid: int, params: dict[str, Any]) -> None:
        channels = params.get("channels")
        if not channels or not isinstance(channels, list):
            raise CommandError(3)
        for ch in channels:
            if ch not in DATA_CHANNELS and ch not in QUIET_CHANNELS:
                raise CommandError(8)
        tickers = self._tickers(params)
        if ORDERBOOK in channels and not tickers:
            raise CommandError(14)
        if tickers is not None:
            self._check_cap(len(tickers))
        for ch in channels:
            sid = self._next_sid
            self._next_sid += 1
            scope = None if ch == LIFECYCLE or tickers is None else set(tickers)
            sub = Subscription(sid, ch, scope)
            self.subs[sid] = sub
            if ch in self.by_channel:
                self.by_channel[ch].append(sub)
            self.send_control({"id": cid, "type": "subscribed", "msg": {"channel": ch, "sid": sid}})
            self.hub.on_subscribe()
            if ch == ORDERBOOK and tickers:
                self._snapshots(sub, tickers)
            if ch == TICKER and params.get("send_initial_snapshot") is True:
                for ev in self.hub.ticker_now(tickers):
                    self._wrap(sub, ev)
            sub.skip_ack = params.get("skip_ticker_ack") is True

    def _snapshots(self, sub: Subscription, tickers: Iterable[str]) -> None:
        for t in tickers:
            ev = self.hub.snapshot(t)
            if ev is not None:
                self._wrap(sub, ev)

    def _drop(self, sid: int) -> Subscription:
        sub = self.subs.pop(sid)
        if sub.channel in self.by_channel:
            self.by_channel[sub.channel].remove(sub)
        return sub

    def _unsubscribe(self, cid: int, params: dict[str, Any]) -> None:
        sids = params.get("sids")
        if not sids or not isinstance(sids, list):
            raise CommandError(4)
        unknown = [s for s in sids if s not in self.subs]
        if unknown:
            raise CommandError(7)
        for sid in sids:
            sub = self._drop(sid)
            self.send_control({"id": cid, "sid": sid, "seq": sub.seq, "type": "unsubscribed"})

    def _update(self, cid: int, params: dict[str, Any]) -> None:
        action = params.get("action")
        if action is None:
            raise CommandError(15)
        if action not in ("add_markets", "delete_markets", "get_snapshot"):
            raise CommandError(13)
        if "sid" in params:
            sids = [params["sid"]]
        elif "sids" in params:
            sids = params["sids"] if isinstance(params["sids"], list) else [params["sids"]]
        else:
            raise CommandError(4)
        if len(sids) != 1:
            raise CommandError(12)
        sub = self.subs.get(sids[0]) if isinstance(sids[0], int) else None
        if sub is None:
            raise CommandError(7)
        tickers = self._tickers(params)
        if not tickers:
            raise CommandError(14)
        if sub.tickers is None:  # global ticker/trade/lifecycle subscriptions have no market list to edit
            raise CommandError(11)
        if action == "get_snapshot":
            if sub.channel != ORDERBOOK:
                raise CommandError(13)
            self._snapshots(sub, tickers)
            return
        if action == "add_markets":
            added = [t for t in tickers if t not in sub.tickers]
            self._check_cap(len(sub.tickers) + len(added))
            sub.tickers.update(added)
        else:
            added = []
            sub.tickers.difference_update(tickers)
        reply: dict[str, Any] = {"id": cid, "sid": sub.sid, "seq": sub.seq, "type": "ok"}
        if not sub.skip_ack:
            reply["msg"] = {"market_tickers": sorted(sub.tickers)}
        self.send_control(reply)
        if sub.channel == ORDERBOOK and added:
            self._snapshots(sub, added)
        if sub.channel == TICKER and added and params.get("send_initial_snapshot") is True:
            for ev in self.hub.ticker_now(added):
                self._wrap(sub, ev)

    def _list(self, cid: int) -> None:
        listing = [{"channel": s.channel, "sid": s.sid} for s in self.subs.values()]
        self.send_control({"id": cid, "type": "ok", "msg": listing})
