"""Kalshi behind the feed seam (PLACEHOLDER in branch w-down: the seam's KalshiFeed replaces this file; only
``route``, ``events`` and ``inspect`` are used downstream)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ssmd.feed.base import Event, Feed, Heartbeat, Kind, Route, Session
from ssmd.kalshi.frames import CONTROL_TYPES, Head, classify, inspect

if TYPE_CHECKING:
    import aiohttp


class KalshiFeed(Feed):
    name = "kalshi"
    ws_url = "wss://api.elections.kalshi.com/trade-api/ws/v2"
    rest_url = "https://api.elections.kalshi.com/trade-api/v2"
    heartbeat = Heartbeat(10.0)
    max_markets_per_connection = 1000
    default_channels = ("ticker", "trade", "market_lifecycle_v2")

    def handshake_headers(self, environ: Mapping[str, str], url: str) -> dict[str, str]:
        raise NotImplementedError

    def session(self) -> Session:
        raise NotImplementedError

    async def discover(self, http: aiohttp.ClientSession, rest_url: str, query: Mapping[str, object]) -> list[str]:
        raise NotImplementedError

    def route(self, raw: bytes) -> Route:
        frame = classify(raw)
        if not frame.type:
            return Route(Kind.UNPARSED)
        kind = Kind.CONTROL if frame.type in CONTROL_TYPES else Kind.DATA
        return Route(kind, frame.type, frame.ticker, frame.sid, frame.seq)

    def inspect(self, raw: bytes) -> Head:
        return inspect(raw)

    def value(self, raw: bytes) -> object | None:
        from ssmd.kalshi.values import parse_frame

        return parse_frame(raw)

    def events(self, payload: bytes, exact: bool = False) -> list[Event]:
        from ssmd.kalshi.events import frame_events

        return frame_events(payload, exact)
