"""Benchmark: reading, verifying and exporting a generated archive, against a bare-gzip ceiling measured here.

Prints one JSON object. Default 1,000,000 realistic frames (tickers, trades, an order book per market then its
deltas, in the current and legacy wire formats) in a temp dir; ``--frames N`` changes the size. Targets, against
the ceilings measured in the same run: read >= 500,000 frames/s; ``ssmd archive export --to parquet`` (typed
tables and ``book_top``) >= 0.5x a bare single-threaded gunzip + line split (``ceiling_gzip_fps``), on one core
and with ``--jobs`` = the number of cores.

    .venv/bin/python bench/archive_read.py [--frames 1000000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import itertools
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson
from isal import igzip

import ssmd.archive
from ssmd.archive.export import run_export
from ssmd.archive.verify import verify

DAY = "2026-02-12"
T0 = 1_770_897_600
PER_FILE = 250_000


def _frames(count: int) -> list[bytes]:
    rng = random.Random(7)
    tickers = [f"KXBTCD-26FEB{d:02d}17-T{67000 + 250 * k}.99" for d in range(10, 14) for k in range(25)]
    out = []
    trade_seq = itertools.count(1)
    delta_seq = itertools.count(1)
    for market in tickers:  # the book of every market first, so book_top has something valid to show
        out.append(orjson.dumps({"type": "orderbook_snapshot", "sid": 3, "seq": next(delta_seq), "msg": {
            "market_ticker": market, "yes_dollars_fp": [[f"{p / 100:.4f}", f"{10 * p}.00"] for p in range(1, 50)],
            "no_dollars_fp": [[f"{p / 100:.4f}", f"{10 * p}.00"] for p in range(1, 50)], "ts_ms": T0 * 1000}}))
    for i in range(count - len(out)):
        market = tickers[i % len(tickers)]
        ts = T0 + i // 200
        price = rng.randint(1, 99)
        roll = i % 10
        if roll < 6:
            frame = {"type": "ticker", "sid": 1, "msg": {
                "market_id": "e6e858e7-a314-489c-82eb-4039d5f19558", "market_ticker": market, "price": price,
                "yes_bid": price - 1, "yes_ask": price + 1, "price_dollars": f"{price / 100:.4f}",
                "yes_bid_dollars": f"{(price - 1) / 100:.4f}", "yes_ask_dollars": f"{(price + 1) / 100:.4f}",
                "volume": 1170 + i, "volume_fp": f"{1170 + i}.00", "open_interest": 314, "open_interest_fp": "314.00",
                "dollar_volume": 585, "dollar_open_interest": 157, "yes_bid_size_fp": "195.00",
                "yes_ask_size_fp": "0.00", "last_trade_size_fp": "0.00", "ts": ts, "Clock": 13281241659 + i}}
        elif roll < 9:
            frame = {"type": "trade", "sid": 2, "seq": next(trade_seq), "msg": {
                "trade_id": f"{rng.getrandbits(128):032x}", "market_ticker": market,
                "yes_price_dollars": f"{price / 100:.4f}", "no_price_dollars": f"{(100 - price) / 100:.4f}",
                "count_fp": f"{rng.randint(1, 500)}.00", "taker_side": "yes" if price % 2 else "no", "ts": ts}}
        else:
            frame = {"type": "orderbook_delta", "sid": 3, "seq": next(delta_seq), "msg": {
                "market_ticker": market, "price_dollars": f"{price / 100:.4f}",
                "delta_fp": f"{rng.randint(-50, 50)}.00", "side": "yes", "ts_ms": ts * 1000 + i % 1000}}
        out.append(orjson.dumps(frame))
    return out


def _write_archive(root: Path, frames: list[bytes]) -> tuple[int, int]:
    day_dir = root / "kalshi" / DAY
    day_dir.mkdir(parents=True)
    entries = []
    raw_bytes = compressed = 0
    for index, start in enumerate(range(0, len(frames), PER_FILE)):
        chunk = frames[start:start + PER_FILE]
        body = b"\n".join(chunk) + b"\n"
        blob = igzip.compress(body, compresslevel=2)
        name = f"{12 + index // 4:02d}{(index % 4) * 15:02d}.jsonl.gz"
        (day_dir / name).write_bytes(blob)
        raw_bytes += len(body)
        compressed += len(blob)
        entries.append({"name": name, "records": len(chunk), "bytes": len(body), "compressed_bytes": len(blob),
                        "sha256": hashlib.sha256(blob).hexdigest()})
    manifest = {"version": 1, "feed": "kalshi", "date": DAY, "format": "jsonl", "rotation_interval": "15m",
                "files": entries, "gaps": [], "has_gaps": False}
    (day_dir / "manifest.json").write_bytes(orjson.dumps(manifest))
    return raw_bytes, compressed


def _ceiling(root: Path, opener: object) -> float:
    started = time.perf_counter()
    lines = 0
    for path in sorted((root / "kalshi" / DAY).glob("*.jsonl.gz")):
        with opener(path, "rb") as stream:  # type: ignore[operator]
            rest = b""
            while chunk := stream.read(1 << 20):
                parts = (rest + chunk).split(b"\n")
                rest = parts.pop()
                lines += len(parts)
    return lines / (time.perf_counter() - started)


def _rate(count: int, started: float) -> float:
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for the parallel export")
    parser.add_argument("--rounds", type=int, default=3, help="ceiling/export alternations (the best one counts)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ssmd-bench-") as tmp:
        root = Path(tmp) / "arc"
        t = time.perf_counter()
        raw_bytes, compressed = _write_archive(root, _frames(args.frames))
        generate_s = time.perf_counter() - t

        ceiling_gzip = _ceiling(root, gzip.open)
        ceiling_isal = _ceiling(root, igzip.open)

        t = time.perf_counter()
        read = sum(1 for _ in ssmd.archive.open(root))
        read_fps = _rate(read, t)

        t = time.perf_counter()
        typed = sum(1 for f in ssmd.archive.open(root) if f.type == "trade")
        routed_fps = _rate(read, t)

        t = time.perf_counter()
        trades = sum(1 for _ in ssmd.archive.open(root, types=["trade"]))
        filtered_fps = _rate(read, t)

        t = time.perf_counter()
        report = verify(root, show_progress=False)
        verify_fps = _rate(read, t)

        # The load of a shared box comes and goes within seconds: alternate the ceiling and the exports and keep
        # the best of each (the least disturbed run), and compare CPU time too, which load disturbs less.
        gzip_ref = export_fps = export_jobs_fps = 0.0
        gzip_cpu = export_cpu = float("inf")
        for _ in range(args.rounds):
            c = time.process_time()
            gzip_ref = max(gzip_ref, _ceiling(root, gzip.open))
            gzip_cpu = min(gzip_cpu, time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            summary = run_export(root, Path(tmp) / "out", show_progress=False, overwrite=True)
            export_fps = max(export_fps, _rate(summary["frames"] + summary["not_exported"], t))
            export_cpu = min(export_cpu, time.process_time() - c)
            t = time.perf_counter()
            parallel = run_export(root, Path(tmp) / "out-jobs", show_progress=False, jobs=args.jobs, overwrite=True)
            export_jobs_fps = max(export_jobs_fps, _rate(parallel["frames"] + parallel["not_exported"], t))

    result = {
        "frames": read,
        "uncompressed_mb": round(raw_bytes / 1e6, 1),
        "compressed_mb": round(compressed / 1e6, 1),
        "generate_s": round(generate_s, 1),
        "ceiling_gzip_fps": round(ceiling_gzip),
        "ceiling_isal_fps": round(ceiling_isal),
        "read_fps": round(read_fps),
        "read_with_type_fps": round(routed_fps),
        "read_filtered_trades_fps": round(filtered_fps),
        "verify_fps": round(verify_fps),
        "ceiling_gzip_around_export_fps": round(gzip_ref),
        "ceiling_gzip_cpu_us_per_frame": round(gzip_cpu * 1e6 / read, 2),
        "export_cpu_us_per_frame": round(export_cpu * 1e6 / read, 2),
        "export_vs_gzip_ceiling_cpu": round(gzip_cpu / export_cpu, 2),
        "export_parquet_fps": round(export_fps),
        f"export_parquet_jobs{args.jobs}_fps": round(export_jobs_fps),
        "export_frames": summary["frames"],
        "export_rows": summary["rows"],
        "export_vs_gzip_ceiling": round(export_fps / gzip_ref, 2),
        f"export_jobs{args.jobs}_vs_gzip_ceiling": round(export_jobs_fps / gzip_ref, 2),
        "export_target": 0.5,
        "export_meets_target": export_fps >= 0.5 * gzip_ref,
        f"export_jobs{args.jobs}_meets_target": export_jobs_fps >= 0.5 * gzip_ref,
        "read_vs_gzip_ceiling": round(read_fps / ceiling_gzip, 2),
        "read_vs_isal_ceiling": round(read_fps / ceiling_isal, 2),
        "target_read_fps": 500_000,
        "meets_target": read_fps >= 500_000,
        "checks": {"verify_ok": report.ok, "trades": trades, "typed_trades": typed,
                   "same_rows_with_jobs": parallel["rows"] == summary["rows"]},
        "python": sys.version.split()[0],
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
