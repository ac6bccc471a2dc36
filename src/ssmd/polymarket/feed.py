"""Polymarket's CLOB market channel behind the feed seam.

Protocol rules the generic connector applies through :class:`PolymarketSession`: the first subscribe on a
socket is the ``{"type": "market", ...}`` message and every later one an ``operation`` (a second ``type``
message is refused); the exchange answers no command (no ids, no replies: a command is done once sent); a
re-snapshot is an ``unsubscribe`` + ``subscribe`` of the same assets (a subscribe re-sends each ``book``), as
there are no sequence numbers and hence no gaps to detect. Liveness: a text ``PING`` every 10 s (the connector
starts it once connected; the server drops a socket whose first frame is a ``PING``, see
:attr:`PolymarketFeed.heartbeat`), and a socket that delivers no data for ``SILENT_AFTER`` while ``PONG``
still comes back is reconnected (resubscribed).

Markets in subscriptions are asset ids (tokens); subject keys are condition ids; event keys are asset ids
(see :mod:`.events` and docs/polymarket.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from ssmd.feed.base import Command, Event, Feed, Gap, Heartbeat, Reply, Route, Session
from ssmd.polymarket import protocol

if TYPE_CHECKING:
    import aiohttp

    from ssmd.config.capture import DiscoveryConfig
    from ssmd.feed.base import Credentials


class PolymarketSession(Session):
    """Whether this socket has had its one ``type`` message yet."""

    __slots__ = ("_typed",)

    def __init__(self) -> None:
        self._typed = False

    def subscribe(self, channel: str, markets: Sequence[str] | None) -> Command:
        assets = list(markets or ())
        if not self._typed:
            self._typed = True
            return Command(protocol.initial_subscribe(assets))
        return Command(protocol.operation("subscribe", assets))

    def unsubscribe(self, channel: str, handle: int | None, markets: Sequence[str] | None) -> Command | None:
        if not markets or not self._typed:
            return None
        return Command(protocol.operation("unsubscribe", list(markets)))

    def update(self, channel: str, handle: int | None, add: Sequence[str], remove: Sequence[str]) -> list[Command]:
        out = []
        if remove and self._typed:
            out.append(Command(protocol.operation("unsubscribe", list(remove))))
        if add:
            out.append(self.subscribe(channel, add))
        return out

    def reply(self, route: Route, raw: bytes) -> Reply | None:
        return None  # the market channel answers no command; its text words are kept as unparsed frames

    def gap(self, route: Route) -> Gap | None:
        return None  # no sequence numbers on this channel


class PolymarketFeed(Feed):
    name = "polymarket"
    ws_url = protocol.WS_URL
    heartbeat = Heartbeat(interval=protocol.PING_INTERVAL, text=protocol.PING, silent_after=protocol.SILENT_AFTER)
    default_channels = (protocol.CHANNEL,)
    market_channels = frozenset({protocol.CHANNEL})
    resnapshot_channels = frozenset({protocol.CHANNEL})
    max_markets_per_subscription = protocol.MAX_ASSETS_PER_CONNECTION
    max_markets_per_connection = protocol.MAX_ASSETS_PER_CONNECTION
    sim_command = ("sim", "polymarket")
    sim_ws_path = protocol.WS_PATH

    def rest_url_for(self, ws_url: str) -> str:
        """Gamma for the production host; for any other host (a simulator, a proxy) the same host over http(s),
        where ``ssmd sim polymarket`` serves ``GET /markets``."""
        parts = urlsplit(ws_url)
        if ws_url.rstrip("/") == protocol.WS_URL:
            return protocol.GAMMA_URL
        scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
        return urlunsplit((scheme, parts.netloc, "", "", ""))

    def session(self) -> Session:
        return PolymarketSession()

    def route(self, raw: bytes) -> Route:
        return protocol.route(raw)

    def type_token(self, frame_type: str) -> str:
        return protocol.type_token(frame_type)

    def inspect(self, raw: bytes) -> protocol.Info:
        """Type, key and exchange time in one decode, for the archive tools (``Feed.inspect`` where the seam
        has it; the default knows only the route)."""
        return protocol.inspect(raw)

    def default_discovery(self) -> DiscoveryConfig:
        """Every active, unclosed market on Gamma, re-read every 5 minutes (the discovery loop of
        polymarket-protocol.md §8.7: new tokens subscribed, closed ones unsubscribed)."""
        from ssmd.config.capture import DiscoveryConfig

        return DiscoveryConfig(status="open", refresh="5m", max_markets=100_000)

    async def discover(self, http: aiohttp.ClientSession, rest_url: str, credentials: Credentials | None,
                       query: DiscoveryConfig) -> list[str]:
        from ssmd.polymarket.discovery import discover_assets

        return await discover_assets(http, rest_url, query)

    def events(self, payload: bytes, exact: bool = False) -> list[Event]:
        from ssmd.polymarket.events import frame_events

        return frame_events(payload, exact)
