"""The market channel's wire protocol: URLs, the subscribe commands, the text heartbeat and frame routing.

Framing (``../shared/polymarket-protocol.md`` §2): a text frame is one JSON object, a JSON array of objects
(the subscribe dump, bursts; an array may mix event types and markets), or a bare text word (``PONG``,
``NO NEW ASSETS``, ``INVALID OPERATION``). There are no sequence numbers. :func:`route` decodes only
``event_type`` and ``market`` (msgspec skips the rest unbuilt) and never raises:

- an object: type token = its ``event_type`` (sanitised), key = its ``market`` (the condition id), lowercased;
- an array: ONE message per frame (the raw bytes are never split), routed by its FIRST element: arrays mix
  markets, and splitting would make the archive differ from what was received;
- the expected text words (``PONG``, ``NO NEW ASSETS``): :data:`~ssmd.feed.base.KEPT`, published raw to
  ``{env}.polymarket.json.unparsed._`` without a warning per frame, and not data, so that a socket that only
  answers ``PING`` still looks silent;
- anything else (``INVALID OPERATION``, JSON without ``event_type``, an empty array, junk):
  :data:`~ssmd.feed.base.UNPARSED`, published raw to the same subject, counted and warned about.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import orjson

from ssmd.bus.subjects import sanitize_token
from ssmd.feed.base import KEPT, UNPARSED, Kind, Route

WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
WS_PATH = "/ws/market"
GAMMA_URL = "https://gamma-api.polymarket.com"
CHANNEL = "market"
"""The one channel this feed captures (subscriptions are by asset id, i.e. outcome token)."""

PING = "PING"
PONG = b"PONG"
INVALID_OPERATION = b"INVALID OPERATION"
NO_NEW_ASSETS = b"NO NEW ASSETS"
KEPT_WORDS = frozenset({PONG, NO_NEW_ASSETS})
"""Text words that are part of a healthy session (kept, not warned about)."""
PING_INTERVAL = 10.0
"""Seconds between text ``PING`` frames (the docs' value; the official examples' 50 s gets sockets closed)."""
SILENT_AFTER = 60.0
"""No data on a subscribed socket for this long (while ``PONG`` still comes back): a silent socket, reconnect."""
MAX_ASSETS_PER_CONNECTION = 200
"""NautilusTrader's shard size; ~500 is an observed hard ceiling beyond which a socket silently gets nothing."""


def initial_subscribe(assets: Sequence[str], custom_features: bool = True) -> bytes:
    """The first frame on a socket. Sent once: a second ``type`` message is answered ``INVALID OPERATION``.

    ``initial_dump`` is always explicit: at thousands of assets some subscriptions got no ``book`` without it."""
    return orjson.dumps({"assets_ids": list(assets), "type": CHANNEL, "initial_dump": True,
                         "custom_feature_enabled": custom_features})


def operation(op: str, assets: Sequence[str], custom_features: bool = True) -> bytes:
    """A later change on an open socket (``subscribe``/``unsubscribe``). A subscribe of an asset that is
    already subscribed re-sends its ``book``: that is how a book is re-snapshotted (there are no seqs)."""
    if op not in ("subscribe", "unsubscribe"):
        raise ValueError(f"operation must be subscribe or unsubscribe, got {op!r}")
    body: dict[str, object] = {"operation": op, "assets_ids": list(assets)}
    if op == "subscribe":
        body["initial_dump"] = True
        body["custom_feature_enabled"] = custom_features
    return orjson.dumps(body)


# -- routing (the hot path) --------------------------------------------------------------------------------------


class _Head(msgspec.Struct, gc=False):
    event_type: str | None = None
    market: str | None = None


_decoder = msgspec.json.Decoder(_Head | list[_Head])
_tokens: dict[str, str] = {}


def type_token(event_type: str) -> str:
    """``event_type`` as a subject token (Polymarket's types are already safe words; odd ones are sanitised)."""
    token = _tokens.get(event_type)
    if token is None:
        token = sanitize_token(event_type)
        if len(_tokens) < 10_000:  # unknown types are few; junk never grows the table unbounded
            _tokens[event_type] = token
    return token


def route(raw: bytes) -> Route:
    """Classify one frame on ``event_type`` and ``market`` (of the first element of an array)."""
    head: _Head | list[_Head] | None
    try:
        head = _decoder.decode(raw)
    except msgspec.ValidationError:
        head = _tolerant(raw)
    except msgspec.DecodeError:
        return KEPT if raw in KEPT_WORDS else UNPARSED
    if isinstance(head, list):
        if not head:
            return UNPARSED
        head = head[0]
    if head is None or not head.event_type:
        return UNPARSED
    market = head.market
    return Route(Kind.DATA, type_token(head.event_type), market.lower() if market else None)


class Info(msgspec.Struct, gc=False):
    """The archive tools' view of one frame (``Feed.inspect``): wire type, market key and exchange time, from
    the object or an array's first element, in one decode. No ``sid``/``seq`` and no event id on this channel."""

    event_type: str | None = None
    market: str | None = None
    timestamp: str | None = None
    sid: None = None
    seq: None = None
    dedup_key: None = None

    @property
    def type(self) -> str | None:
        return self.event_type or None

    @property
    def key(self) -> str | None:
        return self.market.lower() if self.market else None

    def ts_ms(self) -> int | None:
        stamp = self.timestamp
        return int(stamp) if stamp and stamp.isdigit() else None


_UNREAD = Info()
_info_decoder = msgspec.json.Decoder(Info | list[Info])


def inspect(raw: bytes) -> Info:
    """Never raises: a frame without ``event_type`` (the text words, junk) has type ``None``."""
    try:
        info = _info_decoder.decode(raw)
    except msgspec.MsgspecError:
        head = _tolerant(raw)
        return Info(head.event_type, head.market) if head is not None else _UNREAD
    if isinstance(info, list):
        return info[0] if info else _UNREAD
    return info


def _tolerant(raw: bytes) -> _Head | None:
    """Slow path for valid JSON of unexpected shape (``"market": 5``, an array of non-objects)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, list):
        data = data[0] if data else None
    if not isinstance(data, dict):
        return None
    etype, market = data.get("event_type"), data.get("market")
    return _Head(etype if isinstance(etype, str) else None, market if isinstance(market, str) else None)
