"""Self-describing gzip members: one per durable batch, carrying its stream-sequence range.

Every batch becomes one complete gzip member whose header's FEXTRA field (subfield ``SM``) records the first and
last stream sequence, the record count and the compressed length. Any gzip reader ignores the field and reads
the concatenated members as one stream; recovery after ``kill -9`` reads it to find the last complete member
(the durable point) and the last sequence written, without a sidecar file that could disagree with the data.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import isal.isal_zlib as isal_zlib

Codec = Literal["isal", "zlib"]

_MAGIC = b"\x1f\x8b\x08"
_FLG_FEXTRA = 0x04
_SUBFIELD = b"SM"
_INFO = struct.Struct("<QQIQ")  # first_seq, last_seq, records, compressed length
_XLEN = 4 + _INFO.size
_HEADER = struct.Struct(f"<3sBIBBH2sH{_INFO.size}s")
HEADER_SIZE = _HEADER.size
_TRAILER = struct.Struct("<II")


@dataclass(frozen=True)
class MemberInfo:
    first_seq: int
    last_seq: int
    records: int
    offset: int
    """Byte offset of the member in the file."""
    end: int
    """Byte offset just past the member's trailer."""


def compressor(codec: Codec, level: int) -> Callable[[bytes], bytes]:
    """A raw-deflate function for ``codec`` (ISA-L is ~10x faster than zlib at a similar ratio)."""
    if codec == "isal":
        return lambda data: isal_zlib.compress(data, level, -15)
    return lambda data: _zlib_raw(data, level)


def _zlib_raw(data: bytes, level: int) -> bytes:
    obj = zlib.compressobj(level, zlib.DEFLATED, -15)
    return obj.compress(data) + obj.flush()


def encode_member(
    payload: bytes, first_seq: int, last_seq: int, records: int, deflate: Callable[[bytes], bytes]
) -> bytes:
    """One complete gzip member holding ``payload`` and its sequence range."""
    body = deflate(payload)
    info = _INFO.pack(first_seq, last_seq, records, len(body))
    header = _HEADER.pack(_MAGIC, _FLG_FEXTRA, 0, 0, 255, _XLEN, _SUBFIELD, _INFO.size, info)
    trailer = _TRAILER.pack(isal_zlib.crc32(payload) & 0xFFFFFFFF, len(payload) & 0xFFFFFFFF)
    return b"".join((header, body, trailer))


def scan_members(data: bytes) -> Iterator[tuple[MemberInfo, bytes]]:
    """Yield each complete, CRC-valid member with its decompressed payload; stop at the first torn one.

    A member cut short by a crash (or with a bad CRC) ends the scan: everything before it is the durable
    prefix of the file.
    """
    offset = 0
    size = len(data)
    while offset + HEADER_SIZE <= size:
        magic, flg, _, _, _, xlen, sub, sublen, info = _HEADER.unpack_from(data, offset)
        if magic != _MAGIC or flg != _FLG_FEXTRA or xlen != _XLEN or sub != _SUBFIELD or sublen != _INFO.size:
            return
        first, last, records, clen = _INFO.unpack(info)
        body_start = offset + HEADER_SIZE
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
        yield MemberInfo(first, last, records, offset, end), payload
        offset = end
