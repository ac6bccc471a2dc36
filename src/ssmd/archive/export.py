"""``ssmd archive export``: typed columnar tables from raw frames, one table per message type.

Layout (Hive partitions, readable by DuckDB, Polars, pyarrow.dataset, Spark)::

    OUT/{table}/date=YYYY-MM-DD/part-{source day}.parquet   (or .csv)

Units are the same whatever wire format a frame used (integer cents, ``_dollars`` strings, ``_fp`` counts):
prices are ``decimal128(12, 6)`` **dollars per contract** (0.42 = 42 cents), sizes and volumes are
``decimal128(20, 4)`` contracts, ``ts`` is the exchange time as ``timestamp[ms, UTC]``, and the partition
``date`` is the UTC date of ``ts`` (the archive day when a frame carries no time). Parquet files use zstd.
The export is written into ``OUT.partial-<pid>`` and renamed into place at the end: nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from ssmd.archive._progress import Progress
from ssmd.archive.reader import ArchiveFrame
from ssmd.kalshi import values as v

PRICE = pa.decimal128(12, 6)
QTY = pa.decimal128(20, 4)
TS = pa.timestamp("ms", tz="UTC")
SECONDS = pa.timestamp("s", tz="UTC")
FLUSH_ROWS = 50_000
_PRICE_Q = Decimal(1).scaleb(-6)
_QTY_Q = Decimal(1).scaleb(-4)

_COMMON_TAIL = [("sid", pa.int64()), ("seq", pa.int64()), ("nats_seq", pa.int64()), ("bad_fields", pa.string())]

SCHEMAS: dict[str, pa.Schema] = {
    "trades": pa.schema([
        ("ts", TS), ("trade_id", pa.string()), ("market_ticker", pa.string()), ("yes_price", PRICE),
        ("no_price", PRICE), ("count", QTY), ("taker_side", pa.string()), ("is_block_trade", pa.bool_()),
        *_COMMON_TAIL]),
    "tickers": pa.schema([
        ("ts", TS), ("market_ticker", pa.string()), ("market_id", pa.string()), ("price", PRICE),
        ("yes_bid", PRICE), ("yes_ask", PRICE), ("yes_bid_size", QTY), ("yes_ask_size", QTY),
        ("last_trade_size", QTY), ("volume", QTY), ("open_interest", QTY), ("dollar_volume", QTY),
        ("dollar_open_interest", QTY), *_COMMON_TAIL]),
    "orderbook_snapshots": pa.schema([
        ("ts", TS), ("market_ticker", pa.string()), ("side", pa.string()), ("price", PRICE), ("quantity", QTY),
        *_COMMON_TAIL]),
    "orderbook_deltas": pa.schema([
        ("ts", TS), ("market_ticker", pa.string()), ("side", pa.string()), ("price", PRICE), ("delta", QTY),
        *_COMMON_TAIL]),
    "market_lifecycle": pa.schema([
        ("ts", TS), ("market_ticker", pa.string()), ("event_type", pa.string()), ("open_ts", SECONDS),
        ("close_ts", SECONDS), ("determination_ts", SECONDS), ("settled_ts", SECONDS), ("result", pa.string()),
        ("settlement_value", PRICE), *_COMMON_TAIL]),
    "event_lifecycle": pa.schema([
        ("ts", TS), ("event_ticker", pa.string()), ("series_ticker", pa.string()), ("title", pa.string()),
        ("subtitle", pa.string()), *_COMMON_TAIL]),
}


class ExportError(Exception):
    """OUT exists, or writing failed (the partial output is removed)."""


def _d(value: Decimal | None, quantum: Decimal, bad: list[str], name: str) -> Decimal | None:
    """Fit a value to the column's scale exactly; a value that would lose digits becomes null and is named."""
    if value is None:
        return None
    fitted = value.quantize(quantum)
    if fitted != value:
        bad.append(name)
        return None
    return fitted


def _trade(t: v.Trade, bad: list[str]) -> list[tuple[Any, ...]]:
    return [(t.ts_ms, t.trade_id, t.market_ticker, _d(t.yes_price, _PRICE_Q, bad, "yes_price"),
             _d(t.no_price, _PRICE_Q, bad, "no_price"), _d(t.count, _QTY_Q, bad, "count"), t.taker_side,
             t.is_block_trade)]


def _ticker(t: v.Ticker, bad: list[str]) -> list[tuple[Any, ...]]:
    q = _QTY_Q
    return [(t.ts_ms, t.market_ticker, t.market_id, _d(t.price, _PRICE_Q, bad, "price"),
             _d(t.yes_bid, _PRICE_Q, bad, "yes_bid"), _d(t.yes_ask, _PRICE_Q, bad, "yes_ask"),
             _d(t.yes_bid_size, q, bad, "yes_bid_size"), _d(t.yes_ask_size, q, bad, "yes_ask_size"),
             _d(t.last_trade_size, q, bad, "last_trade_size"), _d(t.volume, q, bad, "volume"),
             _d(t.open_interest, q, bad, "open_interest"), _d(t.dollar_volume, q, bad, "dollar_volume"),
             _d(t.dollar_open_interest, q, bad, "dollar_open_interest"))]


def _snapshot(s: v.OrderbookSnapshot, bad: list[str]) -> list[tuple[Any, ...]]:
    return [(s.ts_ms, s.market_ticker, side, _d(price, _PRICE_Q, bad, "price"), _d(qty, _QTY_Q, bad, "quantity"))
            for side, levels in (("yes", s.yes), ("no", s.no)) for price, qty in levels]


def _delta(d: v.OrderbookDelta, bad: list[str]) -> list[tuple[Any, ...]]:
    return [(d.ts_ms, d.market_ticker, d.side, _d(d.price, _PRICE_Q, bad, "price"), _d(d.delta, _QTY_Q, bad, "delta"))]


def _lifecycle(m: v.MarketLifecycle, bad: list[str]) -> list[tuple[Any, ...]]:
    return [(m.ts_ms, m.market_ticker, m.event_type, m.open_ts, m.close_ts, m.determination_ts, m.settled_ts,
             m.result, _d(m.settlement_value, _PRICE_Q, bad, "settlement_value"))]


def _event(e: v.EventLifecycle, bad: list[str]) -> list[tuple[Any, ...]]:
    return [(e.ts_ms, e.event_ticker, e.series_ticker, e.title, e.subtitle)]


_ROWS: dict[type, tuple[str, Callable[[Any, list[str]], list[tuple[Any, ...]]]]] = {
    v.Trade: ("trades", _trade),
    v.Ticker: ("tickers", _ticker),
    v.OrderbookSnapshot: ("orderbook_snapshots", _snapshot),
    v.OrderbookDelta: ("orderbook_deltas", _delta),
    v.MarketLifecycle: ("market_lifecycle", _lifecycle),
    v.EventLifecycle: ("event_lifecycle", _event),
}


class _Sink:
    """Open writers and row buffers for one source day; closed when the next day starts."""

    def __init__(self, out: Path, fmt: str) -> None:
        self.out = out
        self.fmt = fmt
        self.rows: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        self.writers: dict[tuple[str, str], Any] = {}
        self.source_day = ""
        self.counts: dict[str, int] = {}
        self.files = 0

    def add(self, table: str, date: str, row: tuple[Any, ...]) -> None:
        key = (table, date)
        buffer = self.rows.setdefault(key, [])
        buffer.append(row)
        if len(buffer) >= FLUSH_ROWS:
            self._flush(key)

    def start_day(self, day: str) -> None:
        if day != self.source_day:
            self.close()
            self.source_day = day

    def close(self) -> None:
        for key in list(self.rows):
            self._flush(key)
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()

    def _flush(self, key: tuple[str, str]) -> None:
        rows = self.rows.pop(key, [])
        if not rows:
            return
        table = key[0]
        schema = SCHEMAS[table]
        columns = list(zip(*rows, strict=True))
        arrays = [pa.array(col, type=field.type) for col, field in zip(columns, schema, strict=True)]
        batch = pa.Table.from_arrays(arrays, schema=schema)
        writer = self.writers.get(key) or self._open(key, schema)
        writer.write_table(batch)
        self.counts[table] = self.counts.get(table, 0) + len(rows)

    def _open(self, key: tuple[str, str], schema: pa.Schema) -> Any:
        table, date = key
        folder = self.out / table / f"date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{self.source_day or 'all'}"
        writer: Any
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            writer = pq.ParquetWriter(folder / f"{name}.parquet", schema, compression="zstd")
        else:
            import pyarrow.csv as pcsv

            writer = pcsv.CSVWriter(folder / f"{name}.csv", schema)
        self.writers[key] = writer
        self.files += 1
        return writer


def run_export(frames: Iterable[ArchiveFrame], out: str | Path, fmt: str = "parquet",
               overwrite: bool = False, show_progress: bool = True) -> dict[str, Any]:
    """Export ``frames`` into ``out``; returns a summary with rows per table and frames not exported."""
    target = Path(out)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise ExportError(f"{target}: exists and is not empty (use --overwrite to replace it)")
    partial = target.parent / f"{target.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    sink = _Sink(partial, fmt)
    progress = Progress("export", unit="frames") if show_progress else None
    exported = skipped = bad_count = 0
    last_file = day = ""
    try:
        for frame in frames:
            value = frame.value
            kind = _ROWS.get(type(value))
            if progress:
                progress.advance()
            if kind is None:
                skipped += 1
                continue
            table, build = kind
            if frame.file != last_file:
                last_file, day = frame.file, Path(frame.file).parent.name
            sink.start_day(day)
            bad: list[str] = list(value.bad_fields)
            rows = build(value, bad)
            head = frame.head()
            ts = rows[0][0] if rows else None
            if ts is None:
                ts = head.ts_ms()
            date = _date(ts) if ts is not None else day
            tail = (head.sid, head.seq, frame.seq, ",".join(bad))
            bad_count += bool(bad)
            for row in rows:
                sink.add(table, date, (ts, *row[1:], *tail))
            exported += 1
        sink.close()
    except BaseException:
        sink.close()
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    summary = {"out": str(target), "format": fmt, "frames": exported, "not_exported": skipped,
               "frames_with_bad_fields": bad_count, "rows": dict(sorted(sink.counts.items())), "files": sink.files}
    if progress:
        progress.finish(f"{exported:,} frames into {sink.files} files, {skipped:,} not exportable")
    return summary


_DATE_CACHE: dict[int, str] = {}


def _date(ts_ms: int) -> str:
    day = ts_ms // 86_400_000
    text = _DATE_CACHE.get(day)
    if text is None:
        text = dt.datetime.fromtimestamp(day * 86_400, dt.UTC).strftime("%Y-%m-%d")
        _DATE_CACHE[day] = text
    return text
