"""The interface every feed implements (keep this docstring true: helpers code against it).

A feed knows its exchange's wire protocol and nothing about NATS, files or services. The generic connector
(:mod:`ssmd.connector.shard`) drives one WebSocket per shard with a fresh :class:`Session` from
:meth:`Feed.session`: it sends the session's :class:`Command` frames, hands every control frame to
:meth:`Session.reply` and every data frame that carries a sequence number to :meth:`Session.gap`, and applies
the generic policy on what comes back (wait for a reply, split a subscription that is too big, subscribe again
a subscription the exchange dropped, re-snapshot a book channel after a gap). The archive tools, the agent and
the export see frames only through :meth:`Feed.route` and :meth:`Feed.events`.

Routing is the hot path: :meth:`Feed.route` decodes each raw frame once, on the minimum fields, and never
raises. ``Route.type`` is already the subject's type token (``{env}.{feed}.json.{type}.{key}``).

Numbers in events are ``float`` on the fast path (the agent) and :class:`~decimal.Decimal` when ``exact=True``
(books for export, tests); both come from one field table in the feed's package.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import msgspec

from ssmd.errors import InputError

if TYPE_CHECKING:
    import aiohttp

    from ssmd.config.capture import DiscoveryConfig

Number = float | Decimal
Side = Literal["bid", "ask"]
"""Books are two-sided on the YES (first outcome) price scale: a Kalshi NO bid at p is an ask at 1 - p."""


# -- routing ---------------------------------------------------------------------------------------------------


class Kind(enum.Enum):
    DATA = "data"
    CONTROL = "control"
    UNPARSED = "unparsed"


class Route(msgspec.Struct, frozen=True, gc=False):
    """What the hot path needs of one raw frame, decoded once.

    ``type`` is the subject's type token (``orderbook``, ``trade``; ``unparsed`` for frames that are not the
    feed's JSON); ``key`` is the raw market key (``None``: the subject token ``_``); ``sid``/``seq`` are the
    stream and its position when the exchange numbers its frames (Kalshi), else ``None``. ``detail`` is the
    feed's own decoded view of a CONTROL frame, for its :class:`Session` only (opaque to services), so that
    replies are not decoded twice."""

    kind: Kind
    type: str = "unparsed"
    key: str | None = None
    sid: int | None = None
    seq: int | None = None
    detail: object = None


UNPARSED = Route(Kind.UNPARSED)
"""Frames that are not JSON (or not the feed's JSON): published raw to ``{prefix}.json.unparsed._``, counted."""


# -- normalised events -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trade:
    market: str
    ts_ms: int | None
    price: Number
    """YES price in dollars."""
    size: Number
    taker_side: str | None = None
    trade_id: str | None = None


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """Replaces the market's whole book."""

    market: str
    ts_ms: int | None
    bids: Sequence[tuple[Number, Number]]
    asks: Sequence[tuple[Number, Number]]


@dataclass(frozen=True, slots=True)
class BookDelta:
    """Changes one level: ``change`` is added to the size (Kalshi); ``size`` replaces it (Polymarket)."""

    market: str
    ts_ms: int | None
    side: Side
    price: Number
    change: Number | None = None
    size: Number | None = None


@dataclass(frozen=True, slots=True)
class TopOfBook:
    market: str
    ts_ms: int | None
    bid: Number | None
    ask: Number | None
    last: Number | None = None
    volume: Number | None = None


@dataclass(frozen=True, slots=True)
class Lifecycle:
    market: str
    ts_ms: int | None
    status: str
    detail: Mapping[str, object] = field(default_factory=dict)


Event = Trade | BookSnapshot | BookDelta | TopOfBook | Lifecycle


# -- the connection protocol -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """``text`` is sent every ``interval`` seconds as a text frame (Polymarket ``PING``); ``None`` means
    WebSocket protocol pings every ``capture.ping_interval`` (Kalshi). ``silent_after``: no DATA frame for this
    long on a subscribed connection means a dead socket even if it answers pings (Polymarket); ``None``: off
    (any frame from the server counts as life, within ``capture.dead_after``)."""

    interval: float | None = None
    text: str | None = None
    silent_after: float | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """One frame to send. ``id``: the reply that completes it (see :attr:`Reply.id`); ``None``: the exchange
    does not answer this command, it is done once sent."""

    frame: bytes
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What one control frame means to the connection.

    ``id`` names the :class:`Command` it answers (``None``: unsolicited). ``handle`` is the exchange's id of a
    subscription (Kalshi's sid), given by a successful subscribe or named by an error. ``too_many``: the
    subscription has too many markets, split it and subscribe the halves. ``dropped``: the exchange ended
    subscription ``handle`` (a terminal error); subscribe it again without unsubscribing."""

    id: int | None
    ok: bool
    handle: int | None = None
    code: int | None = None
    message: str | None = None
    too_many: bool = False
    dropped: bool = False


@dataclass(frozen=True, slots=True)
class Gap:
    """Frames that stream ``sid`` skipped: ``expected`` was due, ``got`` arrived."""

    sid: int
    expected: int
    got: int


class Session(abc.ABC):
    """One connection's protocol state: the commands it sends and what the replies and sequence numbers mean.

    Not thread-safe and not shared: one per connection attempt, discarded with it."""

    @abc.abstractmethod
    def subscribe(self, channel: str, markets: Sequence[str] | None) -> Command:
        """Subscribe ``channel`` for ``markets`` (``None``: a global channel, every market)."""

    @abc.abstractmethod
    def unsubscribe(self, channel: str, handle: int | None, markets: Sequence[str] | None) -> Command | None:
        """End one subscription (before a re-snapshot). ``None``: nothing to send."""

    @abc.abstractmethod
    def update(self, channel: str, handle: int | None, add: Sequence[str], remove: Sequence[str]) -> list[Command]:
        """Bring a live subscription in line with a changed market list, in place."""

    @abc.abstractmethod
    def reply(self, route: Route, raw: bytes) -> Reply | None:
        """What a CONTROL frame means; ``None`` for frames that answer nothing (a text ``PONG``)."""

    @abc.abstractmethod
    def gap(self, route: Route) -> Gap | None:
        """Account for a DATA frame with a ``seq``: the gap it reveals, if any (the first frame of a stream
        and frames in order reveal none). Called on the hot path, only when ``route.seq`` is not ``None``."""


class Credentials(Protocol):
    """Signs requests (the WebSocket upgrade and REST calls). ``repr`` never shows key material."""

    def headers(self, method: str, path: str) -> dict[str, str]: ...


class FeedAuthError(InputError):
    """Credentials that cannot be used (the operator must fix them: exit 2). The message names the variable,
    never its value."""


class Feed(abc.ABC):
    """One exchange. Instances are stateless and shared (:func:`~ssmd.feed.registry.get_feed` caches them)."""

    name: str
    ws_url: str
    """The production WebSocket URL (the feed file's endpoint wins; ``--ws-url`` wins over both)."""
    heartbeat: Heartbeat
    default_channels: tuple[str, ...]
    """Channels captured when the environment file names none (``capture.channels``)."""
    market_channels: frozenset[str]
    """Channels served only for an explicit market list: they need ``capture.markets`` and are sharded."""
    resnapshot_channels: frozenset[str]
    """Book channels: after a sequence gap the book is wrong until the exchange sends a fresh snapshot."""
    max_markets_per_subscription: int
    max_markets_per_connection: int
    """Defaults for ``capture.max_markets_per_*`` (the environment file may override them)."""
    backfill_channels: frozenset[str] = frozenset()
    """Channels whose missed frames :meth:`backfill` can fetch again over REST (Kalshi: ``trade``)."""
    credential_vars: tuple[str, ...] = ()
    """Environment variables :meth:`credentials` reads (named in errors; empty for public feeds)."""
    environ_vars: tuple[str, ...] = ()
    """Every environment variable the feed reads (credentials and switches): ``ssmd up`` scrubs them for a demo."""
    sim_command: tuple[str, ...]
    """Arguments after ``ssmd`` that start this feed's simulator (``("sim", "kalshi")``) for ``ssmd up`` and
    tests. The simulator takes ``--port``, ``--sent-log``, ``--markets``, ``--rate`` and ``--seed``, prints one
    line ``... listening on WS_URL`` once it listens, and serves ``/_sim/stats``, ``/_sim/pause``,
    ``/_sim/resume`` and ``/_sim/fault`` on the same port."""
    sim_ws_path: str
    """The simulator's WebSocket path (``ws://127.0.0.1:PORT{sim_ws_path}``), which ``ssmd up`` dials."""

    def sim_auth(self, keys_dir: Path, key_id: str) -> SimAuth | None:
        """How to sign in to the simulator; ``None``: it accepts anyone (public feeds)."""
        return None

    # -- endpoints and auth ------------------------------------------------------------------------------------

    def endpoint(self, configured: str, environ: Mapping[str, str]) -> str:
        """The WebSocket URL to dial, given the feed file's endpoint (a demo switch, a legacy-host warning)."""
        return configured

    @abc.abstractmethod
    def rest_url_for(self, ws_url: str) -> str:
        """The REST (discovery) base that goes with ``ws_url`` (``--rest-url`` overrides it)."""

    def credentials(self, environ: Mapping[str, str]) -> Credentials | None:
        """Credentials from the environment; ``None`` for public feeds. Raises :class:`FeedAuthError`."""
        return None

    def handshake_headers(self, credentials: Credentials | None, url: str) -> dict[str, str]:
        """Headers for the WebSocket upgrade (signed where the exchange wants it; {} for public feeds)."""
        return {}

    # -- one connection ----------------------------------------------------------------------------------------

    @abc.abstractmethod
    def session(self) -> Session:
        """A fresh protocol state for one connection."""

    @abc.abstractmethod
    def route(self, raw: bytes) -> Route:
        """Classify ``raw`` on the minimum fields. Never raises: unroutable frames are :data:`UNPARSED`."""

    @abc.abstractmethod
    def type_token(self, frame_type: str) -> str:
        """The subject type token of a wire frame type (Kalshi's two book frame types -> ``orderbook``); archive filters
        accept either."""

    # -- discovery and meaning ---------------------------------------------------------------------------------

    @abc.abstractmethod
    async def discover(self, http: aiohttp.ClientSession, rest_url: str, credentials: Credentials | None,
                       query: DiscoveryConfig) -> list[str]:
        """The market keys the exchange lists for ``query`` (paged to the end, in the exchange's order, without
        duplicates, at most ``query.max_markets``). Raises :class:`DiscoveryError` when the answer is unusable;
        network errors propagate (the connector retries both)."""

    async def backfill(self, http: aiohttp.ClientSession, rest_url: str, credentials: Credentials | None,
                       channel: str, window_ms: tuple[int, int], markets: Sequence[str] | None,
                       instance: str) -> Backfill:
        """Frames of ``channel`` the exchange made in ``window_ms`` (epoch ms, margins included), fetched over
        REST and shaped like WebSocket frames, each marked as backfilled by ``instance``. Only called for
        :attr:`backfill_channels`; network errors propagate (the connector retries)."""
        return Backfill([], window_ms)

    @abc.abstractmethod
    def events(self, payload: bytes, exact: bool = False) -> list[Event]:
        """The typed events one archived or streamed frame carries (none for control or unknown frames)."""


@dataclass(frozen=True, slots=True)
class SimAuth:
    """How ``ssmd up`` signs a connector in to a simulator that wants signed connections: run ``ssmd
    *keygen`` (writes a key pair), start the simulator with ``sim_args`` added, and give the connector ``env``
    plus each ``env_files`` variable set to that file's text."""

    keygen: tuple[str, ...]
    sim_args: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    env_files: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Backfill:
    """What :meth:`Feed.backfill` fetched: ``frames`` are ``(key, frame)`` pairs, ``key`` the frame's natural id
    (Kalshi's ``trade_id``) from which the connector derives its ``Nats-Msg-Id``. ``covered_ms`` is the part of
    the window fully covered: all of it, or (``complete`` False, the fetch's bound was reached) the newest part,
    ``detail`` saying why it stopped."""

    frames: list[tuple[str, bytes]]
    covered_ms: tuple[int, int]
    complete: bool = True
    detail: str = ""


class DiscoveryError(Exception):
    """The exchange answered, but not with a market list (HTTP error, not JSON, wrong shape): retry later."""
