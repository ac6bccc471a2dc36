"""ssmd.archive.open: what it yields, in which order, and how it filters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from _archive_factory import ticker, trade

import ssmd.archive
from ssmd.kalshi.frames import frame_time_ms
from ssmd.testing import write_day

T0 = 1_770_897_976  # 2026-02-12T12:06:16Z


def _two_days(root: Path, samples: list[bytes]) -> list[bytes]:
    write_day(root, "2026-02-12", [("1200.jsonl.gz", samples[:10]), ("1200_2.jsonl.gz", samples[10:12]),
                                   ("1200_10.jsonl.gz", samples[12:20])])
    write_day(root, "2026-02-13", [("0000.jsonl.gz", samples[20:])])
    return samples


def test_root_yields_every_frame_byte_for_byte_in_file_order(tmp_path: Path, samples: list[bytes]) -> None:
    """Reading the archive root gives every frame, unchanged, in file order (1200_10 after 1200_2) across days."""
    expected = _two_days(tmp_path, samples)
    frames = list(ssmd.archive.open(tmp_path))
    assert [f.raw for f in frames] == expected
    assert Path(frames[11].file).name == "1200_2.jsonl.gz"
    assert Path(frames[12].file).name == "1200_10.jsonl.gz"
    assert [f.line for f in frames[:3]] == [1, 2, 3]


def test_feed_day_and_file_paths_are_accepted(tmp_path: Path, samples: list[bytes]) -> None:
    """A feed dir, a day dir and a single file each yield exactly their own frames."""
    _two_days(tmp_path, samples)
    assert len(list(ssmd.archive.open(tmp_path / "kalshi"))) == len(samples)
    assert [f.raw for f in ssmd.archive.open(tmp_path / "kalshi" / "2026-02-13")] == samples[20:]
    one = tmp_path / "kalshi" / "2026-02-12" / "1200_2.jsonl.gz"
    assert [f.raw for f in ssmd.archive.open(one)] == samples[10:12]
    assert len(list(ssmd.archive.open(tmp_path, feed="kalshi"))) == len(samples)


def test_routing_fields_match_the_frame(tmp_path: Path, samples: list[bytes]) -> None:
    """type, ticker and ts_ms are the frame's own, with frame_time_ms rules for the time."""
    _two_days(tmp_path, samples)
    for frame in ssmd.archive.open(tmp_path):
        data = orjson.loads(frame.raw)
        assert frame.type == data["type"]
        assert frame.ticker == data["msg"]["market_ticker"]
        assert frame.ts_ms == frame_time_ms(data)
        assert frame.seq is None


def test_types_filter_accepts_frame_types_and_subject_tokens(tmp_path: Path, samples: list[bytes]) -> None:
    """types=['trade'] keeps trades only; the subject token 'lifecycle' selects market_lifecycle_v2 frames."""
    _two_days(tmp_path, samples)
    trades = list(ssmd.archive.open(tmp_path, types=["trade"]))
    assert trades and {f.type for f in trades} == {"trade"}
    assert len(trades) == sum(1 for s in samples if orjson.loads(s)["type"] == "trade")
    lifecycle = list(ssmd.archive.open(tmp_path, types="lifecycle"))
    assert [f.type for f in lifecycle] == ["market_lifecycle_v2", "market_lifecycle_v2"]


def test_tickers_filter_uses_the_raw_dotted_ticker(tmp_path: Path, samples: list[bytes]) -> None:
    """A dotted ticker (sanitised in subjects) matches by its raw exchange spelling."""
    _two_days(tmp_path, samples)
    frames = list(ssmd.archive.open(tmp_path, tickers=["KXBTCD-26FEB1217-T67749.99"]))
    assert len(frames) == 4
    assert all(f.ticker == "KXBTCD-26FEB1217-T67749.99" for f in frames)


def test_start_end_filter_on_frame_time(tmp_path: Path) -> None:
    """Only frames with start <= ts < end come back; files entirely outside the window are not opened."""
    frames = [trade(f"id{i}", T0 + i * 60, seq=i) for i in range(10)]
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", frames)])
    write_day(tmp_path, "2026-02-14", [("1200.jsonl.gz", [b"not gzip ever read"])])
    (tmp_path / "kalshi" / "2026-02-14" / "1200.jsonl.gz").write_bytes(b"corrupt: must be skipped")
    start = dt.datetime.fromtimestamp(T0 + 120, dt.UTC)
    got = list(ssmd.archive.open(tmp_path, start=start, end=(T0 + 300) * 1000))
    assert [orjson.loads(f.raw)["msg"]["trade_id"] for f in got] == ["id2", "id3", "id4"]


def test_end_as_a_bare_date_includes_that_day(tmp_path: Path) -> None:
    """end='2026-02-12' reads the whole of 2026-02-12 and nothing after it."""
    write_day(tmp_path, "2026-02-12", [("2300.jsonl.gz", [ticker(T0 + 11 * 3600)])])
    write_day(tmp_path, "2026-02-13", [("0100.jsonl.gz", [ticker(T0 + 13 * 3600)])])
    assert len(list(ssmd.archive.open(tmp_path, start="2026-02-12", end="2026-02-12"))) == 1


def test_envelope_lines_yield_the_raw_frame_and_stream_seq(tmp_path: Path, samples: list[bytes]) -> None:
    """format: envelope gives back the exchange frame byte for byte (also a non-JSON one) and its NATS seq."""
    frames = [*samples[:5], b"not json {", samples[5]]
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", frames)], fmt="envelope", first_seq=100)
    got = list(ssmd.archive.open(tmp_path))
    assert [f.raw for f in got] == frames
    assert [f.seq for f in got] == list(range(100, 107))
    assert got[5].type is None


def test_tmp_files_are_never_read(tmp_path: Path, samples: list[bytes]) -> None:
    """A .tmp file is still being written: readers skip it."""
    day = write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", samples[:3])])
    (day / "1215.jsonl.gz.tmp").write_bytes(b"partial")
    assert len(list(ssmd.archive.open(tmp_path))) == 3


def test_a_path_that_is_not_an_archive_is_a_clear_error(tmp_path: Path) -> None:
    """A missing path or an empty directory raises ArchiveError naming the path."""
    with pytest.raises(ssmd.archive.ArchiveError, match="no such file"):
        list(ssmd.archive.open(tmp_path / "nope"))
    with pytest.raises(ssmd.archive.ArchiveError, match="not an archive"):
        list(ssmd.archive.open(tmp_path))


def test_a_truncated_file_is_named_after_every_readable_frame(tmp_path: Path, samples: list[bytes]) -> None:
    """A damaged file does not stop the read: the frames of the files around it come back, then ArchiveError
    (ArchiveProblems) names the damaged file as bad_gzip."""
    day = write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", samples[:10]), ("1215.jsonl.gz", samples[10:20]),
                                             ("1230.jsonl.gz", samples[20:])])
    blob = (day / "1215.jsonl.gz").read_bytes()
    (day / "1215.jsonl.gz").write_bytes(blob[:40])
    seen = []
    with pytest.raises(ssmd.archive.ArchiveError, match=r"the first: kalshi/2026-02-12/1215\.jsonl\.gz: bad_gzip"):
        for frame in ssmd.archive.open(tmp_path):
            seen.append(frame.raw)
    assert seen == samples[:10] + samples[20:]
