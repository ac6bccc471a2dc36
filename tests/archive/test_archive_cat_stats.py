"""ssmd archive cat and stats, typed values from the reader, and progress output."""

from __future__ import annotations

import io
import logging
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

import ssmd.archive
from ssmd.archive._progress import Progress
from ssmd.archive.cli import archive_group
from ssmd.kalshi.frames import frame_time_ms
from ssmd.kalshi.values import MarketLifecycle, Ticker, Trade
from ssmd.testing import write_day


def test_cat_prints_matching_frames_byte_for_byte(tmp_path: Path, samples: list[bytes]) -> None:
    """cat --types trade --limit 3 prints the first three trades exactly as archived, one per line."""
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", samples)])
    result = CliRunner().invoke(archive_group, ["cat", str(tmp_path), "--types", "trade", "--limit", "3"])
    assert result.exit_code == 0
    trades = [s for s in samples if orjson.loads(s)["type"] == "trade"]
    assert result.stdout_bytes == b"".join(t + b"\n" for t in trades[:3])


def test_cat_on_a_non_archive_is_exit_2(tmp_path: Path) -> None:
    """cat on a directory without an archive exits 2 and says what layout was expected."""
    result = CliRunner().invoke(archive_group, ["cat", str(tmp_path)])
    assert result.exit_code == 2 and "not an archive" in result.stderr


def test_stats_counts_by_type_ticker_and_hour(tmp_path: Path, samples: list[bytes]) -> None:
    """stats --json counts every frame by type, by raw ticker and by UTC hour of exchange time."""
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", samples[:20]), ("1215.jsonl.gz", samples[20:])])
    result = CliRunner().invoke(archive_group, ["stats", str(tmp_path), "--json"])
    assert result.exit_code == 0
    stats = orjson.loads(result.stdout)
    assert stats["frames"] == len(samples)
    assert stats["by_type"] == {"ticker": 13, "trade": 11, "market_lifecycle_v2": 2}
    assert stats["by_ticker"]["KXBTCD-26FEB1217-T67749.99"] == 4
    hour_start = 1_770_897_600_000  # 2026-02-12T12:00Z
    in_hour = sum(1 for s in samples if hour_start <= (frame_time_ms(orjson.loads(s)) or 0) < hour_start + 3_600_000)
    assert stats["by_hour"]["2026-02-12T12:00Z"] == in_hour == 20
    assert sum(stats["by_hour"].values()) == len(samples)


def test_stats_table_for_people(tmp_path: Path, samples: list[bytes]) -> None:
    """Without --json, stats prints aligned tables headed TYPE, TICKER and HOUR (UTC)."""
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", samples)])
    result = CliRunner().invoke(archive_group, ["stats", str(tmp_path), "--top", "2"])
    assert result.exit_code == 0
    assert f"{len(samples)} frames" in result.stdout
    assert "TYPE" in result.stdout and "HOUR (UTC)" in result.stdout


def test_value_is_the_typed_frame_in_dollars(tmp_path: Path, samples: list[bytes]) -> None:
    """frame.value parses with ssmd.kalshi.values: trades and tickers in dollars, lifecycle events typed; a control
    frame has no value; parsed=True fills it while reading."""
    control = b'{"id":1,"type":"subscribed","msg":{"channel":"trade","sid":2}}'
    write_day(tmp_path, "2026-02-12", [("1200.jsonl.gz", [*samples, control])])
    frames = list(ssmd.archive.open(tmp_path, parsed=True))
    values = [f.value for f in frames]
    assert isinstance(values[0], Ticker) and values[0].price == Decimal("0.12")
    trade = next(v for v in values if isinstance(v, Trade))
    assert (trade.yes_price, trade.count, trade.taker_side) == (Decimal("0.77"), Decimal("75"), "yes")
    assert isinstance(values[-2], MarketLifecycle)
    assert values[-1] is None


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_on_a_terminal_and_logs_otherwise(caplog: pytest.LogCaptureFixture) -> None:
    """On a TTY progress redraws one line with a bar; elsewhere it writes plain log lines and no escape codes."""
    tty = _Terminal()
    bar = Progress("verify", total=4, stream=tty)
    bar.every_s = 0.0
    bar.advance(2)
    assert "\r" in tty.getvalue() and "[###############...............]" in tty.getvalue()
    plain = io.StringIO()
    with caplog.at_level(logging.INFO, logger="ssmd.archive"):
        lines = Progress("sync", total=4, stream=plain, every_s=0.0)
        lines.advance(1)
        lines.finish("done")
    assert plain.getvalue() == ""
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["sync: 1/4 files", "sync: done"]
