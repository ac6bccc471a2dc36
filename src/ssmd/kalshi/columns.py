"""Kalshi frames to typed Arrow tables, a whole batch at a time: the column-oriented twin of ``values``.

Input: one Arrow batch of frames as a bulk JSON reader decodes them, every wire field as its JSON text (see
:data:`MSG_FIELDS`): columns ``type``, ``sid``, ``seq``, ``sending_ts_ms`` and ``msg`` (a struct). Output: one
table per message type (:data:`SCHEMAS`), each value read with exactly the rules of :mod:`ssmd.kalshi.values`
(newest wire name first, ``""`` is null, unreadable -> null + its wire name in ``bad_fields``, a value with more
digits than its column -> null + the column's name), and the order-book changes the snapshots and deltas carry,
on the YES price scale, for a top-of-book builder.

All Kalshi wire knowledge of the bulk export lives here: the archive layer asks for :data:`MSG_FIELDS`, hands
batches to :func:`convert` and writes what comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ssmd.feed.tables import DELTA, SEQ_ONLY, SNAPSHOT, BookEvents, Converted, Level
from ssmd.kalshi import _vector as vec
from ssmd.kalshi import values as v
from ssmd.kalshi._vector import PRICE, QTY, Converter
from ssmd.kalshi._vector import Converted as Values

TS = pa.timestamp("ms", tz="UTC")
SECONDS = pa.timestamp("s", tz="UTC")
STR = pa.string()

_COMMON_TAIL = [("sid", pa.int64()), ("seq", pa.int64()), ("nats_seq", pa.int64()), ("bad_fields", pa.string())]

SCHEMAS: dict[str, pa.Schema] = {
    "trades": pa.schema([
        ("ts", TS), ("trade_id", STR), ("market_ticker", STR), ("yes_price", PRICE),
        ("no_price", PRICE), ("count", QTY), ("taker_side", STR), ("is_block_trade", pa.bool_()),
        *_COMMON_TAIL]),
    "tickers": pa.schema([
        ("ts", TS), ("market_ticker", STR), ("market_id", STR), ("price", PRICE),
        ("yes_bid", PRICE), ("yes_ask", PRICE), ("yes_bid_size", QTY), ("yes_ask_size", QTY),
        ("last_trade_size", QTY), ("volume", QTY), ("open_interest", QTY), ("dollar_volume", QTY),
        ("dollar_open_interest", QTY), *_COMMON_TAIL]),
    "orderbook_snapshots": pa.schema([
        ("ts", TS), ("market_ticker", STR), ("side", STR), ("price", PRICE), ("quantity", QTY),
        *_COMMON_TAIL]),
    "orderbook_deltas": pa.schema([
        ("ts", TS), ("market_ticker", STR), ("side", STR), ("price", PRICE), ("delta", QTY),
        *_COMMON_TAIL]),
    "market_lifecycle": pa.schema([
        ("ts", TS), ("market_ticker", STR), ("event_type", STR), ("open_ts", SECONDS),
        ("close_ts", SECONDS), ("determination_ts", SECONDS), ("settled_ts", SECONDS), ("result", STR),
        ("settlement_value", PRICE), *_COMMON_TAIL]),
    "event_lifecycle": pa.schema([
        ("ts", TS), ("event_ticker", STR), ("series_ticker", STR), ("title", STR),
        ("subtitle", STR), *_COMMON_TAIL]),
}

TABLE_OF_TYPE = {
    "trade": "trades", "ticker": "tickers", "ticker_v2": "tickers", "orderbook_snapshot": "orderbook_snapshots",
    "orderbook_delta": "orderbook_deltas", "market_lifecycle_v2": "market_lifecycle",
    "event_lifecycle": "event_lifecycle",
}
"""Frame ``type`` -> table (the types ``values.parse_value`` understands)."""

BOOK_TYPES = frozenset({"orderbook_snapshot", "orderbook_delta"})
SEQ_CONTROL = frozenset({"ok", "unsubscribed"})
"""Replies that may consume a seq of their sid (``ssmd.kalshi.book`` advances on them only when next in line)."""

_SNAPSHOT_SIDES = {side: tuple(wire for wire, _ in v.FIELDS["orderbook_snapshot"][side]) for side in ("yes", "no")}
_HEAD_TS = ("determination_ts", "settled_ts", "open_ts", "close_ts", "created_ts")
_SNAPSHOT_FIELDS = {"market_ticker", "ts_ms", "time", "ts", *(n for names in _SNAPSHOT_SIDES.values() for n in names)}

JSON_FIELDS = frozenset({"settlement_value", "settlement_value_dollars", "is_block_trade"})
"""Fields whose JSON type matters (a string vs a number, a boolean): read as raw JSON rather than text."""

MSG_FIELDS: tuple[str, ...] = (
    "market_ticker", "event_ticker", "series_ticker", "market_id", "trade_id",
    "price_dollars", "price", "yes_bid_dollars", "yes_bid", "yes_ask_dollars", "yes_ask",
    "yes_bid_size_fp", "yes_bid_size", "yes_ask_size_fp", "yes_ask_size", "last_trade_size_fp", "last_trade_size",
    "volume_fp", "volume", "open_interest_fp", "open_interest", "dollar_volume", "dollar_open_interest",
    "yes_price_dollars", "yes_price", "no_price_dollars", "no_price", "count_fp", "count",
    "taker_outcome_side", "taker_side", "taker_book_side", "side", "is_block_trade",
    "delta_fp", "delta", *(name for names in _SNAPSHOT_SIDES.values() for name in names),
    "event_type", "result", "settlement_value_dollars", "settlement_value",
    "title", "subtitle", "sub_title", "ts_ms", "time", "ts", *_HEAD_TS,
)
"""Every ``msg`` field the tables read: the bulk reader extracts these (as text; :data:`JSON_FIELDS` as JSON)."""
FRAME_FIELDS = ("type", "sid", "seq", "sending_ts_ms")

_dollars, _cents, _qty = vec.decimal(PRICE), vec.cents(PRICE), vec.decimal(QTY)


@dataclass(frozen=True)
class Col:
    """One output column: its wire names, newest first, each with its converter (``values._Reader.first``)."""

    name: str
    candidates: tuple[tuple[str, Converter], ...]
    required: bool = False
    """``values._Reader.required_text``: an empty or missing value is ``""`` and named in ``bad_fields``."""


_VECTOR: dict[str, Converter] = {
    v.DOLLARS: _dollars, v.CENTS: _cents, v.COUNT: _qty, v.TEXT: vec.text, v.SIDE: vec.side,
    v.BOOK_SIDE: vec.book_side, v.FLAG: vec.flag, v.EPOCH_MS: vec.epoch_ms, v.SECONDS_MS: vec.seconds_ms,
    v.SECONDS: vec.seconds, v.SETTLEMENT: vec.settlement(PRICE),
}
"""``values`` unit -> its column converter. A wire name in :data:`JSON_FIELDS` arrives as JSON text, so a dollar
amount there is read by ``vec.settlement`` (as the export always did)."""

_KEYS = {  # table -> (frame type, its required key, where values.parse_* reads it: the order of bad_fields)
    "trades": ("trade", "market_ticker", 1),
    "tickers": ("ticker", "market_ticker", 0),
    "orderbook_deltas": ("orderbook_delta", "market_ticker", 0),
    "market_lifecycle": ("market_lifecycle_v2", "market_ticker", 5),
    "event_lifecycle": ("event_lifecycle", "event_ticker", 0),
}


def _converter(wire: str, unit: str) -> Converter:
    if wire in JSON_FIELDS and unit in (v.DOLLARS, v.SETTLEMENT):
        return _VECTOR[v.SETTLEMENT]
    return _VECTOR[unit]


def _table(frame_type: str, key: str, key_at: int) -> tuple[Col, ...]:
    """One table's columns, from :data:`ssmd.kalshi.values.FIELDS` (the one field table), in values' read order."""
    cols = [Col("ts" if name == "ts_ms" else name, tuple((wire, _converter(wire, unit)) for wire, unit in cands))
            for name, cands in v.FIELDS[frame_type].items()]
    cols.insert(key_at, Col(key, ((key, vec.text),), required=True))
    return tuple(cols)


_TABLES: dict[str, tuple[Col, ...]] = {table: _table(*spec) for table, spec in _KEYS.items()}
_SNAPSHOT_TS = tuple((wire, _converter(wire, unit)) for wire, unit in v.FIELDS["orderbook_snapshot"]["ts_ms"])


# --- book changes (on the YES price scale) ------------------------------------------------------------------

ONE_DOLLAR = 10**PRICE.scale
"""One dollar in price ticks (the unscaled integers of :data:`PRICE`)."""

# --- conversion -----------------------------------------------------------------------------------------------


class _Bad:
    """Rows' unreadable wire names (in read order) and unfit column names, joined at the end."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.wire: list[tuple[pa.Array, str]] = []
        self.unfit: list[tuple[pa.Array, str]] = []

    def column(self) -> pa.Array:
        marks = self.wire + self.unfit
        if not marks:
            return pa.repeat(pa.scalar("", STR), self.n)
        names: list[list[str]] = [[] for _ in range(self.n)]
        for mask, name in marks:
            for row in pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist():
                names[row].append(name)
        return pa.array([",".join(n) for n in names], STR)


def _first(n: int, typ: pa.DataType, msg: _Fields, candidates: Sequence[tuple[str, Converter]],
           bad: _Bad, column: str) -> pa.Array:
    """``values._Reader.first`` over whole columns: the first present, readable candidate per row. An older wire
    name is not even taken from the batch once the newer ones decided every row."""
    result: pa.Array | None = None
    taken: pa.Array | None = None  # rows already decided (a present, readable candidate; its value may be null)
    for name, convert in candidates:
        src = _field(msg, name)
        if src is None:
            continue
        out: Values = convert(src)
        present = pc.is_valid(src) if src.null_count else None
        ok = present
        if out.unreadable is not None:
            unreadable = out.unreadable if taken is None else pc.and_(out.unreadable, pc.invert(taken))
            bad.wire.append((unreadable, name))
            readable = pc.invert(out.unreadable)
            ok = readable if ok is None else pc.and_(ok, readable)
        take = ok if taken is None else (pc.invert(taken) if ok is None else pc.and_(ok, pc.invert(taken)))
        if out.unfit is not None:
            bad.unfit.append((out.unfit if take is None else pc.and_(out.unfit, take), column))
        values = out.values if out.values.type == typ else pc.cast(out.values, typ)
        result = values if result is None or take is None else pc.if_else(take, values, result)
        if ok is None:
            taken = None
            break  # every row decided
        taken = ok if taken is None else pc.or_(taken, ok)
        if taken.null_count == 0 and pc.all(taken).as_py():
            break
    return result if result is not None else pa.nulls(n, typ)


def _int_column(src: pa.Array) -> pa.Array:
    """``sid``/``seq`` as ``ssmd.kalshi.frames.inspect`` reads them: an integer or a digit string, else null."""
    try:
        return pc.cast(src, pa.int64())
    except pa.ArrowInvalid:
        clean = pc.match_substring_regex(src, r"^-?[0-9]{1,18}$")
        return pc.cast(pc.if_else(clean, src, pa.scalar(None, STR)), pa.int64())


def frame_columns(batch: pa.RecordBatch | pa.Table) -> tuple[pa.Array, pa.StructArray]:
    """``(type, msg)`` of a batch, as plain arrays."""
    return _array(batch.column("type")), _array(batch.column("msg"))


def _array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def routing_ticker(batch: pa.RecordBatch | pa.Table) -> pa.Array:
    """The raw ticker the archive tools filter on: ``market_ticker``, else ``event_ticker``, else ``series_ticker``
    (the first non-empty)."""
    msg = _array(batch.column("msg"))
    out: pa.Array | None = None
    for name in ("market_ticker", "event_ticker", "series_ticker"):
        col = msg.field(name)
        col = pc.if_else(pc.equal(col, ""), pa.scalar(None, STR), col)
        out = col if out is None else pc.coalesce(out, col)
    assert out is not None
    return out


def frame_time_ms(batch: pa.RecordBatch | pa.Table) -> pa.Array:
    """``ssmd.kalshi.frames.frame_time_ms`` per frame: ``msg.ts_ms``, ``ts``, ``time``, lifecycle times, else
    ``sending_ts_ms``; null when the frame carries none (unreadable values are skipped, as there)."""
    msg = _array(batch.column("msg"))
    parts = [vec.epoch_ms(msg.field("ts_ms")).values]
    parts += [vec.seconds_ms(msg.field(name)).values for name in ("ts", "time", *_HEAD_TS)]
    parts.append(vec.epoch_ms(_array(batch.column("sending_ts_ms"))).values)
    return pc.coalesce(*parts)


def convert(batch: pa.RecordBatch | pa.Table, nats_seq: pa.Array | None = None,
            tables: frozenset[str] | None = None) -> Converted:
    """Every exportable frame of ``batch`` as typed rows (see the module doc). ``tables`` limits the work to some
    tables (``None``: all)."""
    types, msg = frame_columns(batch)
    n = len(types)
    sid_all = _int_column(_array(batch.column("sid")))
    seq_all = _int_column(_array(batch.column("seq")))
    nats_all = nats_seq if nats_seq is not None else pa.nulls(n, pa.int64())
    has_msg = pc.is_valid(msg)
    out: dict[str, pa.Table] = {}
    exported = pa.repeat(pa.scalar(False), n)
    book = BookEvents()
    present = set(pc.unique(types).drop_null().to_pylist())
    for table, kinds in _kinds_by_table(present).items():
        if tables is not None and table not in tables:
            continue
        mask = pc.and_(pc.and_(pc.is_in(types, pa.array(kinds, STR)), has_msg), _has_fields(msg, table))
        idx = pc.indices_nonzero(mask)
        if not len(idx):
            continue
        exported = pc.or_(exported, mask)
        sub = _Fields(msg, idx)
        tail = (sid_all.take(idx), seq_all.take(idx), nats_all.take(idx))
        if table == "orderbook_snapshots":
            out[table] = _snapshots(sub, idx, tail, book)
        else:
            out[table] = _rows(table, sub, idx, tail, book if table == "orderbook_deltas" else None)
    if "orderbook_deltas" in out or "orderbook_snapshots" in out or present & SEQ_CONTROL:
        _control(types, sid_all, seq_all, nats_all, book)
        _sort(book)
    return Converted(out, book, exported)


def _has_fields(msg: pa.StructArray, table: str) -> pa.Array:
    """Rows whose ``msg`` has at least one field of the table. The bulk reader turns a ``msg`` that is not an
    object (a control reply's list) into a struct of nulls; such a frame is not a data frame of this table."""
    names = _SNAPSHOT_FIELDS if table == "orderbook_snapshots" else {
        name for col in _TABLES[table] for name, _ in col.candidates}
    out: pa.Array | None = None
    for name in sorted(names):
        col = msg.field(name)
        if col.null_count == len(col):
            continue
        valid = pc.is_valid(col)
        out = valid if out is None else pc.or_(out, valid)
    return out if out is not None else pa.repeat(pa.scalar(False), len(msg))


def _kinds_by_table(present: set[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for kind in sorted(present):
        table = TABLE_OF_TYPE.get(kind)
        if table is not None:
            grouped.setdefault(table, []).append(kind)
    return grouped


class _Fields:
    """The ``msg`` fields of some rows, taken one field at a time when asked for (never the whole struct)."""

    def __init__(self, msg: pa.StructArray, idx: pa.Array) -> None:
        self.msg = msg
        self.idx = idx
        self.cache: dict[str, pa.Array | None] = {}

    def __len__(self) -> int:
        return len(self.idx)

    def get(self, name: str) -> pa.Array | None:
        if name not in self.cache:
            col = self.msg.field(name)
            if col.null_count == len(col):
                self.cache[name] = None
            else:  # the rows are indices_nonzero of a mask: all of them are the column as it is
                self.cache[name] = col if len(self.idx) == len(col) else col.take(self.idx)
        return self.cache[name]


def _field(msg: _Fields, name: str) -> pa.Array | None:
    """A field of the selected rows; ``None`` when no row has it (the usual case for older wire names)."""
    col = msg.get(name)
    return None if col is None or col.null_count == len(col) else col


def _rows(table: str, msg: _Fields, idx: pa.Array, tail: tuple[pa.Array, ...],
          book: BookEvents | None) -> pa.Table:
    n = len(msg)
    schema = SCHEMAS[table]
    bad = _Bad(n)
    cols: dict[str, pa.Array] = {}
    for col in _TABLES[table]:
        typ = schema.field(col.name).type
        typ = pa.int64() if pa.types.is_timestamp(typ) else typ  # times stay integers until the end
        value = _first(n, typ, msg, col.candidates, bad, col.name)
        if col.required:
            value = _required(value, bad, col.name)
        cols[col.name] = value
        if col.name == "ts" and table == "market_lifecycle":
            cols["ts"] = pc.coalesce(value, pc.multiply(pc.coalesce(cols["determination_ts"], cols["settled_ts"]),
                                                        1000))
    cols["ts"] = _time_fallback(cols["ts"], msg)
    if table == "market_lifecycle":
        for name in ("open_ts", "close_ts", "determination_ts", "settled_ts"):
            cols[name] = pc.cast(cols[name], SECONDS)
    if table == "trades":
        cols["is_block_trade"] = pc.fill_null(cols["is_block_trade"], False)
    cols["ts"] = pc.cast(cols["ts"], TS)
    cols["sid"], cols["seq"], cols["nats_seq"] = tail
    cols["bad_fields"] = bad.column()
    arrays = [cols[f.name] for f in schema]
    result = pa.Table.from_arrays([*arrays, idx], names=[*schema.names, "_frame"])
    if book is not None:
        _deltas(result, book)
    return result


def _required(value: pa.Array, bad: _Bad, name: str) -> pa.Array:
    """``values._Reader.required_text``: a missing or empty text is ``""`` and named in ``bad_fields``."""
    missing = pc.fill_null(pc.equal(value, ""), True)
    if pc.any(missing).as_py():
        bad.wire.append((missing, name))
        value = pc.fill_null(value, "")
    return value


def _time_fallback(ts: pa.Array, msg: _Fields) -> pa.Array:
    """Where a value has no time of its own, the frame's (``frame_time_ms``: lifecycle and creation times)."""
    if not ts.null_count:
        return ts
    parts = [ts, *(vec.seconds_ms(col).values for name in _HEAD_TS if (col := _field(msg, name)) is not None)]
    return pc.coalesce(*parts) if len(parts) > 1 else ts


def _snapshots(msg: _Fields, idx: pa.Array, tail: tuple[pa.Array, ...], book: BookEvents) -> pa.Table:
    """One row per level, yes side first, in wire order. Each side is read from its newest wire name that is
    readable (``values._side_levels``); the levels of all frames are converted as two columns at once."""
    n = len(msg)
    bad = _Bad(n)
    ticker = _first(n, STR, msg, (("market_ticker", vec.text),), bad, "market_ticker")
    ticker = _required(ticker, bad, "market_ticker")
    parts: list[tuple[int, _Levels]] = []  # (side: 0 yes / 1 no, the levels taken from one candidate)
    unresolved = [False] * n  # a side with no readable candidate: the book cannot be trusted
    for side_index, names in enumerate(_SNAPSHOT_SIDES.values()):
        decided = [False] * n
        for name, convert in zip(names, (_dollars, _dollars, _cents), strict=True):
            src = _field(msg, name)
            if src is None:
                continue
            levels = _Levels.read(src, convert)
            flags = [False] * n
            take = [False] * n
            for row in levels.present:
                if decided[row]:
                    continue
                if levels.broken[row]:
                    flags[row] = unresolved[row] = True
                else:
                    unresolved[row] = False
                    decided[row] = take[row] = True
            if any(flags):
                bad.wire.append((pa.array(flags), name))
            parts.append((side_index, levels.only(take)))
    ts = _first(n, pa.int64(), msg, _SNAPSHOT_TS, bad, "ts")
    ts = _time_fallback(ts, msg)
    rows = pa.concat_arrays([pa.array(p.rows, pa.int64()) for _, p in parts]) if parts else pa.array([], pa.int64())
    side = pa.concat_arrays([pa.repeat(pa.scalar(i, pa.int8()), len(p.rows)) for i, p in parts]) if parts else \
        pa.array([], pa.int8())
    prices = pa.concat_arrays([p.price for _, p in parts]) if parts else pa.array([], PRICE)
    sizes = pa.concat_arrays([p.size for _, p in parts]) if parts else pa.array([], QTY)
    position = pa.array(range(len(rows)), pa.int64())
    order = pc.sort_indices(pa.table({"row": rows, "side": side, "position": position}),
                            sort_keys=[("row", "ascending"), ("side", "ascending"), ("position", "ascending")])
    rows, side, prices, sizes = rows.take(order), side.take(order), prices.take(order), sizes.take(order)
    row_list = rows.to_pylist()
    unfit_price, unfit_qty = _rows_with(row_list, pc.is_null(prices), n), _rows_with(row_list, pc.is_null(sizes), n)
    if any(unfit_price):
        bad.unfit.append((pa.array(unfit_price), "price"))
    if any(unfit_qty):
        bad.unfit.append((pa.array(unfit_qty), "quantity"))
    schema = SCHEMAS["orderbook_snapshots"]
    table = pa.Table.from_arrays([
        pc.cast(ts, TS).take(rows), ticker.take(rows), pc.if_else(pc.equal(side, 0), "yes", "no"), prices, sizes,
        tail[0].take(rows), tail[1].take(rows), tail[2].take(rows), bad.column().take(rows), idx.take(rows)],
        names=[*schema.names, "_frame"])
    bids: list[list[Level]] = [[] for _ in range(n)]
    asks: list[list[Level]] = [[] for _ in range(n)]
    for row, is_no, p, q in zip(row_list, side.to_pylist(), vec.unscaled(prices).to_pylist(),
                                vec.unscaled(sizes).to_pylist(), strict=True):
        if p is not None and q is not None:
            (asks[row].append((ONE_DOLLAR - p, q)) if is_no else bids[row].append((p, q)))
    frames, markets = idx.to_pylist(), ticker.to_pylist()
    sids, seqs, stamps, nats = tail[0].to_pylist(), tail[1].to_pylist(), ts.to_pylist(), tail[2].to_pylist()
    for row in range(n):
        readable = not (unresolved[row] or unfit_price[row] or unfit_qty[row])
        book.rows.append((frames[row], SNAPSHOT, markets[row] or None, sids[row], seqs[row], stamps[row],
                          (bids[row], asks[row]) if readable else None, nats[row]))
    return table


def _rows_with(rows: list[int], mask: pa.Array, n: int) -> list[bool]:
    out = [False] * n
    for position in pc.indices_nonzero(mask).to_pylist():
        out[rows[position]] = True
    return out


@dataclass
class _Levels:
    """One snapshot side from one wire name, for every frame: its levels flattened into two columns."""

    rows: list[int]
    price: pa.Array
    size: pa.Array
    present: list[int]
    """Rows where the field is present (readable or not)."""
    broken: dict[int, bool]
    """Per present row: unreadable (``values._levels`` would raise: any level unreadable or empty)."""

    @classmethod
    def read(cls, src: pa.Array, price: Converter) -> _Levels:
        rows: list[int] = []
        prices: list[str | None] = []
        sizes: list[str | None] = []
        present: list[int] = []
        broken: dict[int, bool] = {}
        for row, raw in enumerate(src.to_pylist()):
            if raw is None:
                continue
            present.append(row)
            parsed = vec.json_or_text(raw)
            if not isinstance(parsed, list) or not all(
                    isinstance(level, list) and len(level) == 2 for level in parsed):
                broken[row] = True
                continue
            broken[row] = False
            for p, q in parsed:
                rows.append(row)
                prices.append(vec.json_text(p))
                sizes.append(vec.json_text(q))
        p_out, q_out = price(pa.array(prices, STR)), _qty(pa.array(sizes, STR))
        unreadable = pc.or_(pc.is_null(p_out.values), pc.is_null(q_out.values))
        if p_out.unfit is not None:
            unreadable = pc.and_(unreadable, pc.invert(p_out.unfit))
        if q_out.unfit is not None:
            unreadable = pc.and_(unreadable, pc.invert(q_out.unfit))
        for position in pc.indices_nonzero(pc.fill_null(unreadable, True)).to_pylist():
            broken[rows[position]] = True  # a side with one unreadable or empty level is unreadable
        return cls(rows, p_out.values, q_out.values, present, broken)

    def only(self, take: list[bool]) -> _Levels:
        """The levels of the rows this candidate decides."""
        keep = [take[row] for row in self.rows]
        mask = pa.array(keep, pa.bool_())
        return _Levels([row for row, k in zip(self.rows, keep, strict=True) if k], self.price.filter(mask),
                       self.size.filter(mask), [], {})


def _deltas(table: pa.Table, book: BookEvents) -> None:
    price = vec.unscaled(_array(table.column("price"))).to_pylist()
    size = vec.unscaled(_array(table.column("delta"))).to_pylist()
    sides = table.column("side").to_pylist()
    changes = [None if p is None or q is None or side is None  # unreadable: the book becomes invalid
               else (True, p, q) if side == "yes" else (False, ONE_DOLLAR - p, q)
               for p, q, side in zip(price, size, sides, strict=True)]
    markets = [m or None for m in table.column("market_ticker").to_pylist()]
    stamps = pc.cast(table.column("ts"), pa.int64()).to_pylist()
    frames, sids, seqs, nats = (table.column(name).to_pylist() for name in ("_frame", "sid", "seq", "nats_seq"))
    book.rows += zip(frames, [DELTA] * len(frames), markets, sids, seqs, stamps, changes, nats, strict=True)


def _control(types: pa.Array, sid: pa.Array, seq: pa.Array, nats: pa.Array, book: BookEvents) -> None:
    mask = pc.and_(pc.is_in(types, pa.array(sorted(SEQ_CONTROL), STR)),
                   pc.and_(pc.is_valid(sid), pc.is_valid(seq)))
    idx = pc.indices_nonzero(mask)
    for frame, s, q, ns in zip(idx.to_pylist(), sid.take(idx).to_pylist(), seq.take(idx).to_pylist(),
                               nats.take(idx).to_pylist(), strict=True):
        book.rows.append((frame, SEQ_ONLY, None, s, q, None, None, ns))


def _sort(book: BookEvents) -> None:
    """Snapshots, deltas and replies were collected table by table: back into frame order."""
    book.rows.sort(key=lambda event: event[0])
