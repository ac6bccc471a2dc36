"""Archiver throughput: JetStream -> compressed files, against the same consumer without writing (ceiling).

Publishes N realistic Kalshi frames (the captured samples with varied tickers, prices and times) to a local
nats-server once, then drains them in a fresh child process per mode, so CPU and peak RSS are per mode:

- ``ceiling``: the archiver's push consumer + AckAll, batches acknowledged without writing anything;
- ``pull_fetch``: a nats-py pull consumer with ``fetch(1000)`` and one AckAll per batch, for reference;
- ``isal3`` (default), ``isal1``, ``zlib6`` (the original's gzip level), ``zlib1``: the real archiver.

Prints one JSON object. ``--messages`` sets N (default 300,000; the default run stays under a minute).
``--cluster``: the same on a stream at R1 (one server) and at R3 (a 3-node cluster, ``sync_interval: always``),
one after the other, with the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data" / "kalshi-captured-frames.jsonl"
STREAM = "BENCH_KALSHI"
PREFIX = "bench.kalshi"
MODES = ["ceiling", "pull_fetch", "isal3", "isal1", "zlib6", "zlib1"]


def realistic_frames(n: int, seed: int = 1) -> list[tuple[str, bytes]]:
    """``(subject, payload)`` pairs: sample frames with 2,000 tickers and varying numbers."""
    rng = random.Random(seed)
    templates = [orjson.loads(line) for line in SAMPLES.read_bytes().splitlines() if line.strip()]
    tickers = [f"KXBENCH{i % 37}-26FEB{i % 28 + 1:02d}17-T{1000 + i}.99" for i in range(2000)]
    out = []
    ts = 1_764_072_000
    for i in range(n):
        frame = json.loads(json.dumps(templates[i % len(templates)]))
        msg = frame.get("msg")
        ticker = rng.choice(tickers)
        if isinstance(msg, dict):
            for key, value in list(msg.items()):
                if key == "market_ticker":
                    msg[key] = ticker
                elif key in ("ts", "created_time"):
                    msg[key] = ts + i // 50 if key == "ts" else value
                elif isinstance(value, int) and not isinstance(value, bool) and key not in ("sid",):
                    msg[key] = rng.randint(0, 100) if value < 101 else rng.randint(0, 2 * value + 10)
        frame["seq"] = i + 1
        kind = {"ticker": "ticker", "trade": "trade"}.get(frame.get("type", ""), "lifecycle")
        out.append((f"{PREFIX}.json.{kind}.{ticker.replace('.', '_')}", orjson.dumps(frame)))
    return out


async def publish(url: str, n: int, replicas: int = 1, acked: bool = False) -> tuple[int, int]:
    import nats

    from ssmd.bus.streams import StreamSpec, ensure_stream

    nc = await nats.connect(url.split(","))
    js = nc.jetstream()
    await ensure_stream(js, StreamSpec.for_prefix(STREAM, PREFIX, replicas=replicas))
    frames = realistic_frames(n)
    if acked or replicas > 1:  # a busy or replicated stream falls behind fire-and-forget publishes: ack 5,000 at once
        for start in range(0, n, 5000):
            acks = [await js.publish_async(subject, payload) for subject, payload in frames[start:start + 5000]]
            await asyncio.gather(*acks)
    else:
        for subject, payload in frames:
            await nc.publish(subject, payload)
    await nc.flush()
    stored = 0
    for _ in range(2400):  # core publishes are stored asynchronously: wait (at most 120 s) for all of them
        stored = (await js.stream_info(STREAM)).state.messages
        if stored >= n:
            break
        await asyncio.sleep(0.05)
    await nc.close()
    if stored < n:  # the drains wait for message n: fail now rather than hang
        raise RuntimeError(f"the stream holds {stored} of the {n} messages published")
    return n, sum(len(p) + 1 for _, p in frames)


async def run_mode(url: str, mode: str, n: int, data: Path) -> dict[str, Any]:
    """One drain of the whole stream in this process (a child of the bench)."""
    if mode == "pull_fetch":
        return await _pull_fetch(url, n)
    from ssmd.archiver.service import Archiver
    from ssmd.config.archiver import ArchiverConfig

    codec, level = ("isal", 3)
    if mode != "ceiling":
        codec, level = mode[:4], int(mode[4:])
    config = ArchiverConfig.model_validate({
        "nats": {"url": url, "stream": STREAM, "consumer": f"bench-{mode}", "filter": f"{PREFIX}.json.>"},
        "storage": {"path": str(data / mode)},
        "rotation": {"interval": "1d"},
        "compression": {"codec": codec, "level": level},
    })
    archiver = Archiver(config)
    if mode == "ceiling":
        async def no_write(records: Any) -> None:
            archiver.writer.last_seq = records[-1].seq

        archiver.writer.write_batch = no_write  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(archiver.run(stop))
    await archiver.started.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    while archiver.writer.last_seq < n:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    stop.set()
    await task
    w = archiver.writer
    return {"seconds": elapsed, "cpu_s": cpu, "bytes": w.bytes_written, "compressed": w.compressed_bytes_written}


async def _pull_fetch(url: str, n: int) -> dict[str, Any]:
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig

    nc = await nats.connect(url.split(","))
    js = nc.jetstream()
    sub = await js.pull_subscribe(f"{PREFIX}.json.>", "bench-pull", stream=STREAM,
                                  config=ConsumerConfig(ack_policy=AckPolicy.ALL, max_ack_pending=20000))
    t0, c0 = time.perf_counter(), time.process_time()
    got = 0
    while got < n:
        msgs = await sub.fetch(1000, timeout=5)
        got += len(msgs)
        await msgs[-1].ack()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    await nc.close()
    return {"seconds": elapsed, "cpu_s": cpu, "bytes": 0, "compressed": 0}


def _peak_rss_kib() -> float:
    """VmHWM: this process's peak RSS (ru_maxrss would include the parent's peak inherited at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def child(url: str, mode: str, n: int, data: str) -> None:
    result = asyncio.run(run_mode(url, mode, n, Path(data)))
    result["max_rss_mib"] = _peak_rss_kib() / 1024
    print(json.dumps(result))


def drain_modes(url: str, modes: list[str], n: int, raw_bytes: int, tmp: str) -> dict[str, Any]:
    """Run each mode in a child process against the stream at ``url``; msg/s, MB/s, CPU, RSS per mode."""
    results: dict[str, Any] = {}
    for mode in modes:
        try:
            out = subprocess.run([sys.executable, __file__, "--child", url, mode, str(n), tmp], capture_output=True,
                                 text=True, check=False, env={**os.environ, "SSMD_LOG": "warning"}, timeout=600)
        except subprocess.TimeoutExpired:
            results[mode] = {"error": f"did not drain {n} messages within 600 s"}
            continue
        if out.returncode != 0:
            results[mode] = {"error": out.stderr[-2000:]}
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results[mode] = {
            "msg_per_s": round(n / r["seconds"]),
            "mb_per_s": round(raw_bytes / r["seconds"] / 1e6, 1),
            "cpu_us_per_msg": round(r["cpu_s"] / n * 1e6, 2),
            "max_rss_mib": round(r["max_rss_mib"], 1),
            "compression_ratio": round(r["bytes"] / r["compressed"], 2) if r["compressed"] else None,
        }
    return results


def _summary(n: int, raw_bytes: int, results: dict[str, Any]) -> dict[str, Any]:
    ceiling = results.get("ceiling", {}).get("msg_per_s")
    default = results.get("isal3", {}).get("msg_per_s")
    return {
        "messages": n,
        "avg_frame_bytes": round(raw_bytes / n, 1),
        "msg_per_s": default,
        "ceiling_msg_per_s": ceiling,
        "ratio_to_ceiling": round(default / ceiling, 2) if default and ceiling else None,
        "modes": results,
    }


def cluster_main(args: argparse.Namespace) -> None:
    """R1 on one server next to R3 on a 3-node cluster (sync_interval: always), measured one after the other."""
    from ssmd.bus.cluster import EmbeddedCluster
    from ssmd.bus.embedded import EmbeddedNats

    modes = args.modes.split(",") if args.modes != ",".join(MODES) else ["ceiling", "isal3"]
    out: dict[str, Any] = {"benchmark": "archiver", "mode": "cluster"}
    with tempfile.TemporaryDirectory(prefix="ssmd-bench-") as tmp:
        with EmbeddedNats(Path(tmp) / "nats") as server:
            n, raw_bytes = asyncio.run(publish(server.url, args.messages, acked=True))
            out["r1"] = _summary(n, raw_bytes, drain_modes(server.url, modes, n, raw_bytes, tmp))
        with EmbeddedCluster(3, Path(tmp) / "cluster") as cluster:
            n, raw_bytes = asyncio.run(publish(cluster.url, args.messages, replicas=3))
            out["r3"] = _summary(n, raw_bytes, drain_modes(cluster.url, modes, n, raw_bytes, tmp + "/r3"))
    r1, r3 = out["r1"]["msg_per_s"], out["r3"]["msg_per_s"]
    out["r3_to_r1"] = round(r3 / r1, 3) if r1 and r3 else None
    c1, c3 = out["r1"]["ceiling_msg_per_s"], out["r3"]["ceiling_msg_per_s"]
    out["r3_to_r1_ceiling"] = round(c3 / c1, 3) if c1 and c3 else None
    out["note"] = ("r1: one nats-server, stream R1; r3: 3-node cluster, stream and durable consumer R3, "
                   "sync_interval: always; each with its own no-write ceiling")
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--cluster", action="store_true", help="R1 (one server) next to R3 (3-node cluster) in the "
                        "same run, modes ceiling and isal3 unless --modes says otherwise")
    parser.add_argument("--child", nargs=4, metavar=("URL", "MODE", "N", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, mode, n, data = args.child
        child(url, mode, int(n), data)
        return
    if args.cluster:
        cluster_main(args)
        return
    from ssmd.bus.embedded import EmbeddedNats

    with tempfile.TemporaryDirectory(prefix="ssmd-bench-") as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
        n, raw_bytes = asyncio.run(publish(server.url, args.messages))
        results = drain_modes(server.url, args.modes.split(","), n, raw_bytes, tmp)
    print(json.dumps({"benchmark": "archiver", **_summary(n, raw_bytes, results)}))


if __name__ == "__main__":
    main()
