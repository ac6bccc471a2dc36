"""Self-describing gzip members: one per durable batch, carrying its stream-sequence range and its records' origin.

Every batch becomes one complete gzip member whose header's FEXTRA field records, in subfield ``SM``, the first
and last stream sequence, the record count and the compressed length, and, in subfield ``SO`` when the records
say where they came from, an origin (connector instance, connection) per record. Any gzip reader ignores the
field and reads the concatenated members as one stream; recovery after ``kill -9`` reads it to find the last
complete member (the durable point) and the last sequence written, without a sidecar file that could disagree
with the data, and the origin is durable exactly when its lines are, because it is in the same bytes.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import isal.isal_zlib as isal_zlib

Codec = Literal["isal", "zlib"]


class Origin(NamedTuple):
    """Which connector instance and which of its connections published a record (headers ``Ssmd-Instance`` and
    ``Ssmd-Conn``); ``None`` where the header was absent."""

    instance: str | None
    connection: str | None


_MAGIC = b"\x1f\x8b\x08"
_FLG_FEXTRA = 0x04
_SM = b"SM"
_SO = b"SO"
_INFO = struct.Struct("<QQIQ")  # first_seq, last_seq, records, compressed length
_HEAD = struct.Struct("<3sBIBBH")  # magic+method, flags, mtime, xfl, os, xlen
_SUB = struct.Struct("<2sH")  # subfield id, length
_SM_FIELD = _SUB.size + _INFO.size
_TRAILER = struct.Struct("<II")
HEADER_SIZE = _HEAD.size + _SM_FIELD
"""A member's header without an ``SO`` subfield."""
MAX_EXTRA = 32_000
"""FEXTRA may hold 65,535 bytes, but DuckDB (the export's reader) refuses gzip headers over 32 KiB."""
MAX_ORIGIN_FIELD = MAX_EXTRA - _SM_FIELD - _SUB.size
"""Bytes an ``SO`` subfield may hold: a batch that needs more is split into several members."""
_U16 = struct.Struct("<H")


@dataclass(frozen=True)
class MemberInfo:
    first_seq: int
    last_seq: int
    records: int
    offset: int
    """Byte offset of the member in the file."""
    end: int
    """Byte offset just past the member's trailer."""
    origin_field: bytes | None = None
    """The raw ``SO`` subfield (decode with :func:`decode_origins`); ``None`` in members written without one."""


def compressor(codec: Codec, level: int) -> Callable[[bytes], bytes]:
    """A raw-deflate function for ``codec`` (ISA-L is ~10x faster than zlib at a similar ratio)."""
    if codec == "isal":
        return lambda data: isal_zlib.compress(data, level, -15)
    return lambda data: _zlib_raw(data, level)


def _zlib_raw(data: bytes, level: int) -> bytes:
    obj = zlib.compressobj(level, zlib.DEFLATED, -15)
    return obj.compress(data) + obj.flush()


def encode_member(
    payload: bytes, first_seq: int, last_seq: int, records: int, deflate: Callable[[bytes], bytes],
    origin_field: bytes | None = None,
) -> bytes:
    """One complete gzip member holding ``payload`` and its sequence range (and ``SO``, from
    :func:`encode_origins`, when given)."""
    body = deflate(payload)
    extra = _SUB.pack(_SM, _INFO.size) + _INFO.pack(first_seq, last_seq, records, len(body))
    if origin_field is not None:
        extra += _SUB.pack(_SO, len(origin_field)) + origin_field
    header = _HEAD.pack(_MAGIC, _FLG_FEXTRA, 0, 0, 255, len(extra))
    trailer = _TRAILER.pack(isal_zlib.crc32(payload) & 0xFFFFFFFF, len(payload) & 0xFFFFFFFF)
    return b"".join((header, extra, body, trailer))


def scan_members(data: bytes) -> Iterator[tuple[MemberInfo, bytes]]:
    """Yield each complete, CRC-valid member with its decompressed payload; stop at the first torn one.

    A member cut short by a crash (or with a bad CRC, or without an ``SM`` subfield) ends the scan: everything
    before it is the durable prefix of the file.
    """
    offset = 0
    size = len(data)
    while offset + HEADER_SIZE <= size:
        magic, flg, _, _, _, xlen = _HEAD.unpack_from(data, offset)
        if magic != _MAGIC or flg != _FLG_FEXTRA:
            return
        extra_start = offset + _HEAD.size
        body_start = extra_start + xlen
        if body_start > size:
            return
        fields = _subfields(data[extra_start:body_start])
        info = fields.get(_SM) if fields is not None else None
        if info is None or len(info) != _INFO.size:
            return
        first, last, records, clen = _INFO.unpack(info)
        end = body_start + clen + _TRAILER.size
        if end > size:
            return
        try:
            payload = isal_zlib.decompress(data[body_start : body_start + clen], -15)
        except isal_zlib.IsalError:  # type: ignore[misc]
            return
        crc, isize = _TRAILER.unpack_from(data, body_start + clen)
        if crc != isal_zlib.crc32(payload) & 0xFFFFFFFF or isize != len(payload) & 0xFFFFFFFF:
            return
        assert fields is not None
        yield MemberInfo(first, last, records, offset, end, fields.get(_SO)), payload
        offset = end


def record_origins(data: bytes | mmap.mmap) -> list[Origin | None]:
    """Every record's origin, in file order, from the members' headers alone (nothing is decompressed). Stops
    at the first member that is not one of ours: its records, and any after it, have no known origin."""
    out: list[Origin | None] = []
    offset = 0
    size = len(data)
    while offset + HEADER_SIZE <= size:
        magic, flg, _, _, _, xlen = _HEAD.unpack_from(data, offset)
        extra_start = offset + _HEAD.size
        fields = _subfields(data[extra_start : extra_start + xlen]) if magic == _MAGIC and flg == _FLG_FEXTRA else None
        info = fields.get(_SM) if fields is not None else None
        if fields is None or info is None or len(info) != _INFO.size:
            break
        _, _, records, clen = _INFO.unpack(info)
        out.extend(decode_origins(fields.get(_SO), records))
        offset = extra_start + xlen + clen + _TRAILER.size
    return out


def _subfields(extra: bytes) -> dict[bytes, bytes] | None:
    """FEXTRA's subfields by id; ``None`` if they do not add up to the field (not one of our members)."""
    out: dict[bytes, bytes] = {}
    at = 0
    while at + _SUB.size <= len(extra):
        sid, length = _SUB.unpack_from(extra, at)
        at += _SUB.size
        if at + length > len(extra):
            return None
        out[sid] = extra[at : at + length]
        at += length
    return out if at == len(extra) else None


# -- origins (subfield SO) ------------------------------------------------------------------------------------
#
# u16 n, then n origins (u8 length + instance UTF-8, u8 length + connection UTF-8; length 0 = unknown), then one
# index per record: u8 when n < 255, else u16; 0 = unknown origin, i = the i-th origin of the table.

_MAX_NAME = 255


def origin_cost(table_size: int) -> int:
    """Bytes per record index for a table of ``table_size`` origins."""
    return 1 if table_size < 255 else 2


def encode_origins(origins: Sequence[Origin | None]) -> bytes | None:
    """The ``SO`` subfield for these records' origins; ``None`` when none is known (the member then has no ``SO``,
    byte for byte as before origins existed). The caller keeps it within :data:`MAX_ORIGIN_FIELD`
    (:func:`split_by_origin`)."""
    table: dict[Origin, int] = {}
    index = []
    for origin in origins:
        if origin is None:
            index.append(0)
            continue
        number = table.get(origin)
        if number is None:
            number = table[origin] = len(table) + 1
        index.append(number)
    if not table:
        return None
    parts = [_U16.pack(len(table))]
    for origin in table:
        for name in origin:
            raw = (name or "").encode()[:_MAX_NAME]
            parts.append(bytes((len(raw),)) + raw)
    parts.append(bytes(index) if len(table) < 255 else struct.pack(f"<{len(index)}H", *index))
    return b"".join(parts)


def split_by_origin(origins: Sequence[Origin | None]) -> list[int]:
    """Where to cut a batch so that every member's ``SO`` fits FEXTRA: the end index of each piece (one piece,
    ``[len(origins)]``, unless the batch is very large or has very many distinct origins)."""
    cuts: list[int] = []
    table: set[Origin] = set()
    names = 2
    count = 0
    for i, origin in enumerate(origins):
        extra = 0
        if origin is not None and origin not in table:
            extra = 2 + sum(min(len((n or "").encode()), _MAX_NAME) for n in origin)
        size = len(table) + (extra > 0)
        if names + extra + (count + 1) * origin_cost(size) > MAX_ORIGIN_FIELD:
            cuts.append(i)
            table, names, count = set(), 2, 0
            if origin is not None:
                extra = 2 + sum(min(len((n or "").encode()), _MAX_NAME) for n in origin)
        if origin is not None and origin not in table:
            table.add(origin)
            names += extra
        count += 1
    cuts.append(len(origins))
    return cuts


def decode_origins(field: bytes | None, records: int) -> list[Origin | None]:
    """Each record's origin from an ``SO`` subfield (all ``None`` without one, or for a damaged one)."""
    unknown: list[Origin | None] = [None] * records
    if not field or len(field) < 2:
        return unknown
    try:
        (n,) = _U16.unpack_from(field, 0)
        at = 2
        table: list[Origin | None] = [None]
        for _ in range(n):
            names = []
            for _ in range(2):
                length = field[at]
                names.append(field[at + 1 : at + 1 + length].decode() or None)
                at += 1 + length
            table.append(Origin(names[0], names[1]))
        width = origin_cost(n)
        if len(field) - at != records * width:
            return unknown
        index = field[at:] if width == 1 else struct.unpack(f"<{records}H", field[at:])
        return [table[i] for i in index]
    except (IndexError, UnicodeDecodeError, struct.error):
        return unknown
