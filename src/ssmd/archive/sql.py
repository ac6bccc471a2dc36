"""``ssmd archive sql OUT "SELECT ..."``: DuckDB over an export, one view per table.

Every table directory of the export (the feed's tables, such as ``trades`` and ``tickers``, and ``book_top``)
becomes a view of that name over all its partitions, with the partition ``date`` as a column. Decimals stay
decimals: a CSV export is read with the column types of its feed's tables, so ``sum(count)`` is exact either way.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from ssmd.archive._table import table as text_table

_LEVEL = re.compile(r"^(bid|ask)_(price|size)_\d+$")


class SqlError(Exception):
    """Not an export, duckdb missing, or the query failed (the message says which)."""


def _duck_type(typ: pa.DataType) -> str:
    if pa.types.is_decimal(typ):
        return f"DECIMAL({typ.precision},{typ.scale})"
    if pa.types.is_timestamp(typ):
        return "TIMESTAMPTZ"
    if pa.types.is_boolean(typ):
        return "BOOLEAN"
    if pa.types.is_integer(typ):
        return "BIGINT"
    return "VARCHAR"


def _feed_tables(out: Path) -> list[Any]:
    """The export tables of the feeds an export came from (its record names each source file as feed/day/file)."""
    from ssmd.feed.tables import export_tables

    try:
        files = orjson.loads((out / "_ssmd_export.json").read_bytes()).get("files", {})
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return []
    found = []
    for feed in sorted({str(key).split("/", 1)[0] for key in files}):
        try:
            found.append(export_tables(feed))
        except LookupError:
            continue  # columns of a feed without typed tables are read as text
    return found


def _csv_types(table: str, header: list[str], feeds: list[Any]) -> dict[str, str]:
    known = [tables.schemas[table] for tables in feeds if table in tables.schemas]
    out: dict[str, str] = {}
    for name in header:
        schema = next((s for s in known if name in s.names), None)
        if schema is not None:
            out[name] = _duck_type(schema.field(name).type)
        elif (match := _LEVEL.match(name)) and feeds:
            out[name] = _duck_type(feeds[0].price_type if match.group(2) == "price" else feeds[0].size_type)
        elif name == "ts":
            out[name] = "TIMESTAMPTZ"
        elif name == "book_valid":
            out[name] = "BOOLEAN"
        elif name in ("sid", "seq", "nats_seq"):
            out[name] = "BIGINT"
    return out


def views(con: Any, out: Path) -> list[str]:
    """Create one view per table directory of ``out``; returns their names."""
    names = []
    feeds = _feed_tables(out)
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        parquet = sorted(folder.glob("date=*/*.parquet"))
        csvs = sorted(folder.glob("date=*/*.csv"))
        quoted = str(folder).replace("'", "''")
        if parquet:
            source = f"read_parquet('{quoted}/*/*.parquet', hive_partitioning=true)"
        elif csvs:
            with csvs[0].open(newline="") as handle:
                header = next(csv.reader(handle), [])
            types = ", ".join(f"'{k}': '{v}'" for k, v in _csv_types(folder.name, header, feeds).items())
            source = (f"read_csv('{quoted}/*/*.csv', hive_partitioning=true, header=true, "
                      f"types={{{types}}})")
        else:
            continue
        con.execute(f'CREATE VIEW "{folder.name}" AS SELECT * FROM {source}')
        names.append(folder.name)
    return names


def run_sql(out: str | Path, query: str, fmt: str = "table") -> str:
    """Run ``query`` over the export at ``out``; the result as text (``table``, ``csv`` or ``json`` lines)."""
    try:
        import duckdb
    except ImportError:
        raise SqlError("ssmd archive sql needs duckdb: pip install 'ssmd[parquet]'") from None
    root = Path(out)
    if not root.is_dir():
        raise SqlError(f"{root}: no such export directory (make one with ssmd archive export)")
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")  # exchange times read as UTC whatever the machine's zone
        names = views(con, root)
        if not names:
            raise SqlError(f"{root}: not an export (expected table folders like trades/date=YYYY-MM-DD/ below it)")
        try:
            rel = con.sql(query)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SqlError(f"query failed: {first} (tables: {', '.join(names)})") from None
        if rel is None:
            return ""
        headers = list(rel.columns)
        rows = rel.fetchall()
    finally:
        con.close()
    return format_rows(headers, rows, fmt)


def format_rows(headers: list[str], rows: list[tuple[Any, ...]], fmt: str) -> str:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([[_plain(v) for v in row] for row in rows])
        return buffer.getvalue()
    if fmt == "json":
        return "".join(orjson.dumps(dict(zip(headers, [_json(v) for v in row], strict=True))).decode() + "\n"
                       for row in rows)
    return text_table(headers, [[_plain(v) for v in row] for row in rows])


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | str):
        return value
    return str(value)


def _json(value: Any) -> Any:
    """Decimals as strings (exact), times as ISO 8601, the rest as JSON has it."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
