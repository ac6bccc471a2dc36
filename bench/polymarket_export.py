"""Benchmark: ``ssmd archive export`` of a Polymarket archive, against a bare gunzip + line split of the same files.

Polymarket's export parses its frames in Python (``ssmd.polymarket.export``), where Kalshi's goes through column
readers; this measures what that costs. The frames come from the Polymarket simulator's market model: a ``book``
per token, then orders, cancels and trades (``price_change``, ``last_trade_price``) and lifecycle frames. CPU time
per frame, best of ``--rounds``, export against the gunzip ceiling of the same run. Prints one JSON object.

    .venv/bin/python bench/polymarket_export.py [--frames 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import orjson
from isal import igzip

from ssmd.archive.export import run_export
from ssmd.polymarket.sim.model import MarketModel
from ssmd.testing import write_archive

T0_MS = 1_770_897_600_000
PER_FILE = 100_000


def _frames(count: int) -> list[bytes]:
    model = MarketModel(200, seed=7, lifecycle_every=500)
    frames = [model.book(asset, T0_MS) for market in model.active for asset in market.tokens]
    now = T0_MS
    while len(frames) < count:
        now += 7
        frames.extend(frame.raw for frame in model.step(now))
    return frames[:count]


def _gunzip_cpu(root: Path) -> tuple[float, int]:
    started, lines = time.process_time(), 0
    for path in sorted(root.rglob("*.jsonl.gz")):
        with igzip.open(path, "rb") as stream:
            rest = b""
            while chunk := stream.read(1 << 20):
                parts = (rest + chunk).split(b"\n")
                rest = parts.pop()
                lines += len(parts)
    return time.process_time() - started, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2, help="ceiling/export alternations (the best one counts)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ssmd-bench-poly-") as tmp:
        root = write_archive(Path(tmp) / "archive", _frames(args.frames), feed="polymarket", per_file=PER_FILE)
        gzip_cpu = export_cpu = float("inf")
        lines, summary = 0, {}
        for _ in range(args.rounds):
            cpu, lines = _gunzip_cpu(root)
            gzip_cpu = min(gzip_cpu, cpu)
            started = time.process_time()
            summary = run_export(root, Path(tmp) / "out", show_progress=False, overwrite=True)
            export_cpu = min(export_cpu, time.process_time() - started)
    print(orjson.dumps({
        "bench": "polymarket_export", "frames": lines,
        "ceiling_gzip_cpu_us_per_frame": round(gzip_cpu * 1e6 / lines, 2),
        "export_cpu_us_per_frame": round(export_cpu * 1e6 / lines, 2),
        "export_vs_gzip_ceiling_cpu": round(gzip_cpu / export_cpu, 3),
        "rows": summary.get("rows"),
        "note": "CPU time, best of the rounds; export = typed Parquet tables of every Polymarket event type",
    }).decode())


if __name__ == "__main__":
    main()
