"""How many data frames/s ``ssmd sim kalshi`` delivers to one local WebSocket client.

The simulator runs as its own process (one core); a plain aiohttp client subscribes to every channel and every
market and counts frames without parsing them. Ceiling, measured in the same run: the market model alone
(``MarketModel.step`` in this process, no network). Prints one JSON object.

    .venv/bin/python bench/sim_rate.py [--seconds 5] [--rate 300000] [--markets 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

import aiohttp
import orjson

TARGET = 50_000


def model_ceiling(markets: int, seconds: float = 1.0) -> float:
    from ssmd.kalshi.sim.markets import MarketModel

    model = MarketModel(markets, 1, "current")
    n = 0
    start = time.perf_counter()
    now_ms = int(time.time() * 1000)
    while time.perf_counter() - start < seconds:
        for _ in range(1000):
            n += len(model.step(now_ms))
    return n / (time.perf_counter() - start)


async def measure(url: str, rest: str, seconds: float) -> tuple[int, float]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{rest}/markets?limit=1000&status=open") as resp:
            tickers = [m["ticker"] for m in (await resp.json())["markets"]]
        async with http.ws_connect(url, max_msg_size=0) as ws:
            await ws.send_bytes(orjson.dumps({"id": 1, "cmd": "subscribe",
                                              "params": {"channels": ["ticker", "trade", "market_lifecycle_v2"]}}))
            await ws.send_bytes(orjson.dumps({"id": 2, "cmd": "subscribe",
                                              "params": {"channels": ["orderbook_delta"], "market_tickers": tickers}}))
            # warm up for a second, then count
            loop = asyncio.get_running_loop()
            warm_end = loop.time() + 1.0
            async for _ in ws:
                if loop.time() >= warm_end:
                    break
            count = 0
            start = loop.time()
            end = start + seconds
            async for msg in ws:  # no per-frame timeout: a timer per frame would be the bottleneck
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                count += 1
                if not count & 255 and loop.time() >= end:
                    break
            return count, loop.time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=300_000, help="simulator --rate (default: more than it can do)")
    parser.add_argument("--markets", type=int, default=50)
    args = parser.parse_args()

    from ssmd.bus.embedded import free_port

    port = free_port()
    cmd = [sys.executable, "-m", "ssmd", "sim", "kalshi", "--no-auth", "--port", str(port), "--seed", "1",
           "--rate", str(args.rate), "--markets", str(args.markets)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening" not in line:
            raise SystemExit(f"simulator did not start: {line!r}")
        cpu0, wall0 = _cpu(proc.pid), time.monotonic()
        frames, elapsed = asyncio.run(measure(line.split()[-1], f"http://127.0.0.1:{port}/trade-api/v2",
                                              args.seconds))
        cpu1, wall1 = _cpu(proc.pid), time.monotonic()
    finally:
        proc.terminate()
        proc.wait(10)
    rate = frames / elapsed
    ceiling = model_ceiling(args.markets)
    print(json.dumps({
        "bench": "sim_rate",
        "frames": frames,
        "seconds": round(elapsed, 3),
        "frames_per_s": round(rate),
        "target_frames_per_s": TARGET,
        "meets_target": rate >= TARGET,
        "ceiling_model_only_frames_per_s": round(ceiling),
        "fraction_of_ceiling": round(rate / ceiling, 3),
        "sim_cpu_s_per_wall_s": None if cpu0 is None or cpu1 is None else round((cpu1 - cpu0) / (wall1 - wall0), 3),
        "rate_requested": args.rate,
        "markets": args.markets,
        "cpus": os.cpu_count(),
    }))


def _cpu(pid: int) -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


if __name__ == "__main__":
    main()
