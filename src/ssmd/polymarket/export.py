"""Polymarket's typed export (:class:`ssmd.feed.tables.ExportTables`): ``book``, ``price_change`` and
``last_trade_price`` tables, and the book changes ``book_top`` is built from.

The bulk reader hands this feed each frame's raw text (:attr:`PolymarketTables.raw_frames`): a Polymarket frame
is an object OR an array of objects (the subscribe dump, bursts), which a fixed column layout cannot hold. Every
element of an array becomes rows of its own type. Numbers are the wire's decimal strings converted exactly
(no float on the way): ``""`` or a missing value is null; a value that is not a decimal, or has more digits than
its column holds, is null and its wire name is listed in ``bad_fields``.

Rows are keyed by ``asset_id`` (the outcome token; :mod:`.events` explains why a book is per token) with the
condition id in ``market``; ``book_top``'s key is the asset id. ``price_change`` carries a level's NEW size (no
deltas on this channel): the book events say so with :data:`~ssmd.feed.tables.LEVEL`. Field names come from
:data:`ssmd.polymarket.events.FIELDS`, the one place the analysis side names them (all three ``price_change``
schemas: entries with their own ``asset_id``, 2024-10's ``changes`` under a top-level ``asset_id``, and the
older one level per message).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import pyarrow as pa

from ssmd.feed.tables import LEVEL, SNAPSHOT, BookEvents, Converted, Level
from ssmd.polymarket.events import FIELDS, SIDES

PRICE = pa.decimal128(12, 6)
"""Prices are probabilities in [0, 1] with tick sizes down to 0.0001: six places hold every one exactly."""
SIZE = pa.decimal128(24, 6)
"""Sizes are shares with the collateral's six decimals."""
TS = pa.timestamp("ms", tz="UTC")
STR = pa.string()

_TAIL = [("nats_seq", pa.int64()), ("bad_fields", STR)]
SCHEMAS: dict[str, pa.Schema] = {
    "book": pa.schema([("ts", TS), ("market", STR), ("asset_id", STR), ("side", STR), ("price", PRICE),
                       ("size", SIZE), ("hash", STR), *_TAIL]),
    "price_change": pa.schema([("ts", TS), ("market", STR), ("asset_id", STR), ("side", STR), ("price", PRICE),
                               ("size", SIZE), ("best_bid", PRICE), ("best_ask", PRICE), ("hash", STR), *_TAIL]),
    "last_trade_price": pa.schema([("ts", TS), ("market", STR), ("asset_id", STR), ("side", STR),
                                   ("price", PRICE), ("size", SIZE), ("fee_rate_bps", STR),
                                   ("transaction_hash", STR), *_TAIL]),
}
"""One table per exported event type, named as the type (``--types book`` selects the ``book`` table)."""
BOOK_TYPES = frozenset({"book", "price_change"})


class _Rows:
    """The rows of one table for one batch, column by column, with the wire names that could not be read."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.cols: dict[str, list[Any]] = {name: [] for name in (*schema.names, "_frame")}
        tail = {"_frame", *(name for name, _ in _TAIL)}
        self._values = [(name, column) for name, column in self.cols.items() if name not in tail]
        self._frames, self._nats, self._bad = self.cols["_frame"], self.cols["nats_seq"], self.cols["bad_fields"]

    def add(self, frame: int, nats: int | None, bad: list[str], **values: Any) -> None:
        self._frames.append(frame)
        self._nats.append(nats)
        self._bad.append(",".join(bad))
        for name, column in self._values:
            column.append(values.get(name))

    def table(self) -> pa.Table:
        arrays = [pa.array(self.cols[f.name], f.type) for f in self.schema]
        return pa.Table.from_arrays([*arrays, pa.array(self.cols["_frame"], pa.int64())],
                                    names=[*self.schema.names, "_frame"])


def _decimal(raw: object, typ: pa.Decimal128Type, wire: str, bad: list[str]) -> Decimal | None:
    """A decimal string (or JSON number) exactly; ``""``/missing: null; unreadable or too precise: null + bad."""
    if raw is None or raw == "":
        return None
    if type(raw) is str:  # the wire's usual "0.55": plain digits that fit the column are exact as they are
        whole, _, places = raw.partition(".")
        if (whole.isdecimal() and len(whole) <= typ.precision - typ.scale and len(places) <= typ.scale
                and (not places or places.isdecimal())):
            return Decimal(raw)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        bad.append(wire)
        return None
    try:
        value = Decimal(raw.strip() if isinstance(raw, str) else repr(raw))
    except InvalidOperation:
        bad.append(wire)
        return None
    # Finite and within the column first: quantizing a huge value would raise.
    if not value.is_finite() or abs(value) >= Decimal(10) ** (typ.precision - typ.scale):
        bad.append(wire)
        return None
    exact = value.quantize(Decimal(1).scaleb(-typ.scale))
    if exact != value:  # more places than the column holds: never rounded
        bad.append(wire)
        return None
    return exact


def _ms(raw: object, wire: str, bad: list[str]) -> int | None:
    if raw is None or raw == "":
        return None
    text = raw if isinstance(raw, str) else repr(raw) if isinstance(raw, int) and not isinstance(raw, bool) else ""
    if not text.isdigit():
        bad.append(wire)
        return None
    return int(text)


def _text(raw: object) -> str | None:
    return raw if isinstance(raw, str) and raw else None


def _get(obj: Mapping[str, Any], names: tuple[str, ...]) -> tuple[Any, str]:
    """The value and the wire name it came from (the newest name when none is present)."""
    for name in names:
        if name in obj:
            return obj[name], name
    return None, names[0]


def _unscaled(value: Decimal | None, typ: pa.Decimal128Type) -> int | None:
    return None if value is None else int(value.scaleb(typ.scale))


class PolymarketTables:
    schemas: Mapping[str, pa.Schema] = SCHEMAS
    market_column = "asset_id"
    price_type: pa.Decimal128Type = PRICE
    size_type: pa.Decimal128Type = SIZE
    book_types = BOOK_TYPES
    raw_frames = True
    msg_fields: tuple[str, ...] = ()
    json_fields: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self._parsed: tuple[pa.RecordBatch, list[list[dict[str, Any]]]] | None = None

    def tables_for(self, types: Collection[str]) -> frozenset[str]:
        return frozenset(t for t in types if t in SCHEMAS)

    def _elements(self, batch: pa.RecordBatch) -> list[list[dict[str, Any]]]:
        """Each frame's objects (an object: one; an array: its objects; anything else: none), parsed once per
        batch (the export asks for types, keys and times before it converts)."""
        cached = self._parsed
        if cached is not None and cached[0] is batch:
            return cached[1]
        out: list[list[dict[str, Any]]] = []
        for raw in batch.column("raw").to_pylist():
            try:
                data = orjson.loads(raw) if raw is not None else None
            except orjson.JSONDecodeError:
                data = None
            items = data if isinstance(data, list) else [data]
            out.append([item for item in items if isinstance(item, dict)])
        self._parsed = (batch, out)
        return out

    def _head(self, batch: pa.RecordBatch, name: str) -> list[Any]:
        return [objs[0].get(name) if objs else None for objs in self._elements(batch)]

    def frame_types(self, batch: pa.RecordBatch) -> pa.Array:
        return pa.array([v if isinstance(v, str) and v else None for v in self._head(batch, "event_type")], STR)

    def routing_key(self, batch: pa.RecordBatch) -> pa.Array:
        """The condition id, lowercased, as the frame's subject has it (what ``--tickers`` matches)."""
        return pa.array([v.lower() if isinstance(v, str) and v else None for v in self._head(batch, "market")],
                        STR)

    def frame_time_ms(self, batch: pa.RecordBatch) -> pa.Array:
        return pa.array([int(v) if isinstance(v, str) and v.isdigit() else None
                         for v in self._head(batch, "timestamp")], pa.int64())

    def convert(self, batch: pa.RecordBatch, nats_seq: pa.Array | None,
                tables: frozenset[str] | None = None) -> Converted:
        wanted = frozenset(SCHEMAS) if tables is None else tables
        rows = {name: _Rows(SCHEMAS[name]) for name in SCHEMAS if name in wanted}
        nats = nats_seq.to_pylist() if nats_seq is not None else [None] * batch.num_rows
        book = BookEvents()
        exported: list[bool] = []
        for frame, objs in enumerate(self._elements(batch)):
            done = False
            for obj in objs:
                etype = obj.get("event_type")
                target = rows.get(etype) if isinstance(etype, str) else None
                if target is None:
                    continue
                done = True
                if etype == "book":
                    _book(obj, frame, nats[frame], target, book)
                elif etype == "price_change":
                    _price_change(obj, frame, nats[frame], target, book)
                else:
                    _trade(obj, frame, nats[frame], target)
            exported.append(done)
        return Converted({name: r.table() for name, r in rows.items()}, book, pa.array(exported, pa.bool_()))


def _common(obj: Mapping[str, Any], fields: dict[str, tuple[str, ...]],
            bad: list[str]) -> tuple[int | None, str | None]:
    ts_raw, ts_wire = _get(obj, fields["ts"])
    market = _text(obj.get("market"))
    return _ms(ts_raw, ts_wire, bad), market.lower() if market else None


def _book(obj: Mapping[str, Any], frame: int, nats: int | None, rows: _Rows, book: BookEvents) -> None:
    fields = FIELDS["book"]
    head_bad: list[str] = []
    ts, market = _common(obj, fields, head_bad)
    asset = _text(_get(obj, fields["asset"])[0])
    readable = asset is not None
    sides: dict[str, list[Level]] = {"bid": [], "ask": []}
    for side, key in (("bid", "bids"), ("ask", "asks")):
        raw, wire = _get(obj, fields[key])
        if raw is None:
            continue
        if not isinstance(raw, list):
            head_bad.append(wire)
            readable = False
            continue
        for level in raw:
            bad = list(head_bad)
            if not isinstance(level, dict):
                bad.append(wire)
                readable = False
                level = {}
            price = _decimal(level.get("price"), PRICE, f"{wire}.price", bad)
            size = _decimal(level.get("size"), SIZE, f"{wire}.size", bad)
            if price is None or size is None:
                readable = False
            else:
                sides[side].append((_unscaled(price, PRICE) or 0, _unscaled(size, SIZE) or 0))
            rows.add(frame, nats, bad, ts=ts, market=market, asset_id=asset, side=side, price=price, size=size,
                     hash=_text(obj.get("hash")))
    for levels in sides.values():
        levels.sort()
    book.rows.append((frame, SNAPSHOT, asset, None, None, ts, (sides["bid"], sides["ask"]) if readable else None,
                      nats))


def _price_change(obj: Mapping[str, Any], frame: int, nats: int | None, rows: _Rows, book: BookEvents) -> None:
    fields = FIELDS["price_change"]
    head_bad: list[str] = []
    ts, market = _common(obj, fields, head_bad)
    entries, wire = _get(obj, fields["entries"])
    if entries is None:  # before ~2024-10: one level per message, its fields at the top
        listed: list[object] = [obj]
    elif isinstance(entries, list):
        listed = entries
    else:
        head_bad.append(wire)
        listed = [{}]
    for entry in listed:
        bad = list(head_bad)
        if not isinstance(entry, dict):
            bad.append(wire)
            entry = {}
        asset = _text(_get(entry if "asset_id" in entry else obj, fields["asset"])[0])
        side_raw = _text(_get(entry, fields["side"])[0])
        side = SIDES.get(side_raw.upper()) if side_raw else None
        if side_raw is not None and side is None:
            bad.append("side")
        price = _decimal(_get(entry, fields["price"])[0], PRICE, "price", bad)
        size = _decimal(_get(entry, fields["size"])[0], SIZE, "size", bad)
        rows.add(frame, nats, bad, ts=ts, market=market, asset_id=asset, side=side, price=price, size=size,
                 best_bid=_decimal(entry.get("best_bid"), PRICE, "best_bid", bad),
                 best_ask=_decimal(entry.get("best_ask"), PRICE, "best_ask", bad),
                 hash=_text(entry.get("hash")) or _text(obj.get("hash")))
        change = None if side is None or price is None or size is None else (
            side == "bid", _unscaled(price, PRICE), _unscaled(size, SIZE))
        if asset is not None:
            book.rows.append((frame, LEVEL, asset, None, None, ts, change, nats))


def _trade(obj: Mapping[str, Any], frame: int, nats: int | None, rows: _Rows) -> None:
    fields = FIELDS["last_trade_price"]
    bad: list[str] = []
    ts, market = _common(obj, fields, bad)
    side = _text(_get(obj, fields["side"])[0])
    fee = obj.get("fee_rate_bps")
    rows.add(frame, nats, bad, ts=ts, market=market, asset_id=_text(_get(obj, fields["asset"])[0]),
             side=side.lower() if side else None, price=_decimal(_get(obj, fields["price"])[0], PRICE, "price", bad),
             size=_decimal(_get(obj, fields["size"])[0], SIZE, "size", bad),
             fee_rate_bps=fee if isinstance(fee, str) and fee else None,
             transaction_hash=_text(_get(obj, fields["id"])[0]))


TABLES = PolymarketTables()
