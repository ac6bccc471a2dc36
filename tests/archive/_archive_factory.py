"""Crafted frames for archive tests (the archive itself is written by ``ssmd.testing.write_day``)."""

from __future__ import annotations

import orjson


def trade(trade_id: str, ts: int, ticker: str = "KXTEST-26JAN01-T1.5", seq: int = 1, price: int = 42) -> bytes:
    """A trade frame in the current (dollar string, ``_fp``) wire format."""
    return orjson.dumps({"type": "trade", "sid": 2, "seq": seq, "msg": {
        "trade_id": trade_id, "market_ticker": ticker, "yes_price_dollars": f"{price / 100:.4f}",
        "no_price_dollars": f"{(100 - price) / 100:.4f}", "count_fp": "3.00", "taker_side": "yes", "ts": ts}})


def ticker(ts: int, name: str = "KXTEST-26JAN01-T1.5") -> bytes:
    return orjson.dumps({"type": "ticker", "sid": 1, "msg": {"market_ticker": name, "price_dollars": "0.4200",
                                                             "yes_bid_dollars": "0.4100", "ts": ts}})
