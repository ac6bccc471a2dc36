"""The interface every feed implements (DRAFT: the seam's owner may refine it; keep this docstring true).

A feed knows its exchange's wire protocol and nothing about NATS, files or services. The generic connector
drives a WebSocket with a feed's :class:`Session` (one per connection); the archive tools, the agent and the
export see frames only through :meth:`Feed.route` and :meth:`Feed.events`.

Numbers in events are ``float`` on the fast path (the agent) and :class:`~decimal.Decimal` when ``exact=True``
(books for export, tests); both come from one field table in the feed's package.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

import aiohttp

Number = float | Decimal
Side = Literal["bid", "ask"]
"""Books are two-sided on the YES (first outcome) price scale: a Kalshi NO bid at p is an ask at 1 - p."""


# -- routing ---------------------------------------------------------------------------------------------------


class Kind(enum.Enum):
    DATA = "data"
    CONTROL = "control"
    UNPARSED = "unparsed"


@dataclass(frozen=True, slots=True)
class Route:
    """What the hot path needs of one raw frame, decoded once: the subject's type token and market key, and
    the stream position (``sid``/``seq``) when the exchange has one. ``key`` is the raw market key (None: ``_``)."""

    kind: Kind
    type: str = "unparsed"
    key: str | None = None
    sid: int | None = None
    seq: int | None = None


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
    bid_size: Number | None = None
    ask_size: Number | None = None


@dataclass(frozen=True, slots=True)
class Lifecycle:
    market: str
    ts_ms: int | None
    status: str
    detail: Mapping[str, object] = field(default_factory=dict)


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
class _RouteInfo:
    route: Route

    @property
    def type(self) -> str | None:
        return None if self.route.kind is Kind.UNPARSED else self.route.type

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


# -- the connection protocol -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """``text`` is sent every ``interval`` seconds as a text frame (Polymarket ``PING``); ``None`` means
    WebSocket protocol pings (Kalshi)."""

    interval: float
    text: str | None = None


class Session(abc.ABC):
    """One connection's protocol state: the commands it sends and what the replies and data mean."""

    @abc.abstractmethod
    def subscribe(self, channel: str, markets: Sequence[str] | None) -> Iterable[bytes]:
        """Frames to send to subscribe ``channel`` (for ``markets``, or all when ``None``)."""

    @abc.abstractmethod
    def unsubscribe(self, channel: str, markets: Sequence[str]) -> Iterable[bytes]:
        """Frames to send to drop ``markets`` from ``channel``."""

    @abc.abstractmethod
    def on_frame(self, route: Route, raw: bytes) -> Sequence[str]:
        """Account for one frame (replies, seq gaps, silence). Returns the markets to re-snapshot now."""


class Feed(abc.ABC):
    name: str
    ws_url: str
    """The production WebSocket URL (the feed file's endpoint wins; ``--ws-url`` wins over both)."""
    rest_url: str
    heartbeat: Heartbeat
    max_markets_per_connection: int
    default_channels: tuple[str, ...]

    @abc.abstractmethod
    def handshake_headers(self, environ: Mapping[str, str], url: str) -> dict[str, str]:
        """Headers for the WebSocket upgrade (signed auth where the exchange wants it; {} for public feeds)."""

    @abc.abstractmethod
    def session(self) -> Session:
        """A fresh protocol state for one connection."""

    @abc.abstractmethod
    def route(self, raw: bytes) -> Route:
        """Classify ``raw`` on the minimum fields. Never raises: unroutable frames are ``Kind.UNPARSED``."""

    @abc.abstractmethod
    async def discover(self, http: aiohttp.ClientSession, rest_url: str, query: Mapping[str, object]) -> list[str]:
        """The market keys the exchange lists as open (paged to the end)."""

    @abc.abstractmethod
    def events(self, payload: bytes, exact: bool = False) -> list[Event]:
        """The typed events one archived or streamed frame carries (none for control or unknown frames).
        Raises :class:`UnreadableFrame` for bytes that are not a frame of this feed."""

    def inspect(self, raw: bytes) -> FrameInfo:
        """The archive tools' view of ``raw`` (verify, cat, stats, reader filters, replay). Never raises. This
        default knows only the route (no time, no dedup key): a feed overrides it to decode everything in one
        pass."""
        return _RouteInfo(self.route(raw))

    def value(self, raw: bytes) -> object | None:
        """The feed's own typed view of one frame, every field and exact (``ArchiveFrame.value``); ``None`` for
        frames without one. Unlike :meth:`events` it is not feed-neutral: it names the exchange's fields."""
        return None
