"""Whole archive files as Arrow batches, decoded in C++ by DuckDB's JSON reader: the export's only way in.

``ssmd.archive.open`` yields one Python object per frame, which is right for reading and far too slow for a
columnar export (a Python object per field). Here DuckDB reads the ``.jsonl.gz`` file itself (multi-member gzip
included) on one thread, in file order, and hands over the fields a feed's column module asks for, each as its
JSON text. A line that is not a JSON object comes back as a row with every column null (it is not exportable);
blank lines are not frames. A file that is not a complete gzip stream raises :class:`ArchiveError` naming it.

``raw``: instead of fields, each frame's whole text as column ``raw`` (null: a frame kept base64-encoded in an
envelope), for feeds whose frames a fixed layout cannot hold (Polymarket's arrays); a line of a ``jsonl`` file
that is not JSON (a text word) is still a row.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from isal import igzip

from ssmd.archive_format.envelope import is_envelope
from ssmd.archive_format.lines import GZIP_ERRORS
from ssmd.archive_format.problems import ArchiveError

MAX_LINE = 1 << 28
"""Longest line DuckDB accepts (its default, 16 MB, could refuse a huge snapshot)."""
BATCH_ROWS = 262_144
"""Frames per Arrow batch: memory stays flat however large a rotation window gets."""

_connection: Any = None
_connection_lock = threading.Lock()


@dataclass(frozen=True)
class Batch:
    frames: pa.RecordBatch
    """Columns ``type``, ``sid``, ``seq``, ``sending_ts_ms`` (text) and ``msg`` (struct of text/JSON fields); in
    ``raw`` mode the one column ``raw`` (text)."""
    nats_seq: pa.Array | None
    """Envelope archives: the stream sequence of each frame."""


def _duckdb() -> Any:
    """One database per process, single-threaded (each read runs on its caller's thread, with its own cursor:
    ``--jobs`` reads several files at once on threads)."""
    global _connection
    with _connection_lock:
        if _connection is None:
            import duckdb

            _connection = duckdb.connect(config={"threads": 1, "preserve_insertion_order": True})
            _connection.execute("SET enable_progress_bar = false")  # it would draw on the user's terminal
        return _connection


def _struct(fields: Collection[str], json_fields: Collection[str]) -> str:
    parts = [f'"{name}" {"JSON" if name in json_fields else "VARCHAR"}' for name in fields]
    return "STRUCT(" + ", ".join(parts) + ")"


def _frame_columns(msg_struct: str) -> str:
    return f"type VARCHAR, sid VARCHAR, seq VARCHAR, sending_ts_ms VARCHAR, msg {msg_struct}"


def sniff_envelope(path: Path, fmt: str) -> bool:
    """The manifest's format, or for a ``jsonl`` day the first line's shape (as ``ssmd.archive.open`` does)."""
    if fmt == "envelope":
        return True
    try:
        with igzip.open(path, "rb") as stream:  # type: ignore[no-untyped-call]
            first: bytes = stream.readline()
    except GZIP_ERRORS as exc:
        raise ArchiveError(f"{path}: unreadable: {exc or type(exc).__name__} (run ssmd archive verify)") from None
    return bool(first.strip()) and is_envelope(first.rstrip(b"\r\n"))


def read_batches(path: Path, fmt: str, msg_fields: Collection[str], json_fields: Collection[str] = (),
                 batch_rows: int = BATCH_ROWS, prefetch: bool = False, raw: bool = False) -> Iterator[Batch]:
    """Every frame of one archive file, in file order, as Arrow batches (see the module doc).

    ``prefetch``: DuckDB decodes the next batch on a thread of its own while the caller converts this one (both
    release the GIL for most of their work): a second core speeds up one large file. Off, all runs on one thread."""
    batches = _read(path, fmt, msg_fields, json_fields, batch_rows, raw)
    return _prefetched(batches) if prefetch else batches


def _read(path: Path, fmt: str, msg_fields: Collection[str], json_fields: Collection[str],
          batch_rows: int, raw: bool = False) -> Iterator[Batch]:
    envelope = sniff_envelope(path, fmt)
    struct = _struct(msg_fields, json_fields)
    with _safe_path(path) as source:
        quoted = str(source).replace("'", "''")
        query = _raw_query(quoted, envelope) if raw else _fields_query(quoted, envelope, struct)
        import duckdb

        connection = _duckdb().cursor()  # a cursor per read: safe if several threads export at once
        try:
            relation = connection.sql(query)
            stream = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch  # duckdb 2 / 1.x
            reader = stream(batch_rows)
            for batch in reader:
                if envelope:
                    names = [name for name in batch.schema.names if name != "nats_seq"]
                    frames = pa.RecordBatch.from_arrays([batch.column(name) for name in names], names=names)
                    yield Batch(frames, batch.column("nats_seq"))
                else:
                    yield Batch(batch, None)
        except (duckdb.Error, OSError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ArchiveError(f"{path}: unreadable: {message} (run ssmd archive verify)") from None


def _fields_query(quoted: str, envelope: bool, struct: str) -> str:
    if envelope:
        columns = f"{{seq: 'VARCHAR', data: 'STRUCT({_frame_columns(struct)})'}}"
        select = "data.type AS type, data.sid AS sid, data.seq AS seq, data.sending_ts_ms AS sending_ts_ms, " \
                 "data.msg AS msg, TRY_CAST(seq AS BIGINT) AS nats_seq"
    else:
        columns = "{" + ", ".join(f"{name}: '{typ}'" for name, typ in (
            ("type", "VARCHAR"), ("sid", "VARCHAR"), ("seq", "VARCHAR"), ("sending_ts_ms", "VARCHAR"),
            ("msg", struct))) + "}"
        select = "type, sid, seq, sending_ts_ms, msg"
    return (f"SELECT {select} FROM read_json('{quoted}', format='newline_delimited', ignore_errors=true, "
            f"maximum_object_size={MAX_LINE}, columns={columns})")


def _raw_query(quoted: str, envelope: bool) -> str:
    if envelope:
        return (f"SELECT data::VARCHAR AS raw, TRY_CAST(seq AS BIGINT) AS nats_seq FROM read_json('{quoted}', "
                f"format='newline_delimited', ignore_errors=true, maximum_object_size={MAX_LINE}, "
                "columns={seq: 'VARCHAR', data: 'JSON'})")
    # One text column per line, whatever it holds (JSON never holds a raw control character such as chr(1)).
    return (f"SELECT raw FROM read_csv('{quoted}', columns={{'raw': 'VARCHAR'}}, delim=chr(1), quote='', "
            f"escape='', header=false, auto_detect=false, compression='gzip', max_line_size={MAX_LINE}) "
            "WHERE raw IS NOT NULL")


_DONE = object()


def _prefetched(batches: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """``batches`` produced on a worker thread, at most ``depth`` ahead; its error is raised here, in order. The
    thread stops when the consumer does (an error or a close of this generator)."""
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
        finally:
            batches.close()  # type: ignore[attr-defined]

    thread = threading.Thread(target=produce, name="ssmd-export-read", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


class _safe_path:
    """DuckDB reads a path as a glob pattern: a path with ``*?[`` in it is read through a plain symlink."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Path:
        if not any(c in str(self.path) for c in "*?[]{}"):
            return self.path
        self.tmp = tempfile.TemporaryDirectory(prefix="ssmd-export-")
        link = Path(self.tmp.name) / self.path.name
        link.symlink_to(self.path.resolve())
        return link

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()
