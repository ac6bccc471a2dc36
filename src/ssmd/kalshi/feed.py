"""Kalshi behind the feed seam: endpoints, signed auth, the WebSocket v2 command protocol and its rules.

The protocol rules the generic connector applies through :class:`KalshiSession`: commands carry increasing
ids and each gets one reply (``subscribed``/``ok``/``unsubscribed``/``error``) with the same id; error 26
(too many markets for one subscription) means "split it"; errors 10, 17 and 25 sent for a live sid mean the
exchange dropped that subscription ("subscribe again"); ``seq`` counts per sid, and a gap on a book channel
(``orderbook_delta``) means the book is wrong until a fresh snapshot, which a new subscription brings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import msgspec

from ssmd.bus.subjects import sanitize_token
from ssmd.config.capture import DiscoveryConfig
from ssmd.config.envvars import env_flag
from ssmd.feed.base import (
    UNPARSED,
    Backfill,
    Command,
    Credentials,
    Feed,
    Gap,
    Heartbeat,
    Kind,
    Reply,
    Route,
    Session,
    SimAuth,
)
from ssmd.kalshi.auth import WS_PATH, credentials_from_env
from ssmd.kalshi.commands import Commands
from ssmd.kalshi.events import frame_events
from ssmd.kalshi.frames import CONTROL_TYPES, TYPE_TOKENS, Frame, classify, decoder, inspect
from ssmd.kalshi.identity import identity

if TYPE_CHECKING:
    import aiohttp

    from ssmd.archive_format.stats import FrameFacts
    from ssmd.config.capture import DiscoveryConfig

log = logging.getLogger(__name__)
_decode = decoder.decode

PROD_WS_URL = "wss://api.elections.kalshi.com/trade-api/ws/v2"
DEMO_WS_URL = "wss://demo-api.kalshi.co/trade-api/ws/v2"
LEGACY_HOSTS = frozenset({"trading-api.kalshi.com", "api.kalshi.com"})
"""Hosts of the token-login era, absent from Kalshi's current docs (the deployment guide still names one)."""
REST_PATH = "/trade-api/v2"

TERMINAL_CODES = frozenset({10, 17, 25})
"""Error codes after which Kalshi considers the subscription dead: subscribe again."""
TOO_MANY_MARKETS = 26
"""Too many markets for one subscription (the cap is unpublished): split the list and subscribe the halves."""

DEFAULT_CHANNELS = ("ticker", "trade", "market_lifecycle_v2", "orderbook_delta")
"""The deployment guide's global channels (every market, no list) and the order book of every open market (issue
#14: the guide lists ``{env}.{feed}.json.orderbook.{ticker}`` as a subject, so its files must capture books)."""
MARKET_CHANNELS = frozenset({"orderbook_delta"})
"""Channels Kalshi serves only for an explicit market list (no firehose)."""
DEFAULT_DISCOVERY = {"status": "open", "refresh": "1m", "max_markets": 100_000}
"""The market list when the environment file gives none: every open market, re-read every minute (new markets are
subscribed, settled ones unsubscribed). 100,000 is headroom over the ~30,000 open markets seen in 2026 and far
below the 500,000 market subscriptions Kalshi allows per session (kalshi-protocol.md)."""


OPENS = {"activated": True, "determined": False, "settled": False}
"""``market_lifecycle_v2`` event types that open a market for trading (its book exists) or finish it. ``created``
is not one: the market is not open yet (subscribing books of unopened markets is how the original's watchdog
tripped); a plain close is left to the discovery refresh (status ``open`` no longer lists it)."""


class _LifecycleMsg(msgspec.Struct):
    market_ticker: str | None = None
    event_type: str | None = None


class _LifecycleFrame(msgspec.Struct):
    type: str | None = None
    msg: _LifecycleMsg | None = None


_lifecycle_decoder = msgspec.json.Decoder(_LifecycleFrame)


def use_demo(environ: Mapping[str, str]) -> bool:
    """``KALSHI_USE_DEMO`` (default false); raises :class:`~ssmd.config.envvars.EnvVarError` on a typo."""
    return env_flag(environ, "KALSHI_USE_DEMO")


def rest_base(ws_url: str) -> str:
    """``wss://host/trade-api/ws/v2`` -> ``https://host/trade-api/v2`` (same host, same signing)."""
    parts = urlsplit(ws_url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, REST_PATH, "", ""))


class KalshiSession(Session):
    """Command ids, reply matching and per-sid ``seq`` of one connection."""

    __slots__ = ("_commands", "_last_seq")

    def __init__(self) -> None:
        self._commands = Commands()
        self._last_seq: dict[int, int] = {}

    def subscribe(self, channel: str, markets: Sequence[str] | None) -> Command:
        cid, frame = self._commands.subscribe([channel], markets)
        return Command(frame, cid)

    def unsubscribe(self, channel: str, handle: int | None, markets: Sequence[str] | None) -> Command | None:
        if handle is None:
            return None
        cid, frame = self._commands.unsubscribe([handle])
        return Command(frame, cid)

    def update(self, channel: str, handle: int | None, add: Sequence[str], remove: Sequence[str]) -> list[Command]:
        if handle is None:
            return []
        out = []
        for action, tickers in (("delete_markets", remove), ("add_markets", add)):
            if tickers:
                cid, frame = self._commands.update_subscription(handle, tickers, action)  # type: ignore[arg-type]
                out.append(Command(frame, cid))
        return out

    def reply(self, route: Route, raw: bytes) -> Reply | None:
        frame = route.detail
        if not isinstance(frame, Frame):
            return None
        cid = frame.id or None  # id 0 means "no id"
        if frame.sid is not None and frame.seq is not None:  # ok/unsubscribed advance their sid's seq
            prev = self._last_seq.get(frame.sid)
            if prev is not None and frame.seq > prev:
                self._last_seq[frame.sid] = frame.seq
        if frame.type == "error":
            code, message = frame.error
            return Reply(cid, False, frame.sid, code, message, too_many=code == TOO_MANY_MARKETS,
                         dropped=frame.sid is not None and code in TERMINAL_CODES)
        if frame.type == "subscribed":
            return Reply(cid, True, frame.subscribed_sid)
        return Reply(cid, True, frame.sid)

    def gap(self, route: Route) -> Gap | None:
        sid, seq = route.sid, route.seq
        if sid is None or seq is None:
            return None
        last = self._last_seq
        prev = last.get(sid)
        last[sid] = seq
        if prev is None or seq == prev + 1:
            return None
        return Gap(sid, prev + 1, seq)


class _Facts:
    """What the archive's manifest records of a frame: the routing decode the archiver's batches need (faster than
    :func:`inspect`), and the exchange time of the few frames it asks about."""

    classify = staticmethod(classify)

    @staticmethod
    def time_ms(raw: bytes) -> int | None:
        return inspect(raw).ts_ms()


class KalshiFeed(Feed):
    name = "kalshi"
    ws_url = PROD_WS_URL
    heartbeat = Heartbeat()
    default_channels = DEFAULT_CHANNELS
    market_channels = MARKET_CHANNELS
    resnapshot_channels = MARKET_CHANNELS
    backfill_channels = frozenset({"trade"})
    max_markets_per_subscription = 200
    """Kalshi's cap is unpublished (error 26); the original found 256 and kept 200 for headroom."""
    max_markets_per_connection = 1000
    credential_vars = ("KALSHI_API_KEY", "KALSHI_PRIVATE_KEY")
    environ_vars = (*credential_vars, "KALSHI_USE_DEMO")
    sim_command = ("sim", "kalshi")
    sim_ws_path = WS_PATH

    lifecycle_token = "lifecycle"

    def market_change(self, payload: bytes) -> tuple[str, bool] | None:
        try:
            frame = _lifecycle_decoder.decode(payload)
        except msgspec.DecodeError:
            return None
        msg = frame.msg
        if frame.type != "market_lifecycle_v2" or msg is None or not msg.market_ticker:
            return None
        opened = OPENS.get(msg.event_type or "")
        return None if opened is None else (msg.market_ticker, opened)

    def default_discovery(self) -> DiscoveryConfig:
        return DiscoveryConfig(**DEFAULT_DISCOVERY)  # type: ignore[arg-type]

    def __init__(self) -> None:
        self._tokens: dict[str, str] = dict(TYPE_TOKENS)
        self.route = self._router()  # type: ignore[method-assign,assignment]

    # -- endpoints and auth ------------------------------------------------------------------------------------

    def endpoint(self, configured: str, environ: Mapping[str, str]) -> str:
        """The demo host if ``KALSHI_USE_DEMO``, else the feed file's endpoint. A legacy host is used as
        configured (an operator may know better) but logged as a warning."""
        if use_demo(environ):
            return DEMO_WS_URL
        host = urlsplit(configured).hostname or ""
        if host in LEGACY_HOSTS:
            log.warning("feed endpoint host %s is a legacy Kalshi host; current hosts are %s (prod) and %s (demo)",
                        host, PROD_WS_URL, DEMO_WS_URL, extra={"endpoint": configured})
        return configured

    def rest_url_for(self, ws_url: str) -> str:
        return rest_base(ws_url)

    def credentials(self, environ: Mapping[str, str]) -> Credentials | None:
        return credentials_from_env(dict(environ))

    def handshake_headers(self, credentials: Credentials | None, url: str) -> dict[str, str]:
        return credentials.headers("GET", WS_PATH) if credentials is not None else {}

    def sim_auth(self, keys_dir: Path, key_id: str) -> SimAuth:
        """``ssmd sim keygen`` writes the pair; the simulator knows the public half under ``key_id``."""
        return SimAuth(
            keygen=("sim", "keygen", "--out", str(keys_dir), "--api-key", key_id),
            sim_args=("--key", f"{key_id}={keys_dir / 'kalshi-public.pem'}"),
            env={"KALSHI_API_KEY": key_id},
            env_files={"KALSHI_PRIVATE_KEY": keys_dir / "kalshi-private.pem"},
        )

    # -- one connection ----------------------------------------------------------------------------------------

    def session(self) -> Session:
        return KalshiSession()

    def route(self, raw: bytes) -> Route:
        return self._router()(raw)

    def _router(self) -> Callable[[bytes], Route]:
        """``route`` as a closure over its tables: it runs once per frame, so every name it needs is a local
        (``classify`` inlined; one dict lookup tells a control frame from a data frame and gives its token)."""
        decode, tolerant, tokens, token_of = _decode, classify, self._tokens, self.type_token
        controls = dict.fromkeys(CONTROL_TYPES, "")
        unparsed, data, control, validation, decode_error = UNPARSED, Kind.DATA, Kind.CONTROL, \
            msgspec.ValidationError, msgspec.DecodeError

        def route(raw: bytes) -> Route:
            try:
                frame = decode(raw)
            except validation:
                frame = tolerant(raw)
            except decode_error:
                return unparsed
            ftype = frame.type
            if not ftype:
                return unparsed
            token = tokens.get(ftype)
            if token is None:
                if ftype in controls:
                    return Route(control, ftype, None, frame.sid, frame.seq, frame)
                token = token_of(ftype)
            return Route(data, token, frame.ticker, frame.sid, frame.seq)

        return route

    def type_token(self, frame_type: str) -> str:
        token = self._tokens.get(frame_type)
        if token is None:
            token = sanitize_token(frame_type)
            # unknown types are few (never let junk grow the table); a control type must stay out: the router
            # reads "in the table" as "a data frame"
            if len(self._tokens) < 10_000 and frame_type not in CONTROL_TYPES:
                self._tokens[frame_type] = token
        return token

    # -- discovery and meaning ---------------------------------------------------------------------------------

    async def discover(self, http: aiohttp.ClientSession, rest_url: str, credentials: Credentials | None,
                       query: DiscoveryConfig) -> list[str]:
        from ssmd.kalshi.discovery import discover_markets

        return await discover_markets(http, rest_url, credentials, query)

    async def backfill(self, http: aiohttp.ClientSession, rest_url: str, credentials: Credentials | None,
                       channel: str, window_ms: tuple[int, int], markets: Sequence[str] | None,
                       instance: str) -> Backfill:
        from ssmd.kalshi.backfill import fetch_trades

        return await fetch_trades(http, rest_url, credentials, window_ms, instance=instance, markets=markets)

    events = staticmethod(frame_events)  # no wrapper call on the agent's hot path

    @property
    def frame_facts(self) -> FrameFacts:
        return _Facts()

    inspect = staticmethod(inspect)  # no wrapper call on the archive tools' per-line path

    def value(self, raw: bytes) -> object | None:
        from ssmd.kalshi.values import parse_frame

        return parse_frame(raw)

    identity = staticmethod(identity)  # one call per line in the merged view
