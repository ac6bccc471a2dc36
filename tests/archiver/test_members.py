"""Gzip members that carry their sequence range: readable by any gzip reader, recoverable after a crash."""

from __future__ import annotations

import gzip

import pytest

from ssmd.archive_format.members import compressor, encode_member, scan_members


@pytest.mark.parametrize("codec", ["isal", "zlib"])
def test_concatenated_members_read_as_one_gzip_stream(codec: str) -> None:
    """Standard gzip readers see the members as one stream: the file stays readable by zcat."""
    deflate = compressor(codec, 1)  # type: ignore[arg-type]
    blob = encode_member(b"a\nb\n", 1, 2, 2, deflate) + encode_member(b"c\n", 3, 3, 1, deflate)
    assert gzip.decompress(blob) == b"a\nb\nc\n"


def test_scan_reports_sequence_ranges_and_payloads() -> None:
    """Recovery learns each member's first/last sequence and record count from its header."""
    deflate = compressor("isal", 3)
    blob = encode_member(b"a\nb\n", 10, 11, 2, deflate) + encode_member(b"c\n", 15, 15, 1, deflate)
    found = list(scan_members(blob))
    assert [(i.first_seq, i.last_seq, i.records, p) for i, p in found] == [
        (10, 11, 2, b"a\nb\n"), (15, 15, 1, b"c\n")]
    assert found[-1][0].end == len(blob)


@pytest.mark.parametrize("cut", [1, 5, 20, 30])
def test_scan_stops_before_a_torn_member(cut: int) -> None:
    """A member cut short by a crash is not reported: the durable prefix ends before it."""
    deflate = compressor("isal", 3)
    first = encode_member(b"x" * 100 + b"\n", 1, 1, 1, deflate)
    second = encode_member(b"y" * 100 + b"\n", 2, 2, 1, deflate)
    found = list(scan_members(first + second[: len(second) - cut]))
    assert [i.last_seq for i, _ in found] == [1]


def test_scan_rejects_a_member_with_a_bad_crc() -> None:
    """Garbage that happens to look like a complete member is caught by the CRC check."""
    deflate = compressor("isal", 3)
    member = bytearray(encode_member(b"hello\n", 1, 1, 1, deflate))
    member[-8] ^= 0xFF
    assert list(scan_members(bytes(member))) == []
