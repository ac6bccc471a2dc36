"""Backtests: archived frames through the same :class:`Engine` as live, plus what happened after each fire.

For every fire the summary records the market's last traded price at the fire and 1, 5 and 15 minutes of
exchange time later (the last price at or before that moment), resolved as the stream clock passes each
horizon, so memory grows with fires, not with frames.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ssmd.agent.engine import Engine
from ssmd.agent.signal import Fire, Signal
from ssmd.agent.state import PriceHistory
from ssmd.feed import Feed

HORIZONS: tuple[tuple[str, int], ...] = (("1m", 60_000), ("5m", 300_000), ("15m", 900_000))


@dataclass(slots=True)
class FireOutcome:
    fire: Fire
    price: float | None
    moves: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.fire.to_dict(), "price": self.price, "move": {k: self.moves.get(k) for k, _ in HORIZONS}}


@dataclass(slots=True)
class BacktestResult:
    outcomes: list[FireOutcome]
    frames: int
    unparsed: int
    markets: int
    elapsed_s: float
    signal_errors: dict[str, int]

    @property
    def fires(self) -> list[Fire]:
        return [o.fire for o in self.outcomes]

    def summary(self) -> dict[str, Any]:
        """Fires per signal and per market, and the mean / count of price moves per horizon per signal."""
        per_signal: dict[str, dict[str, Any]] = {}
        by_market: dict[str, Counter[str]] = defaultdict(Counter)
        for outcome in self.outcomes:
            fire = outcome.fire
            by_market[fire.signal][fire.market] += 1
            entry = per_signal.setdefault(fire.signal, {"fires": 0, "moves": {k: [] for k, _ in HORIZONS}})
            entry["fires"] += 1
            for key, _ in HORIZONS:
                move = outcome.moves.get(key)
                if move is not None:
                    entry["moves"][key].append(move)
        signals = {}
        for name, entry in per_signal.items():
            moves = {}
            for key, values in entry["moves"].items():
                moves[key] = {
                    "n": len(values),
                    "mean": round(sum(values) / len(values), 6) if values else None,
                    "up": sum(1 for v in values if v > 0),
                    "down": sum(1 for v in values if v < 0),
                }
            signals[name] = {"fires": entry["fires"], "markets": dict(by_market[name].most_common()), "move": moves}
        return {
            "frames": self.frames,
            "unparsed": self.unparsed,
            "markets": self.markets,
            "fires": len(self.outcomes),
            "elapsed_s": round(self.elapsed_s, 3),
            "frames_per_s": round(self.frames / self.elapsed_s) if self.elapsed_s > 0 else None,
            "signal_errors": {k: v for k, v in self.signal_errors.items() if v},
            "signals": signals,
        }


def run_backtest(frames: Iterable[tuple[bytes | str, int | None]], signals: Sequence[Signal[Any]],
                 feed: Feed | None = None) -> BacktestResult:
    """Evaluate ``signals`` over ``(raw, seq)`` frames of ``feed`` (default Kalshi) in order (the archive's order
    is the stream's order)."""
    engine = Engine(signals, feed)
    outcomes: list[FireOutcome] = []
    pending: list[tuple[int, int, str]] = []  # (deadline ts, outcome index, horizon key)
    on_frame = engine.on_frame
    markets = engine.markets
    started = time.perf_counter()
    for raw, seq in frames:
        fires = on_frame(raw, seq)
        if pending:
            clock = engine.clock
            while pending and clock is not None and pending[0][0] <= clock:
                deadline, index, key = heapq.heappop(pending)
                outcome = outcomes[index]
                later = price_at(markets[outcome.fire.market].prices, deadline)
                outcome.moves[key] = _move(outcome.price, later)
        for fire in fires:
            outcome = FireOutcome(fire, markets[fire.market].prices.last)
            outcomes.append(outcome)
            if fire.ts_ms is not None:
                for key, horizon in HORIZONS:
                    heapq.heappush(pending, (fire.ts_ms + horizon, len(outcomes) - 1, key))
    elapsed = time.perf_counter() - started
    for _, index, key in pending:  # the data ended before these horizons: unknown, not zero
        outcomes[index].moves[key] = None
    return BacktestResult(outcomes, engine.frames, engine.unparsed, len(markets), elapsed, dict(engine.errors))


def price_at(prices: PriceHistory, ts_ms: int) -> float | None:
    """The last price at or before ``ts_ms`` that the history still holds."""
    for ts, price in reversed(prices.history):
        if ts <= ts_ms:
            return price
    return None


def _move(before: float | None, after: float | None) -> float | None:
    if before is None or after is None:
        return None
    return round(after - before, 6)


def archive_frames(
    path: Path,
    start: str | None = None,
    end: str | None = None,
    types: Sequence[str] | None = None,
    tickers: Sequence[str] | None = None,
    raw: bool = False,
) -> Iterator[tuple[bytes, int | None]]:
    """``(raw, seq)`` of the frames in an archive (root, feed, day dir or file), in file order. ``types`` (frame types
    or subject tokens such as ``orderbook``) and ``tickers`` select the frames a live subject filter would. The merged
    view by default; ``raw=True``: every archived copy, i.e. exactly what a live agent on the stream consumed."""
    import ssmd.archive

    for frame in ssmd.archive.open(path, start=_when(start), end=_when(end), types=types or None,
                                   tickers=tickers or None, raw=raw):
        yield frame.raw, frame.seq


def archive_feed(path: Path) -> Feed:
    """The feed of the archive at ``path``: its one feed directory's (a ValueError if it holds several)."""
    from ssmd.archive.reader import feed_for
    from ssmd.archive_format.days import find_days

    names = sorted({day.feed for day in find_days(path)})
    if len(names) > 1:
        raise ValueError(f"{path} holds the feeds {', '.join(names)}: point at one feed directory or pass --feed")
    return feed_for(names[0] if names else "kalshi")


def _when(value: str | None) -> str | int | None:
    """Epoch milliseconds on the command line arrive as digits; dates and ISO times pass through."""
    return int(value) if value is not None and value.isdigit() else value


def write_fires(path: Path, outcomes: Sequence[FireOutcome]) -> None:
    """JSON lines, or Parquet for a ``.parquet`` path (values kept as a JSON string column); written atomically."""
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise RuntimeError("writing Parquet needs pyarrow: pip install 'ssmd[parquet]'") from None
        rows = [o.to_dict() for o in outcomes]
        table = pa.table({
            "signal": [r["signal"] for r in rows],
            "market": [r["market"] for r in rows],
            "ts_ms": pa.array([r["ts_ms"] for r in rows], pa.int64()),
            "seq": pa.array([r["seq"] for r in rows], pa.int64()),
            "frame_type": [r["frame_type"] for r in rows],
            "values": [orjson.dumps(r["values"], default=str).decode() for r in rows],
            "price": pa.array([r["price"] for r in rows], pa.float64()),
            **{f"move_{k}": pa.array([r["move"][k] for r in rows], pa.float64()) for k, _ in HORIZONS},
        })
        pq.write_table(table, tmp, compression="zstd")
    else:
        with tmp.open("wb") as out:
            for outcome in outcomes:
                out.write(orjson.dumps(outcome.to_dict(), default=str) + b"\n")
    tmp.replace(path)


def format_summary(summary: dict[str, Any]) -> str:
    """A table for people: one row per signal with fire counts and mean moves (cents) per horizon."""
    lines = [
        f"{summary['frames']} frames, {summary['markets']} markets, {summary['fires']} fires "
        f"in {summary['elapsed_s']}s ({summary['frames_per_s']} frames/s)",
    ]
    if summary["unparsed"]:
        lines.append(f"{summary['unparsed']} frames were not JSON objects (skipped, counted)")
    for name, count in summary["signal_errors"].items():
        lines.append(f"signal {name} raised {count} times (see log)")
    if summary["signals"]:
        lines.append(f"{'signal':<24} {'fires':>6} {'mkts':>5}  {'1m':>14} {'5m':>14} {'15m':>14}")
        for name, entry in summary["signals"].items():
            cells = []
            for key in ("1m", "5m", "15m"):
                move = entry["move"][key]
                mean = "-" if move["mean"] is None else f"{move['mean'] * 100:+.2f}c"
                cells.append(f"{mean} n={move['n']}")
            lines.append(f"{name:<24} {entry['fires']:>6} {len(entry['markets']):>5}  "
                         + " ".join(f"{c:>14}" for c in cells))
    return "\n".join(lines)
