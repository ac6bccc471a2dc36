"""Benchmark: the merged view's cost per line (``ssmd.archive.merged.Merger``), against a ceiling measured here.

Prints one JSON object. Two connector instances' copies of a synthetic Kalshi capture (tickers, trades, book
snapshots and deltas over 200 markets, interleaved) go through ``Merger.admit`` in memory, no files: that is the
merge's own cost, added to reading when an archive records origins. The ceiling is the cheapest per-line work
the merge must do anyway: one ``Feed.identity`` decode per line. Lines without an origin cost one prefix test
(``plain_lps``).

    .venv/bin/python bench/merged.py [--lines 400000]
"""

from __future__ import annotations

import argparse
import json
import random
import time

import orjson

from ssmd.archive.merged import Merger
from ssmd.feed.registry import get_feed


def _capture(count: int) -> list[tuple[bytes, tuple[str, str]]]:
    rng = random.Random(3)
    markets = [f"KX-BENCH-{i}" for i in range(200)]
    seq = {"a": 0, "b": 0}
    out: list[tuple[bytes, tuple[str, str]]] = []
    for market in markets:
        for inst in ("a", "b"):
            seq[inst] += 1
            out.append((orjson.dumps({"type": "orderbook_snapshot", "sid": 3, "seq": seq[inst], "msg": {
                "market_ticker": market, "yes_dollars_fp": [["0.4000", "10.00"]],
                "no_dollars_fp": [["0.5000", "5.00"]]}}), (inst, inst + "0")))
    t = 1_770_000_000_000
    while len(out) < count:
        t += 7
        market = rng.choice(markets)
        roll = rng.random()
        if roll < 0.7:
            kind, msg = "orderbook_delta", {"market_ticker": market, "price_dollars": "0.4100",
                                            "delta_fp": f"{rng.randint(-5, 5)}.00", "side": "yes", "ts_ms": t}
        elif roll < 0.9:
            kind, msg = "ticker", {"market_ticker": market, "price_dollars": f"0.{rng.randint(10, 99)}",
                                   "volume_fp": f"{rng.randint(1, 10**6)}.00", "ts_ms": t}
        else:
            kind, msg = "trade", {"trade_id": f"{rng.getrandbits(64):x}", "market_ticker": market,
                                  "yes_price_dollars": "0.4100", "count_fp": "3.00", "taker_side": "yes", "ts_ms": t}
        for inst in rng.sample(("a", "b"), 2):
            frame: dict[str, object] = {"type": kind, "sid": 3 if kind == "orderbook_delta" else 1}
            if kind == "orderbook_delta":
                seq[inst] += 1
                frame["seq"] = seq[inst]
            frame["msg"] = msg
            out.append((orjson.dumps(frame), (inst, inst + "0")))
    return out[:count]


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds) if seconds > 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=400_000)
    args = parser.parse_args()
    lines = _capture(args.lines)
    identify = get_feed("kalshi").identity

    start = time.perf_counter()
    for raw, _ in lines:
        identify(raw)
    ceiling = time.perf_counter() - start

    merger = Merger(identify)
    admit = merger.admit
    start = time.perf_counter()
    kept = sum(1 for raw, origin in lines if admit(raw, origin))
    merged = time.perf_counter() - start

    plain = Merger(identify).admit
    start = time.perf_counter()
    for raw, _ in lines:
        plain(raw, None)
    unknown = time.perf_counter() - start

    print(json.dumps({
        "lines": len(lines), "kept": kept, "left_out": dict(merger.stats),
        "merged_lps": _rate(len(lines), merged), "us_per_line": round(merged / len(lines) * 1e6, 2),
        "ceiling_identity_lps": _rate(len(lines), ceiling), "vs_ceiling": round(ceiling / merged, 2),
        "plain_lps": _rate(len(lines), unknown),
    }))


if __name__ == "__main__":
    main()
