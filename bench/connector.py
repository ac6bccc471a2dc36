"""Connector throughput, CPU, latency and memory, against its ceiling measured in the same run.

Runs a real nats-server and ``ssmd sim kalshi`` (separate processes) with ``--markets 5000`` all subscribed
(``orderbook_delta`` via REST discovery, plus the global channels), and the connector in this process so that
every frame's WebSocket-receipt-to-ack latency is observed exactly. For each offered rate: acked frames/s,
CPU µs per frame (this process), p50/p99 latency, RSS. Then a saturation run (the simulator far faster than
the connector) gives the sustained maximum, and a bare nats-py ``publish_async`` loop over the same payloads
and subjects gives the ceiling. ``publisher_path`` runs the connector's own sink (``ssmd.bus.publish``) over those
payloads with the reader's headers, right after the ceiling: the publishing half alone, against the same ceiling.
On a shared machine the end-to-end rows measure the neighbours too: read ``cpu_share`` (of one core) with them.
Prints one JSON object.

    .venv/bin/python bench/connector.py            # ~45 s
    .venv/bin/python bench/connector.py --long     # longer windows, more rates
    .venv/bin/python bench/connector.py --cluster  # R1 (one server) next to R3 (3-node cluster), same run
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psutil
import yaml

from ssmd.bus.cluster import EmbeddedCluster
from ssmd.bus.connect import connect
from ssmd.bus.embedded import EmbeddedNats, free_port
from ssmd.bus.headers import FrameHeaders
from ssmd.bus.streams import StreamSpec, ensure_stream
from ssmd.config import load_environment, load_feed
from ssmd.connector.service import Connector, Options
from ssmd.connector.shard import State
from ssmd.runtime.process import settle_heap

ROOT = Path(__file__).resolve().parents[1]
FEED = ROOT / "examples" / "local" / "feeds" / "kalshi.yaml"
TARGET_RATIO = 1.0
TARGET_CPU_US_PER_FRAME = 20.0
TARGET_P99_MS_AT_2000 = 5.0
TARGET_RSS_MIB = 150.0


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _control(port: int, path: str) -> Any:
    import aiohttp

    async with aiohttp.ClientSession() as s:
        method = s.post if path.startswith(("/_sim/pause", "/_sim/resume")) else s.get
        async with method(f"http://127.0.0.1:{port}{path}") as r:
            return await r.json()


def _start_sim(port: int, rate: float, markets: int, sent_log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "ssmd", "sim", "kalshi", "--port", str(port), "--no-auth", "--rate", str(rate),
           "--markets", str(markets), "--seed", "11", "--sent-log", str(sent_log)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if "listening" not in line:
        raise RuntimeError(f"simulator failed: {line!r}")
    return proc


async def _window(conn: Connector, lat: list[float], seconds: float) -> dict[str, Any]:
    me = psutil.Process()
    await asyncio.sleep(0.5)  # settle after a rate change
    sink = conn.sink
    assert sink is not None
    acked0 = sink.acked  # type: ignore[attr-defined]
    lat.clear()
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu1, t1 = time.process_time(), time.perf_counter()
    acked = sink.acked - acked0  # type: ignore[attr-defined]
    samples = list(lat)
    return {
        "acked_per_s": round(acked / (t1 - t0), 1),
        "cpu_us_per_frame": round((cpu1 - cpu0) * 1e6 / acked, 1) if acked else None,
        "cpu_share": round((cpu1 - cpu0) / (t1 - t0), 3),
        "p50_ms": round(_pct(samples, 0.50) * 1000, 3) if samples else None,  # type: ignore[operator]
        "p99_ms": round(_pct(samples, 0.99) * 1000, 3) if samples else None,  # type: ignore[operator]
        "rss_mib": round(me.memory_info().rss / 2**20, 1),
        "buffered": sink.pending,
    }


async def _ceiling(servers: list[str], stream: str, payloads: list[tuple[str, bytes]], run: int) -> dict[str, Any]:
    """A bare ``publish_async`` loop over the same subjects and payloads, with a msg-id each, all acked."""
    import nats

    nc = await nats.connect(servers)
    js = nc.jetstream()
    futures = []
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i, (subject, payload) in enumerate(payloads):
        futures.append(await js.publish_async(subject, payload, stream=stream,
                                              headers={"Nats-Msg-Id": f"ceiling-{run}-{i}"}))
    await asyncio.gather(*futures)
    cpu1, t1 = time.process_time(), time.perf_counter()
    await nc.close()
    return {"frames": len(payloads), "acked_per_s": round(len(payloads) / (t1 - t0), 1),
            "cpu_us_per_frame": round((cpu1 - cpu0) * 1e6 / len(payloads), 1)}


async def _publisher_path(servers: list[str], stream: str, payloads: list[tuple[str, bytes]],
                          run: int) -> dict[str, Any]:
    """The connector's own sink (``JetStreamPublisher`` on ``ssmd.bus.publish``) over the same frames, each with the
    headers the reader builds, submitted as the reader does (yielding every 100 frames), until all are acked."""
    from ssmd.connector.metrics import ConnectorMetrics
    from ssmd.connector.publisher import JetStreamPublisher

    nc = await connect(servers, "bench", pending_size=0)
    sink = JetStreamPublisher(nc, stream, ConnectorMetrics(), instance="bench")
    await sink.start()
    conn = f"bench{run}-0-1"
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i, (subject, payload) in enumerate(payloads):
        sink.submit(subject, payload, FrameHeaders(time.time_ns(), conn=conn, sid=3, seq=i), "orderbook",
                    time.monotonic())
        if i % 100 == 99:
            await asyncio.sleep(0)
    left = await sink.drain(120)
    cpu1, t1 = time.process_time(), time.perf_counter()
    await sink.stop()
    await nc.close()
    return {"frames": len(payloads) - left, "acked_per_s": round((len(payloads) - left) / (t1 - t0), 1),
            "cpu_us_per_frame": round((cpu1 - cpu0) * 1e6 / len(payloads), 1)}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ssmd-bench-connector-"))
    if not args.cluster:
        async with EmbeddedNats(work / "nats") as server:
            return await measure(args, [server.url], 1, work)
    # R1 on one server as the deployment guide runs it, then R3 on a 3-node cluster that fsyncs every write (what
    # ssmd recommends for production), same machine, same simulator settings, one after the other.
    async with EmbeddedNats(work / "nats") as server:
        r1 = await measure(args, [server.url], 1, work / "r1")
    async with EmbeddedCluster(3, work / "cluster") as cluster:
        r3 = await measure(args, cluster.urls, 3, work / "r3")
    return {
        "bench": "connector", "mode": "cluster", "r1": r1, "r3": r3,
        "r3_to_r1_sustained": round(r3["sustained_max_acked_per_s"] / r1["sustained_max_acked_per_s"], 3),
        "r3_to_r1_ceiling": round(r3["ceiling_publish_async"]["acked_per_s"]
                                  / r1["ceiling_publish_async"]["acked_per_s"], 3),
        "note": "r1: one nats-server, stream R1, default fsync; r3: 3-node cluster, stream R3, sync_interval: "
                "always; each with its own bare publish_async ceiling measured right after",
    }


async def measure(args: argparse.Namespace, servers: list[str], replicas: int, work: Path) -> dict[str, Any]:
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    sim_port = free_port()
    sent_log = work / "sent.log"
    sim = _start_sim(sim_port, args.rates[0], args.markets, sent_log)
    result: dict[str, Any] = {"bench": "connector", "replicas": replicas, "markets_subscribed": None, "rates": []}
    try:
        import nats

        nc = await nats.connect(servers)
        await ensure_stream(nc.jetstream(), StreamSpec.for_prefix("BENCH_KALSHI", "bench.kalshi", replicas=replicas))
        await nc.close()
        env_path = work / "bench.yaml"
        env_path.write_text(yaml.safe_dump({
            "name": "bench", "feed": "kalshi", "transport": {"type": "nats", "url": ",".join(servers)},
            "storage": {"type": "local", "path": str(work / "data")},
            "capture": {"channels": ["ticker", "trade", "market_lifecycle_v2", "orderbook_delta"],
                        "markets": {"discover": {"status": None, "max_markets": args.markets, "refresh": "1h"}},
                        "max_markets_per_subscription": 200, "max_markets_per_connection": 1000},
        }))
        latencies: list[float] = []
        conn = Connector(load_feed(FEED), load_environment(env_path),
                         Options(str(env_path), f"ws://127.0.0.1:{sim_port}/trade-api/ws/v2", None, "127.0.0.1:0",
                                 on_ack=latencies.extend))
        await _control(sim_port, "/_sim/pause")  # subscribing 5,000 markets, not racing a flood (see below)
        await conn.start()
        settle_heap()  # as ssmd-connector does once started
        deadline = time.monotonic() + 120
        while not all(s.state is State.LIVE for s in conn.shards):
            if time.monotonic() > deadline:
                raise RuntimeError("connector did not subscribe within 120 s")
            await asyncio.sleep(0.1)
        result["markets_subscribed"] = len(conn._markets)
        result["connections"] = len(conn.shards)
        for rate in args.rates:
            sim.terminate()
            sim.wait()
            # a new simulator process per rate: the connector reconnects and resubscribes, as in production
            sim = _start_sim(sim_port, rate, args.markets, sent_log)
            # Paused while the connector resubscribes 5,000 markets: at saturation rates a loaded machine would
            # otherwise time the subscribe commands out behind the flood, and the bench would measure reconnects.
            await _control(sim_port, "/_sim/pause")
            deadline = time.monotonic() + 120
            await asyncio.sleep(0.5)
            while not all(s.state is State.LIVE for s in conn.shards):
                if time.monotonic() > deadline:
                    raise RuntimeError("connector did not resubscribe within 120 s")
                await asyncio.sleep(0.1)
            await _control(sim_port, "/_sim/resume")
            row = {"offered_per_s": rate, **await _window(conn, latencies, args.window)}
            if rate == args.rates[-1]:
                # Saturation, where the CPU target applies: best of two windows, as for the ceiling below (on a
                # shared machine one window can measure a neighbour's burst).
                again = {"offered_per_s": rate, **await _window(conn, latencies, args.window)}
                row = min(row, again, key=lambda r: r["cpu_us_per_frame"] or float("inf"))
                row["windows"] = 2
            result["rates"].append(row)
        result["sustained_max_acked_per_s"] = max(r["acked_per_s"] for r in result["rates"])
        await _control(sim_port, "/_sim/pause")
        assert conn.sink is not None
        await conn.sink.drain(30)
        result["reconnects"] = conn.metrics.reconnects._value.get()
        result["dropped"] = conn.sink.dropped
        await conn.stop()
        sample = [line for line in sent_log.read_bytes().split(b"\n") if line][-args.ceiling_frames:]
        from ssmd.bus.subjects import subject_for
        from ssmd.kalshi.frames import classify

        payloads = []
        for raw in sample:
            f = classify(raw)
            payloads.append((subject_for("bench.kalshi", f.type or "unparsed", f.ticker), raw))
        # Best of two alternating runs each: on a shared machine a single run measures its neighbours.
        ceilings, paths = [], []
        for run in range(2):
            ceilings.append(await _ceiling(servers, "BENCH_KALSHI", payloads, run))
            paths.append(await _publisher_path(servers, "BENCH_KALSHI", payloads, run))
        result["ceiling_publish_async"] = max(ceilings, key=lambda r: r["acked_per_s"])
        path = result["publisher_path"] = max(paths, key=lambda r: r["acked_per_s"])
        result["publisher_path_to_ceiling"] = round(path["acked_per_s"] / result["ceiling_publish_async"]
                                                    ["acked_per_s"], 3)
        ceiling = result["ceiling_publish_async"]["acked_per_s"]
        result["ratio_to_ceiling"] = round(result["sustained_max_acked_per_s"] / ceiling, 3)
        busiest = max(result["rates"], key=lambda r: r["acked_per_s"])
        if busiest["cpu_us_per_frame"]:
            # Frames per CPU-second, connector vs bare loop: the fair comparison on a shared machine, where the
            # saturation run also competes with the simulator and nats-server for the same cores.
            result["ratio_to_ceiling_per_cpu"] = round(
                result["ceiling_publish_async"]["cpu_us_per_frame"] / busiest["cpu_us_per_frame"], 3)
        at_2000 = next((r for r in result["rates"] if r["offered_per_s"] == 2000), None)
        result["targets"] = {
            "ratio_to_ceiling": TARGET_RATIO, "p99_ms_at_2000": TARGET_P99_MS_AT_2000, "rss_mib": TARGET_RSS_MIB,
            "cpu_us_per_frame": TARGET_CPU_US_PER_FRAME,
            "met": {
                "cpu_us_per_frame": bool(busiest["cpu_us_per_frame"]
                                         and busiest["cpu_us_per_frame"] <= TARGET_CPU_US_PER_FRAME),
                "publisher_path_ratio": result["publisher_path_to_ceiling"] >= TARGET_RATIO,
                "ratio": result["ratio_to_ceiling"] >= TARGET_RATIO,
                "ratio_per_cpu": result.get("ratio_to_ceiling_per_cpu", 0) >= TARGET_RATIO,
                "p99_at_2000": bool(at_2000 and at_2000["p99_ms"] is not None
                                    and at_2000["p99_ms"] <= TARGET_P99_MS_AT_2000),
                "rss": max(r["rss_mib"] for r in result["rates"]) <= TARGET_RSS_MIB,
            },
        }
        result["note"] = ("sustained_max is the highest acked rate over the offered rates; the last rate is more "
                          "than the simulator, nats-server and connector together can do on this machine, so "
                          "ratio_to_ceiling_per_cpu (frames per CPU-second vs the bare loop) is the fair ratio")
    finally:
        sim.terminate()
        sim.wait()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="10 s windows and more rates")
    parser.add_argument("--markets", type=int, default=5000)
    parser.add_argument("--cluster", action="store_true", help="R1 on one server, then R3 on a 3-node cluster "
                        "(sync_interval: always), in the same run; prints both and their ratio")
    opts = parser.parse_args()
    opts.rates = [500, 2000, 5000, 10000, 20000, 40000] if opts.long else [500, 2000, 5000, 20000, 40000]
    if opts.cluster and not opts.long:
        opts.rates = [2000, 40000]  # a normal rate and saturation, twice: keeps the run near a minute and a half
    opts.window = 10.0 if opts.long else 4.0
    opts.ceiling_frames = 50_000
    print(orjson.dumps(asyncio.run(main(opts))).decode())
