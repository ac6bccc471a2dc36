"""The coverage event: one JSON line a connector instance publishes whenever what it captures changes.

Why a frame of its own on the data subjects: the archiver's filter in the deployment guide is
``prod.kalshi.json.>``, so an event published on ``{env}.{feed}.json.ssmd_coverage.{instance}`` (the generic
``{prefix}.json.{type}.{key}`` rule, with the instance name as key) is archived with the data, in the same files,
with no configuration change. The payload starts with the marker ``{"ssmd_coverage":`` as its first key: no
exchange frame can start like that, so readers tell coverage lines from exchange frames with a byte-prefix test
(:func:`is_coverage`) and never parse a data frame to do so.

Schema (version 1), keys in this order, then the kind's own keys::

    {"ssmd_coverage": 1, "type": "ssmd_coverage", "feed": "kalshi", "instance": "conn-a", "run": "5f0c9e21ab34",
     "event": "subscribed", "ts_ms": 1770897600000, "conn": "0", ...}

- ``run`` is random per process, so two lives of one instance name (a restart) are told apart.
- ``conn`` names the connection (a shard); ``null`` for events about the whole instance.
- ``subscribed``/``unsubscribed``: ``channel``, ``markets`` (``"all"`` or a list of market keys).
  ``unsubscribed`` means *no longer wanted* (a market settled, the selection shrank); it is never a loss.
- ``dropped``: ``channel``, ``markets``, ``cause``: the exchange ended that subscription (Kalshi's terminal
  errors 10, 17 and 25); those markets are not captured on ``conn`` until its next ``subscribed``, a loss.
- ``disconnected``: ``cause``; every channel of ``conn`` (all connections if ``conn`` is null) stops.
- ``stalled``: ``cause``, ``since_ms`` (the last frame received, when known: the loss began there).
- ``seq_gap``/``resnapshot``: ``channel``, ``market``, ``cause``: that market's chain on this connection is
  broken from the gap until the re-snapshot.
- ``backfill``: ``channel``, ``start_ms``, ``end_ms``, ``count``: frames fetched again (REST) for that window.
- ``heartbeat``: ``every_ms`` and ``channels`` (``{conn: [channel, ...]}``): the instance is alive; an instance
  whose heartbeats stop (``kill -9``) is counted as capturing until its last heartbeat plus a grace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from ssmd import naming

VERSION = 1
TYPE = "ssmd_coverage"
"""The marker key, the ``type`` value and the subject's type token."""
MARKER = b'{"ssmd_coverage":'
ALL = "all"

Kind = Literal["subscribed", "unsubscribed", "dropped", "disconnected", "stalled", "seq_gap", "resnapshot",
               "backfill", "heartbeat"]
KINDS: frozenset[str] = frozenset(("subscribed", "unsubscribed", "dropped", "disconnected", "stalled", "seq_gap",
                                   "resnapshot", "backfill", "heartbeat"))
LOSSES: frozenset[str] = frozenset(("disconnected", "stalled"))
Markets = Literal["all"] | tuple[str, ...]


def is_coverage(raw: bytes) -> bool:
    """True for a coverage line: the merged view, exports and frame counts skip these with this one test."""
    return raw.startswith(MARKER)


def coverage_subject(env: str, feed: str, instance: str) -> str:
    """``{env}.{feed}.json.ssmd_coverage.{instance}``: under the guide's archiver filter ``{env}.{feed}.json.>``."""
    return naming.subject(naming.prefix(env, feed), TYPE, instance)


class BadEvent(ValueError):
    """A line with the coverage marker that is not a valid event (what is wrong is in the message)."""


@dataclass(frozen=True)
class CoverageEvent:
    """One decoded event. ``at_ms`` is when it took effect: ``since_ms`` for a stall, else ``ts_ms``."""

    feed: str
    instance: str
    run: str
    event: str
    ts_ms: int
    conn: str | None = None
    channel: str | None = None
    markets: Markets | None = None
    market: str | None = None
    cause: str | None = None
    since_ms: int | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    count: int | None = None
    every_ms: int | None = None
    channels: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def at_ms(self) -> int:
        return self.since_ms if self.event == "stalled" and self.since_ms is not None else self.ts_ms

    def to_json(self) -> dict[str, Any]:
        """The payload's object, marker first (see the module docstring), optional keys only when set."""
        out: dict[str, Any] = {TYPE: VERSION, "type": TYPE, "feed": self.feed, "instance": self.instance,
                               "run": self.run, "event": self.event, "ts_ms": self.ts_ms, "conn": self.conn}
        for key in ("channel", "market", "cause", "since_ms", "start_ms", "end_ms", "count", "every_ms"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.markets is not None:
            out["markets"] = self.markets if self.markets == ALL else list(self.markets)
        if self.event == "heartbeat":
            out["channels"] = {conn: list(chs) for conn, chs in self.channels.items()}
        return out

    def encode(self) -> bytes:
        return orjson.dumps(self.to_json())


_REQUIRED: dict[str, tuple[str, ...]] = {
    "subscribed": ("channel", "markets"), "unsubscribed": ("channel", "markets"),
    "dropped": ("channel", "markets"), "disconnected": (),
    "stalled": (), "seq_gap": ("channel", "market"), "resnapshot": ("channel", "market"),
    "backfill": ("channel", "start_ms", "end_ms", "count"), "heartbeat": (),
}


def decode(raw: bytes) -> CoverageEvent:
    """The event of a coverage line; :class:`BadEvent` says which field is wrong."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadEvent(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadEvent("not a JSON object")
    version = data.get(TYPE)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadEvent(f"{TYPE}: expected a schema version >= 1, got {version!r}")
    kind = data.get("event")
    if kind not in KINDS:
        raise BadEvent(f"event: expected one of {', '.join(sorted(KINDS))}, got {kind!r}")
    for key in ("feed", "instance", "run"):
        _text(data, key)
    _int(data, "ts_ms")
    for key in _REQUIRED[kind]:
        if data.get(key) is None:
            raise BadEvent(f"{key}: required for a {kind} event")
    markets = data.get("markets")
    if markets is not None and markets != ALL and not (
            isinstance(markets, list) and all(isinstance(m, str) for m in markets)):
        raise BadEvent(f"markets: expected \"all\" or a list of strings, got {markets!r}")
    channels = data.get("channels") or {}
    if not isinstance(channels, dict) or not all(isinstance(v, list) for v in channels.values()):
        raise BadEvent("channels: expected an object of lists")
    conn = data.get("conn")
    return CoverageEvent(
        feed=data["feed"], instance=data["instance"], run=data["run"], event=kind, ts_ms=data["ts_ms"],
        conn=None if conn is None else str(conn),
        channel=_text(data, "channel", optional=True), market=_text(data, "market", optional=True),
        markets=None if markets is None else "all" if markets == ALL else tuple(markets),
        cause=_text(data, "cause", optional=True),
        since_ms=_int(data, "since_ms", optional=True), start_ms=_int(data, "start_ms", optional=True),
        end_ms=_int(data, "end_ms", optional=True), count=_int(data, "count", optional=True),
        every_ms=_int(data, "every_ms", optional=True),
        channels=channels,  # liveness detail, read by nobody yet: not converted (heartbeats are the bulk)
    )


def _text(data: dict[str, Any], key: str, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise BadEvent(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _int(data: dict[str, Any], key: str, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadEvent(f"{key}: expected an integer (epoch ms or a count), got {value!r}")
    return value
