"""Kalshi's typed export (:class:`ssmd.feed.tables.ExportTables`): the tables, and which frames feed them.

The conversion itself lives in :mod:`ssmd.kalshi.columns` (whole columns, the rules of :mod:`ssmd.kalshi.values`);
this module is what ``ssmd archive export`` sees of Kalshi, through ``ssmd.feed.tables.export_tables("kalshi")``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pyarrow as pa

from ssmd.feed.tables import Converted
from ssmd.kalshi import columns
from ssmd.kalshi._vector import PRICE, QTY


class KalshiTables:
    schemas: Mapping[str, pa.Schema] = columns.SCHEMAS
    market_column = "market_ticker"
    price_type: pa.Decimal128Type = PRICE
    size_type: pa.Decimal128Type = QTY
    book_types = frozenset({"orderbook", *columns.BOOK_TYPES})
    """The book frames' types and their subject token (``orderbook``)."""
    msg_fields = columns.MSG_FIELDS
    json_fields = columns.JSON_FIELDS
    raw_frames = False

    def tables_for(self, types: Collection[str]) -> frozenset[str]:
        return frozenset(columns.TABLE_OF_TYPE[t] for t in types if t in columns.TABLE_OF_TYPE)

    def frame_types(self, batch: pa.RecordBatch) -> pa.Array:
        return columns.frame_columns(batch)[0]

    def routing_key(self, batch: pa.RecordBatch) -> pa.Array:
        return columns.routing_ticker(batch)

    def frame_time_ms(self, batch: pa.RecordBatch) -> pa.Array:
        return columns.frame_time_ms(batch)

    def convert(self, batch: pa.RecordBatch, nats_seq: pa.Array | None,
                tables: frozenset[str] | None = None) -> Converted:
        return columns.convert(batch, nats_seq, tables)


TABLES = KalshiTables()
