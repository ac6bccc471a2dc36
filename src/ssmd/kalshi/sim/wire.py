"""Render model events in Kalshi's wire formats: ``current`` (dollar strings, ``_fp`` counts, ``ts_ms``),
``legacy`` (integer cents and counts, ``ts`` in seconds) and ``dual`` (both at once, as in early 2026).

Every function returns the ``msg`` object as JSON bytes; the session wraps it with its own ``sid``/``seq``.
Quantities arrive in centi-contracts and prices in cents, so rendering is exact string formatting.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from ssmd.kalshi.sim.config import Wire


def dollars(cents: int) -> str:
    """``42`` -> ``"0.4200"`` (Kalshi's 4-decimal dollar string)."""
    if 0 <= cents <= 100:
        return _DOLLARS[cents]
    return f"{cents // 100}.{cents % 100:02d}00"


_DOLLARS = [f"{c // 100}.{c % 100:02d}00" for c in range(101)]


def fp(centi: int) -> str:
    """Centi-contracts as a fixed-point count: ``1250`` -> ``"12.50"``, ``-300`` -> ``"-3.00"``."""
    return f"{centi / 100:.2f}"  # exact: the double nearest n/100 rounds back to n/100 at two decimals


_last_iso: tuple[int, str] = (-1, "")


def _iso(ts_ms: int) -> str:
    """RFC 3339 with microseconds; a batch shares one timestamp, so the last rendering is reused."""
    global _last_iso
    if _last_iso[0] != ts_ms:
        _last_iso = (ts_ms, dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return _last_iso[1]


class Renderer:
    """Builds ``msg`` bodies for one wire format."""

    def __init__(self, wire: Wire) -> None:
        self.new = wire in ("current", "dual")
        self.old = wire in ("legacy", "dual")

    def snapshot(self, ticker: str, market_id: str, yes: list[tuple[int, int]], no: list[tuple[int, int]]) -> bytes:
        msg: dict[str, Any] = {"market_ticker": ticker, "market_id": market_id}
        if self.old:
            if yes:
                msg["yes"] = [[p, q // 100] for p, q in yes]
            if no:
                msg["no"] = [[p, q // 100] for p, q in no]
        if self.new:
            if yes:
                msg["yes_dollars_fp"] = [[dollars(p), fp(q)] for p, q in yes]
            if no:
                msg["no_dollars_fp"] = [[dollars(p), fp(q)] for p, q in no]
        return orjson.dumps(msg)

    def delta(self, ticker: str, market_id: str, side: str, price: int, delta: int, ts_ms: int) -> bytes:
        msg: dict[str, Any] = {"market_ticker": ticker, "market_id": market_id}
        if self.old:
            msg["price"] = price
            msg["delta"] = delta // 100
        if self.new:
            msg["price_dollars"] = dollars(price)
            msg["delta_fp"] = fp(delta)
        msg["side"] = side
        if self.new:
            msg["ts_ms"] = ts_ms
        return orjson.dumps(msg)

    def trade(
        self, trade_id: str, ticker: str, yes_price: int, count: int, taker: str, ts_ms: int
    ) -> bytes:
        msg: dict[str, Any] = {"trade_id": trade_id, "market_ticker": ticker}
        if self.old:
            msg["yes_price"] = yes_price
            msg["no_price"] = 100 - yes_price
            msg["count"] = count // 100
        if self.new:
            msg["yes_price_dollars"] = dollars(yes_price)
            msg["no_price_dollars"] = dollars(100 - yes_price)
            msg["count_fp"] = fp(count)
        msg["taker_side"] = taker
        if self.new:
            msg["taker_outcome_side"] = taker
            msg["taker_book_side"] = "bid" if taker == "yes" else "ask"
            msg["is_block_trade"] = False
        msg["ts"] = ts_ms // 1000
        if self.new:
            msg["ts_ms"] = ts_ms
        return orjson.dumps(msg)

    def ticker(self, m: Any, ts_ms: int) -> bytes:
        """``m`` is a :class:`ssmd.kalshi.sim.markets.Market` (typed loosely to keep this module import-free)."""
        yb, ybs, ya, yas = m.book.top()
        msg: dict[str, Any] = {"market_ticker": m.ticker, "market_id": m.market_id}
        if self.old:
            msg["price"] = m.last_price
            msg["yes_bid"] = yb
            msg["yes_ask"] = ya
            msg["volume"] = m.volume // 100
            msg["open_interest"] = m.open_interest // 100
        if self.new:
            msg["price_dollars"] = dollars(m.last_price) if m.last_price else ""
            msg["yes_bid_dollars"] = dollars(yb)
            msg["yes_ask_dollars"] = dollars(ya)
            msg["yes_bid_size_fp"] = fp(ybs)
            msg["yes_ask_size_fp"] = fp(yas)
            msg["last_trade_size_fp"] = fp(m.last_size)
            msg["volume_fp"] = fp(m.volume)
            msg["open_interest_fp"] = fp(m.open_interest)
        msg["dollar_volume"] = m.dollar_volume // 10000
        msg["dollar_open_interest"] = m.open_interest * m.last_price // 10000
        msg["ts"] = ts_ms // 1000
        if self.new:
            msg["ts_ms"] = ts_ms
            msg["time"] = _iso(ts_ms)
        return orjson.dumps(msg)

    @staticmethod
    def lifecycle(fields: dict[str, Any]) -> bytes:
        return orjson.dumps(fields)
