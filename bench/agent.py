"""Agent throughput: frames/s through the state builders plus the built-in signals, in a backtest (in memory and
from a gzip archive on disk) and live (JetStream durable consumer, embedded nats-server), and the per-frame
evaluation p50/p99. Ceiling, measured in the same run: decoding the same frames with orjson and nothing else.
Prints one JSON object. Target: >= 100,000 frames/s backtest on one core.

    .venv/bin/python bench/agent.py [--frames 300000] [--live-frames 50000] [--markets 200] [--cpu 0]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

from ssmd.agent.backtest import archive_frames, run_backtest
from ssmd.agent.engine import Engine
from ssmd.agent.loader import load_signals

TARGET = 100_000
SIGNALS = ["price_cross[threshold=0.5]", "spread_wide[max_cents=5]", "volume_spike", "flow_imbalance",
           "market_status"]
T0 = 1_770_897_960_000


def frames(n: int, markets: int, seed: int = 1) -> list[bytes]:
    """A realistic mix in the current wire format: ~50 % trades, ~30 % tickers, ~18 % book deltas, some lifecycle."""
    rng = random.Random(seed)
    names = [f"KXBENCH-26FEB12-T{1000 + i}.99" for i in range(markets)]
    price = {m: rng.randint(5, 95) / 100 for m in names}
    out = [orjson.dumps({"type": "orderbook_snapshot", "sid": 3, "seq": i, "msg": {
        "market_ticker": m, "yes_dollars_fp": [["0.2000", "100.00"], ["0.3000", "10.00"]],
        "no_dollars_fp": [["0.6000", "50.00"]]}}) for i, m in enumerate(names)]
    ts = T0
    seq = len(out)
    for _ in range(n - len(out)):
        ts += rng.randint(0, 20)
        seq += 1
        m = names[int(rng.paretovariate(1.2)) % markets]
        roll = rng.random()
        p = price[m] = min(0.99, max(0.01, round(price[m] + rng.choice((-0.01, 0.0, 0.01)), 2)))
        if roll < 0.5:
            msg = {"type": "trade", "sid": 2, "seq": seq, "msg": {
                "trade_id": f"{seq:032x}", "market_ticker": m, "yes_price_dollars": f"{p:.4f}",
                "no_price_dollars": f"{1 - p:.4f}", "count_fp": f"{rng.randint(1, 500)}.00",
                "taker_side": rng.choice(("yes", "no")), "ts": ts // 1000, "ts_ms": ts}}
        elif roll < 0.8:
            msg = {"type": "ticker", "sid": 1, "msg": {
                "market_ticker": m, "market_id": "2ee24704-7e13-4248-97f5-3b7ffabf4325", "price_dollars": f"{p:.4f}",
                "yes_bid_dollars": f"{max(0.0, p - rng.choice((0.01, 0.02, 0.07))):.4f}",
                "yes_ask_dollars": f"{min(1.0, p + 0.01):.4f}", "yes_bid_size_fp": "14.00", "yes_ask_size_fp": "84.00",
                "volume_fp": "13446.00", "open_interest_fp": "892.00", "dollar_volume": 6723,
                "dollar_open_interest": 446, "last_trade_size_fp": "0.00", "ts": ts // 1000, "ts_ms": ts}}
        elif roll < 0.98:
            msg = {"type": "orderbook_delta", "sid": 3, "seq": seq, "msg": {
                "market_ticker": m, "price_dollars": f"{rng.randint(10, 60) / 100:.4f}",
                "delta_fp": f"{rng.choice((-5, 5, 10))}.00", "side": rng.choice(("yes", "no")), "ts_ms": ts}}
        else:
            msg = {"type": "market_lifecycle_v2", "sid": 4, "seq": seq, "msg": {
                "market_ticker": m, "event_type": rng.choice(("activated", "determined")), "result": "no",
                "determination_ts": ts // 1000}}
        out.append(orjson.dumps(msg))
    return out


def ceiling(data: list[bytes]) -> tuple[float, float]:
    """(wall, CPU) frames/s of decoding alone."""
    loads = orjson.loads
    start, cpu = time.perf_counter(), time.process_time()
    for raw in data:
        loads(raw)
    return len(data) / (time.perf_counter() - start), len(data) / (time.process_time() - cpu)


def backtest_memory(data: list[bytes]) -> tuple[float, float, int]:
    """(wall, CPU) frames/s of the backtest loop over frames already in memory, and the number of fires.

    CPU time is what "one core" means on a shared machine; wall time is what a user waits."""
    pairs = [(raw, None) for raw in data]
    signals = load_signals(SIGNALS)
    start, cpu = time.perf_counter(), time.process_time()
    result = run_backtest(pairs, signals)
    wall, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return result.frames / wall, result.frames / cpu_s, len(result.outcomes)


def eval_percentiles(data: list[bytes]) -> tuple[float, float]:
    engine = Engine(load_signals(SIGNALS))
    on_frame = engine.on_frame
    clock = time.perf_counter_ns
    samples = []
    for raw in data:
        start = clock()
        on_frame(raw)
        samples.append(clock() - start)
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def backtest_archive(data: list[bytes], root: Path) -> float:
    day = root / "kalshi" / "2026-02-12"
    day.mkdir(parents=True)
    chunk = 100_000
    for i in range(0, len(data), chunk):
        name = f"{12 + i // chunk // 4:02d}{(i // chunk % 4) * 15:02d}.jsonl.gz"
        (day / name).write_bytes(gzip.compress(b"".join(raw + b"\n" for raw in data[i:i + chunk]), 1))
    start = time.perf_counter()
    result = run_backtest(archive_frames(root), load_signals(SIGNALS))
    return result.frames / (time.perf_counter() - start)


async def live(data: list[bytes], store: Path) -> float:
    import nats

    from ssmd.agent.live import LiveConfig, Runtime
    from ssmd.bus.embedded import EmbeddedNats, free_port
    from ssmd.bus.streams import StreamSpec, ensure_stream
    from ssmd.bus.subjects import subject_for
    from ssmd.kalshi.frames import classify

    server = EmbeddedNats(store_dir=store, port=free_port())
    server.start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await ensure_stream(js, StreamSpec.for_prefix("BENCH_KALSHI", "bench.kalshi"))
        for raw in data:
            frame = classify(raw)
            await nc.publish(subject_for("bench.kalshi", frame.type or "", frame.ticker), raw)
        await nc.flush()
        for _ in range(1200):  # bounded: 60 s
            if (await js.stream_info("BENCH_KALSHI")).state.messages >= len(data):
                break
            await asyncio.sleep(0.05)
        runtime = Runtime(LiveConfig(nats_url=server.url, subjects=("bench.kalshi.json.>",),
                                     health_addr="127.0.0.1:0", batch=512), load_signals(SIGNALS))
        stop = asyncio.Event()
        start = time.perf_counter()
        task = asyncio.create_task(runtime.run(stop))
        deadline = start + 300
        while time.perf_counter() < deadline:
            info = await js.consumer_info("BENCH_KALSHI", "ssmd-agent") if runtime._bound else None
            if info is not None and info.ack_floor.stream_seq >= len(data):
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - start
        stop.set()
        await task
        await nc.close()
        return runtime.engine.frames / elapsed
    finally:
        server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300_000)
    parser.add_argument("--live-frames", type=int, default=50_000)
    parser.add_argument("--markets", type=int, default=200)
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    data = frames(args.frames, args.markets)
    decode, decode_cpu = ceiling(data)
    memory_fps, memory_cpu_fps, fires = backtest_memory(data)
    p50, p99 = eval_percentiles(data)
    with tempfile.TemporaryDirectory() as tmp:
        archive_fps = backtest_archive(data, Path(tmp) / "archive")
        live_fps = asyncio.run(live(data[: args.live_frames], Path(tmp) / "nats"))
    print(json.dumps({
        "bench": "agent",
        "frames": len(data),
        "markets": args.markets,
        "signals": len(SIGNALS),
        "fires": fires,
        "ceiling_decode_frames_per_s": round(decode),
        "ceiling_decode_frames_per_cpu_s": round(decode_cpu),
        "backtest_frames_per_s": round(memory_fps),
        "backtest_frames_per_cpu_s": round(memory_cpu_fps),
        "backtest_archive_frames_per_s": round(archive_fps),
        "live_frames": min(args.live_frames, len(data)),
        "live_frames_per_s": round(live_fps),
        "eval_p50_us": round(p50, 2),
        "eval_p99_us": round(p99, 2),
        "backtest_vs_ceiling": round(memory_cpu_fps / decode_cpu, 3),
        "target_backtest_frames_per_s": TARGET,
        "meets_target": memory_cpu_fps >= TARGET,
        "load_average": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
