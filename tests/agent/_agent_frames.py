"""Crafted Kalshi frames (current dollar/fixed-point wire format unless asked for legacy); archives of them are
written with ``ssmd.testing.write_archive``."""

from __future__ import annotations

import itertools
from typing import Any

import orjson

T0 = 1_770_897_960_000  # 2026-02-12T12:06:00Z, on a minute boundary
_seq = itertools.count(1)


def dumps(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj)


def trade(market: str, price: float, count: float, side: str, ts_ms: int, legacy: bool = False) -> bytes:
    if legacy:
        cents = round(price * 100)
        msg: dict[str, Any] = {"market_ticker": market, "yes_price": cents, "no_price": 100 - cents,
                               "count": int(count), "taker_side": side, "ts": ts_ms // 1000}
    else:
        msg = {"trade_id": f"t{next(_seq)}", "market_ticker": market, "yes_price_dollars": f"{price:.4f}",
               "no_price_dollars": f"{1 - price:.4f}", "count_fp": f"{count:.2f}", "taker_outcome_side": side,
               "ts_ms": ts_ms}
    return dumps({"type": "trade", "sid": 2, "seq": next(_seq), "msg": msg})


def ticker(market: str, ts_ms: int, *, bid: float | None = None, ask: float | None = None,
           price: float | None = None, legacy: bool = False) -> bytes:
    msg: dict[str, Any] = {"market_ticker": market, "ts_ms": ts_ms}
    for key, value in (("yes_bid", bid), ("yes_ask", ask), ("price", price)):
        if value is not None:
            if legacy:
                msg[key] = round(value * 100)
            else:
                msg[f"{key}_dollars"] = f"{value:.4f}"
    return dumps({"type": "ticker", "sid": 1, "msg": msg})


def snapshot(market: str, yes: list[tuple[str, str]], no: list[tuple[str, str]]) -> bytes:
    msg: dict[str, Any] = {"market_ticker": market}
    if yes:
        msg["yes_dollars_fp"] = [list(level) for level in yes]
    if no:
        msg["no_dollars_fp"] = [list(level) for level in no]
    return dumps({"type": "orderbook_snapshot", "sid": 3, "seq": next(_seq), "msg": msg})


def delta(market: str, side: str, price: str, change: str, ts_ms: int) -> bytes:
    return dumps({"type": "orderbook_delta", "sid": 3, "seq": next(_seq), "msg": {
        "market_ticker": market, "side": side, "price_dollars": price, "delta_fp": change, "ts_ms": ts_ms}})


def lifecycle(market: str, event_type: str, ts_s: int, **extra: Any) -> bytes:
    msg = {"market_ticker": market, "event_type": event_type, **extra}
    if event_type == "determined":
        msg.setdefault("determination_ts", ts_s)
    elif event_type == "settled":
        msg.setdefault("settled_ts", ts_s)
    else:
        msg.setdefault("open_ts", ts_s)
    return dumps({"type": "market_lifecycle_v2", "sid": 4, "seq": next(_seq), "msg": msg})


def market_session(n: int, seed: int = 7, markets: int = 5, step_ms: int = 700) -> list[bytes]:
    """A deterministic, realistic mix: trades on a random walk (bursts included), tickers, book snapshots and
    deltas, lifecycle events; dotted tickers included so subjects are sanitised."""
    import random

    rng = random.Random(seed)
    names = [f"KXTEST-26FEB12-T{100 + i}.99" for i in range(markets)]
    price = {m: 0.3 + 0.1 * i for i, m in enumerate(names)}
    frames: list[bytes] = [snapshot(m, [("0.2000", "100.00")], [("0.6000", "50.00")]) for m in names]
    ts = T0
    for _ in range(n):
        ts += rng.randint(1, step_ms)
        m = rng.choice(names)
        roll = rng.random()
        if roll < 0.55:
            price[m] = min(0.99, max(0.01, round(price[m] + rng.choice((-0.02, -0.01, 0.01, 0.02)), 2)))
            burst = 40.0 if rng.random() < 0.03 else 1.0
            frames.append(trade(m, price[m], rng.randint(1, 30) * burst, rng.choice(("yes", "yes", "no")), ts,
                                legacy=rng.random() < 0.2))
        elif roll < 0.80:
            bid = max(0.0, round(price[m] - rng.choice((0.01, 0.02, 0.03, 0.08)), 2))
            frames.append(ticker(m, ts, bid=bid, ask=min(1.0, round(price[m] + 0.01, 2)), price=price[m]))
        elif roll < 0.97:
            frames.append(delta(m, rng.choice(("yes", "no")), f"{rng.randint(10, 60) / 100:.4f}",
                                f"{rng.choice((-5, 5, 10, 20))}.00", ts))
        else:
            frames.append(lifecycle(m, rng.choice(("determined", "settled", "activated")), ts // 1000,
                                    result=rng.choice(("yes", "no"))))
    return frames
