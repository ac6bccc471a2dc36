"""The connector's per-frame routing step through the feed seam, against a bare JSON decode of the same frames.

For every frame the shard calls ``Feed.route`` once, looks the subject up in its ``SubjectCache`` and, for
frames with a sequence number, ``Session.gap``. This bench runs that step (the same calls, outside the socket loop)
over real captured Kalshi frames with many tickers, and as the ceiling a msgspec decode of each frame into a
struct of its ``type`` only: the least any router can do. Prints one JSON object (ns per frame, best of rounds).

    .venv/bin/python bench/feed_route.py [--feed kalshi] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import msgspec

from ssmd.bus.subjects import SubjectCache
from ssmd.feed import Kind, get_feed

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "kalshi-captured-frames.jsonl"


class _TypeOnly(msgspec.Struct):
    type: str | None = None


def _frames(copies: int) -> list[bytes]:
    base = [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]
    # many markets, as on a live socket: the subject cache sees a realistic number of keys
    return [line.replace(b'-26', b'-%d' % (i % 500 + 100), 1) for i in range(copies) for line in base]


def _best(fn: object, frames: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(frames)  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best / len(frames) * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", default="kalshi")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    feed = get_feed(args.feed)
    frames = _frames(800)

    def routed(batch: list[bytes]) -> None:
        route_of, session, data, subjects = feed.route, feed.session(), Kind.DATA, SubjectCache("bench.kalshi")
        for raw in batch:
            route = route_of(raw)
            if route.kind is data:
                subjects[route.type][route.key]  # the shard's lookup (the subject is built on a miss)
                if route.seq is not None:
                    session.gap(route)

    decoder = msgspec.json.Decoder(_TypeOnly)

    def ceiling(batch: list[bytes]) -> None:
        decode = decoder.decode
        for raw in batch:
            decode(raw)

    routed(frames)  # warm the caches
    route_ns = _best(routed, frames, args.rounds)
    ceiling_ns = _best(ceiling, frames, args.rounds)
    print(json.dumps({"feed": args.feed, "frames": len(frames), "route_ns_per_frame": round(route_ns),
                      "ceiling_decode_type_ns_per_frame": round(ceiling_ns),
                      "ratio_to_ceiling": round(route_ns / ceiling_ns, 2)}))


if __name__ == "__main__":
    main()
