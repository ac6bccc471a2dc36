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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import msgspec

from ssmd.errors import InputError

if TYPE_CHECKING:
    import aiohttp

    from ssmd.archive_format.stats import FrameFacts
    from ssmd.config.capture import DiscoveryConfig

Number = float | Decimal
Side = Literal["bid", "ask"]
"""Books are two-sided on the YES (first outcome) price scale: a Kalshi NO bid at p is an ask at 1 - p."""


# -- routing ---------------------------------------------------------------------------------------------------


class Kind(enum.Enum):
    DATA = "data"
    CONTROL = "control"
    UNPARSED = "unparsed"
    KEPT = "kept"
    """A control word the feed expects (Polymarket's ``PONG``): published raw on the unparsed subject like
    UNPARSED, but neither warned about per frame nor counted as data (a socket that only answers the heartbeat
    is still silent)."""


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
KEPT = Route(Kind.KEPT)
"""A known control word, kept raw on ``{prefix}.json.unparsed._`` (see :attr:`Kind.KEPT`)."""


# -- normalised events -----------------------------------------------------------------------------------------
# msgspec structs, not dataclasses: one is built per frame on the agent's hot path, and a frozen dataclass costs
# several times as much to build.


class Trade(msgspec.Struct, frozen=True, gc=False):
    market: str
    ts_ms: int | None
    price: Number
    """YES price in dollars."""
    size: Number
    taker_side: str | None = None
    trade_id: str | None = None


class BookSnapshot(msgspec.Struct, frozen=True, gc=False):
    """Replaces the market's whole book."""

    market: str
    ts_ms: int | None
    bids: Sequence[tuple[Number, Number]]
    asks: Sequence[tuple[Number, Number]]


class BookDelta(msgspec.Struct, frozen=True, gc=False):
    """Changes one level: ``change`` is added to the size (Kalshi); ``size`` replaces it (Polymarket)."""

    market: str
    ts_ms: int | None
    side: Side
    price: Number
    change: Number | None = None
    size: Number | None = None


class TopOfBook(msgspec.Struct, frozen=True, gc=False):
    market: str
    ts_ms: int | None
    bid: Number | None
    ask: Number | None
    last: Number | None = None
    volume: Number | None = None
    bid_size: Number | None = None
    ask_size: Number | None = None


class Lifecycle(msgspec.Struct, frozen=True, gc=False):
    market: str
    ts_ms: int | None
    status: str
    detail: Mapping[str, object] = msgspec.field(default_factory=dict)


Event = Trade | BookSnapshot | BookDelta | TopOfBook | Lifecycle


class UnreadableFrame(ValueError):
    """:meth:`Feed.events` was given bytes that are no frame of the feed at all (not JSON, wrong shape): the
    caller counts them (the agent's ``unparsed``) instead of mistaking them for a frame without events."""


class FrameInfo(Protocol):
    """What the archive tools read of one frame (:meth:`Feed.inspect`), decoded in one pass: the wire ``type``
    (``None``: unparsed), the market ``key``, ``sid``/``seq``, the exchange time and a ``dedup_key`` (the
    exchange's id of the event, e.g. a trade id: two frames with one key are one event)."""

    @property
    def type(self) -> str | None: ...
    @property
    def key(self) -> str | None: ...
    @property
    def sid(self) -> int | None: ...
    @property
    def seq(self) -> int | None: ...
    @property
    def dedup_key(self) -> str | None: ...
    def ts_ms(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class _Routed:
    type: str | None
    ticker: str | None


class _InspectFacts:
    """:class:`~ssmd.archive_format.stats.FrameFacts` through a feed's ``inspect``."""

    def __init__(self, inspect: Callable[[bytes], FrameInfo]) -> None:
        self._inspect = inspect

    def classify(self, raw: bytes) -> _Routed:
        info = self._inspect(raw)
        return _Routed(info.type, info.key)

    def time_ms(self, raw: bytes) -> int | None:
        return self._inspect(raw).ts_ms()


@dataclass(frozen=True, slots=True)
class _RouteInfo:
    route: Route

    @property
    def type(self) -> str | None:
        return None if self.route.kind in (Kind.UNPARSED, Kind.KEPT) else self.route.type

    @property
    def key(self) -> str | None:
        return self.route.key

    @property
    def sid(self) -> int | None:
        return self.route.sid

    @property
    def seq(self) -> int | None:
        return self.route.seq

    @property
    def dedup_key(self) -> str | None:
        return None

    def ts_ms(self) -> int | None:
        return None


class Identity(msgspec.Struct, frozen=True, gc=False):
    """What the merged view (:mod:`ssmd.archive.merged`) needs to tell copies of one exchange message apart when
    several connections captured it (docs/redundancy.md). ``kind``: ``trade`` (``key`` is the trade id),
    ``snapshot``/``delta`` (one ``market``'s book chain on stream ``sid``, position ``seq``), ``other`` (``key``
    is the content: the frame type and message bytes, never the per-connection ``sid``/``seq``). ``ts_ms`` is the
    exchange's time when the frame has one cheaply."""

    kind: Literal["trade", "snapshot", "delta", "other"]
    market: str | None = None
    key: bytes | None = None
    sid: int | None = None
    seq: int | None = None
    ts_ms: int | None = None


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

    lifecycle_token: str | None = None
    """Type token of the frames that announce markets opening and finishing (:meth:`market_change` reads them);
    ``None``: market lists change at discovery refreshes only."""

    def market_change(self, payload: bytes) -> tuple[str, bool] | None:
        """``(market, True)`` when a :attr:`lifecycle_token` frame says the market opened for trading,
        ``(market, False)`` when it is finished (determined, settled); ``None`` for anything else. Called for
        lifecycle frames only (rare), off the per-frame routing."""
        return None

    def default_discovery(self) -> DiscoveryConfig | None:
        """How to find the markets of :attr:`market_channels` when the environment file names none
        (``capture.markets``); ``None``: the file must say."""
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
        """The typed events one archived or streamed frame carries (none for control or unknown frames).
        Raises :class:`UnreadableFrame` for bytes that are not a frame of this feed."""

    def inspect(self, raw: bytes) -> FrameInfo:
        """The archive tools' view of ``raw`` (verify, cat, stats, reader filters, replay). Never raises. This
        default knows only the route (no time, no dedup key): a feed overrides it to decode everything in one
        pass."""
        return _RouteInfo(self.route(raw))

    @property
    def frame_facts(self) -> FrameFacts:
        """What the archive's manifest records of a frame (type, market key, exchange time), for
        :mod:`ssmd.archive_format`'s writer; this default goes through :meth:`inspect`."""
        return _InspectFacts(self.inspect)

    def value(self, raw: bytes) -> object | None:
        """The feed's own typed view of one frame, every field and exact (``ArchiveFrame.value``); ``None`` for
        frames without one. Unlike :meth:`events` it is not feed-neutral: it names the exchange's fields."""
        return None

    def identity(self, raw: bytes) -> Identity:
        """How copies of ``raw`` from several connections are recognised (one decode). The default treats every
        frame as content: byte-identical frames from different connections are copies."""
        return Identity("other", key=raw)


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


BACKFILL_MARKER = "ssmd_backfill"
"""The top-level key a feed adds to a frame it fetched again over REST (``{"source", "endpoint", "instance"}``):
the frame keeps the WebSocket's shape, and readers can tell it from a live copy."""

_BACKFILL_NEEDLE = f'"{BACKFILL_MARKER}":'.encode()


def is_backfilled(raw: bytes) -> bool:
    """A frame a backfill fetched (a byte search: call it only for frames that can be backfilled, e.g. trades)."""
    return _BACKFILL_NEEDLE in raw


class DiscoveryError(Exception):
    """The exchange answered, but not with a market list (HTTP error, not JSON, wrong shape): retry later."""
