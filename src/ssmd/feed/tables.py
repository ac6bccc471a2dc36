"""What ``ssmd archive export`` needs from a feed: its typed tables, and the book changes its frames carry.

The export is feed-neutral: it reads whole archive files in bulk, hands each batch of frames to the feed's
:class:`ExportTables` and writes the tables that come back; ``book_top`` is built from the feed's
:class:`BookEvents` (integer ticks on the first outcome's price scale), whatever the exchange.

A feed provides its tables in its package's ``export`` module as ``TABLES`` (``ssmd.kalshi.export.TABLES``),
found through the feed's name in :mod:`ssmd.feed.registry`, so that adding a feed stays one registry line.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ssmd.feed.registry import feed_names

if TYPE_CHECKING:
    import pyarrow as pa

SNAPSHOT, DELTA, SEQ_ONLY, LEVEL = 0, 1, 2, 3
"""Kinds of :data:`BookEvent`: a whole book, one level change, a reply that only consumes a sequence number, one
level's new size (feeds that send a level's size rather than its change, such as Polymarket)."""

Level = tuple[int, int]
"""``(price ticks, size ticks)``: the unscaled integers of the feed's price and size decimal types."""

BookEvent = tuple[int, int, "str | None", "int | None", "int | None", "int | None", object, "int | None"]
"""``(frame, kind, market, sid, seq, ts_ms, change, nats_seq)``. ``change`` for a snapshot: ``(bids, asks)`` as
:data:`Level` lists; for a delta: ``(is_bid, price, size change)``; ``None`` when the frame could not be read well
enough to apply (the book becomes invalid until its next snapshot); for a level: ``(is_bid, price, new size)``."""


@dataclass
class BookEvents:
    """Order-book changes in frame order, two-sided on the first outcome's price scale."""

    rows: list[BookEvent] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class Converted:
    """One batch of frames as typed tables."""

    tables: dict[str, pa.Table]
    """Each with its schema's columns plus ``_frame`` (row index of its frame in the batch) and ``bad_fields``."""
    book: BookEvents
    exported: pa.Array
    """Boolean per frame: a data frame of a known type (it has rows, or an empty book)."""


class ExportTables(Protocol):
    """A feed's typed export (see the module doc)."""

    schemas: Mapping[str, pa.Schema]
    """The typed tables (``book_top`` aside)."""
    market_column: str
    """The name of the market key column, in the feed's tables and in ``book_top``."""
    price_type: pa.Decimal128Type
    size_type: pa.Decimal128Type
    book_types: frozenset[str]
    """Frame types and type tokens that select the book (``--types`` without them: no ``book_top``)."""
    msg_fields: tuple[str, ...]
    """The fields the bulk reader extracts from each frame's payload, as text."""
    json_fields: frozenset[str]
    """Of those, the ones extracted as raw JSON (where a string and a number mean different things)."""
    raw_frames: bool
    """The bulk reader hands over each frame's whole text as column ``raw`` instead (frames that are arrays, or
    whose fields are not under ``msg``)."""

    def tables_for(self, types: Collection[str]) -> frozenset[str]:
        """The tables frames of these types go into."""

    def frame_types(self, batch: pa.RecordBatch) -> pa.Array:
        """Each frame's type (text)."""

    def routing_key(self, batch: pa.RecordBatch) -> pa.Array:
        """Each frame's raw market key, as the archive tools' ticker filter sees it (null: none)."""

    def frame_time_ms(self, batch: pa.RecordBatch) -> pa.Array:
        """Each frame's exchange time in ms, as the archive tools' time filter sees it (null: none)."""

    def convert(self, batch: pa.RecordBatch, nats_seq: pa.Array | None,
                tables: frozenset[str] | None = None) -> Converted:
        """The typed rows of every exportable frame of ``batch`` (``tables``: only those)."""


def export_tables(feed: str) -> ExportTables:
    """The export tables of the feed called ``feed``; :class:`KeyError` naming the known feeds otherwise, and
    :class:`LookupError` for a feed that has no typed export yet."""
    if feed not in feed_names():
        raise KeyError(f"unknown feed {feed!r}: expected one of {', '.join(feed_names())}")
    try:
        module = importlib.import_module(f"ssmd.{feed}.export")
    except ModuleNotFoundError:
        raise LookupError(f"feed {feed!r} has no typed export yet") from None
    tables: ExportTables = module.TABLES
    return tables


def from_unscaled(ticks: pa.Array, typ: pa.Decimal128Type) -> pa.Array:
    """Integer ticks (the unscaled integers of ``typ``) as a ``typ`` column, exactly: through a width any int64
    fits, then down to the column's precision."""
    import pyarrow as pa
    import pyarrow.compute as pc

    width = max(typ.precision, 19)
    wide = pc.cast(ticks, pa.decimal128(width, 0)).view(pa.decimal128(width, typ.scale))
    return wide if width == typ.precision else pc.cast(wide, typ)
