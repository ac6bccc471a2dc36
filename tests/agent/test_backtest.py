"""Backtests over real archive files (docs/archive-format.md) through `ssmd agent backtest`."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow.parquet as pq
from _agent_frames import T0, ticker, trade
from click.testing import CliRunner

from ssmd.agent.backtest import run_backtest
from ssmd.agent.cli import agent_group
from ssmd.agent.loader import load_signals
from ssmd.testing import write_archive

M = "KXBTCD-26FEB1217-T67749.99"
MIN = 60_000


def _frames() -> list[bytes]:
    """Price crosses 0.60 at T0+1s, then trades at +30s, +2m, +10m, +20m."""
    prices = [(0, 0.55), (1000, 0.61), (30_000, 0.63), (2 * MIN, 0.66), (10 * MIN, 0.58), (20 * MIN, 0.70)]
    return [trade(M, p, 5, "yes", T0 + dt) for dt, p in prices]


def test_price_move_after_fire_at_1_5_15_minutes() -> None:
    """Each fire records the last price at the fire and at +1/+5/+15 minutes of exchange time."""
    result = run_backtest([(f, None) for f in _frames()], load_signals(["price_cross[threshold=0.6,direction=up]"]))
    outcome = result.outcomes[0]
    assert outcome.price == 0.61
    assert outcome.moves == {"1m": 0.02, "5m": 0.05, "15m": -0.03}


def test_horizon_beyond_data_is_unknown() -> None:
    """When the archive ends before a horizon, the move is None (unknown), never 0."""
    result = run_backtest([(f, None) for f in _frames()[:3]], load_signals(["price_cross[threshold=0.6]"]))
    assert result.outcomes[0].moves == {"1m": None, "5m": None, "15m": None}


def test_cli_backtest_writes_fires_and_summary(tmp_path: Path) -> None:
    """`ssmd agent backtest` reads the archive, writes fires as JSON lines and prints a JSON summary."""
    root = write_archive(tmp_path / "data", _frames(), per_file=2)
    out = tmp_path / "fires.jsonl"
    result = CliRunner().invoke(agent_group, ["backtest", "--signals", "price_cross[threshold=0.6]", "--archive",
                                              str(root), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.output)
    assert summary["frames"] == 6 and summary["fires"] == 3
    assert summary["signals"]["price_cross"]["markets"] == {M: 3}
    fires = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [(f["values"]["direction"], f["ts_ms"]) for f in fires] == [
        ("up", T0 + 1000), ("down", T0 + 10 * MIN), ("up", T0 + 20 * MIN)]
    assert fires[0]["move"] == {"1m": 0.02, "5m": 0.05, "15m": -0.03}


def test_cli_backtest_table_for_people(tmp_path: Path) -> None:
    """Without --json the summary is a table with one row per signal."""
    root = write_archive(tmp_path / "data", _frames())
    result = CliRunner().invoke(agent_group, ["backtest", "--signals", "price_cross[threshold=0.6]",
                                              "--archive", str(root)])
    assert result.exit_code == 0, result.output
    assert "6 frames, 1 markets, 3 fires" in result.output
    assert any(line.startswith("price_cross") and " 3 " in line for line in result.output.splitlines())


def test_cli_backtest_time_window(tmp_path: Path) -> None:
    """--from/--to keep only frames whose exchange time is in the window."""
    root = write_archive(tmp_path / "data", _frames())
    result = CliRunner().invoke(agent_group, [
        "backtest", "--signals", "price_cross[threshold=0.6]", "--archive", str(root), "--json",
        "--from", str(T0 + 90_000), "--to", str(T0 + 30 * MIN)])
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.output)
    assert summary["frames"] == 3 and summary["fires"] == 2  # 0.66 -> 0.58 down, 0.58 -> 0.70 up


def test_cli_backtest_parquet_output(tmp_path: Path) -> None:
    """A .parquet --out writes one row per fire with the move columns."""
    root = write_archive(tmp_path / "data", _frames())
    out = tmp_path / "fires.parquet"
    result = CliRunner().invoke(agent_group, ["backtest", "--signals", "price_cross[threshold=0.6]", "--archive",
                                              str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out).to_pylist()
    assert [row["move_1m"] for row in table] == [0.02, 0.0, None]  # the last fire has no later data


def test_cli_backtest_types_filter_matches_a_live_subject_filter(tmp_path: Path) -> None:
    """--types trade replays only trade frames (as NATS_SUBJECTS=env.kalshi.json.trade.> would deliver)."""
    frames = [ticker(M, T0, price=0.55), ticker(M, T0 + 1, price=0.65), trade(M, 0.55, 1, "yes", T0 + 2),
              trade(M, 0.50, 1, "yes", T0 + 3)]
    root = write_archive(tmp_path / "data", frames)
    args = ["backtest", "--signals", "price_cross[threshold=0.6]", "--archive", str(root), "--json"]
    everything = orjson.loads(CliRunner().invoke(agent_group, args).output)
    trades_only = orjson.loads(CliRunner().invoke(agent_group, [*args, "--types", "trade"]).output)
    assert (everything["frames"], everything["fires"]) == (4, 2)  # ticker up-cross, then trade down-cross
    assert (trades_only["frames"], trades_only["fires"]) == (2, 0)
