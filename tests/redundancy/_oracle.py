"""What the simulated exchange did, asked of the simulator itself (its REST trade tape, its books, its sent-log),
and what the merged archive says about the same things, in the plainest possible terms (written out here, not
borrowed from ssmd, so that a mistake in ssmd's merge or book code cannot hide itself)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson

import ssmd.archive
from ssmd.testing import ArchiverProc, Sim, wait_until

REST = "/trade-api/v2"

Book = dict[tuple[str, Decimal], Decimal]
"""``(side, price in dollars) -> quantity``, levels with quantity 0 left out."""


async def _get(sim: Sim, path: str, **query: str) -> Any:
    async with aiohttp.ClientSession() as s, s.get(f"{sim.http}{REST}{path}", params=query) as r:
        assert r.status == 200, f"GET {path}: {r.status} {await r.text()}"
        return await r.json()


async def trade_tape(sim: Sim) -> dict[str, dict[str, Any]]:
    """Every trade the simulator made (``GET /markets/trades``, all pages), by ``trade_id``: the trades made while
    nobody was subscribed are in it too."""
    out: dict[str, dict[str, Any]] = {}
    cursor = ""
    while True:
        page = await _get(sim, "/markets/trades", limit="1000", **({"cursor": cursor} if cursor else {}))
        for trade in page["trades"]:
            assert trade["trade_id"] not in out, f"the tape lists trade {trade['trade_id']} twice"
            out[trade["trade_id"]] = trade
        cursor = page.get("cursor") or ""
        if not cursor or not page["trades"]:
            return out


async def open_tickers(sim: Sim) -> list[str]:
    page = await _get(sim, "/markets", limit="1000", status="open")
    return sorted(m["ticker"] for m in page["markets"])


async def sim_book(sim: Sim, ticker: str) -> Book:
    """The simulator's book of ``ticker`` as its REST API shows it (``orderbook_fp``, dollars and fixed-point)."""
    body = (await _get(sim, f"/markets/{ticker}/orderbook"))["orderbook_fp"]
    book: Book = {}
    for side in ("yes", "no"):
        for price, qty in body.get(f"{side}_dollars") or []:
            if Decimal(qty):
                book[(side, Decimal(price))] = Decimal(qty)
    return book


def rebuilt_books(frames: list[dict[str, Any]]) -> dict[str, Book]:
    """The naive rebuild: a snapshot resets its market's book, a delta adds to one level."""
    books: dict[str, Book] = {}
    for frame in frames:
        msg = frame["msg"]
        if frame["type"] == "orderbook_snapshot":
            book: Book = {}
            for side in ("yes", "no"):
                for price, qty in msg.get(f"{side}_dollars_fp") or []:
                    book[(side, Decimal(price))] = Decimal(qty)
            books[msg["market_ticker"]] = book
        elif frame["type"] == "orderbook_delta":
            book = books.setdefault(msg["market_ticker"], {})
            key = (msg["side"], Decimal(msg["price_dollars"]))
            book[key] = book.get(key, Decimal(0)) + Decimal(msg["delta_fp"])
    return {ticker: {k: q for k, q in book.items() if q} for ticker, book in books.items()}


def merged_frames(root: Path) -> list[dict[str, Any]]:
    """The merged view (``ssmd.archive.open``'s default), decoded; fails on any read problem."""
    return [orjson.loads(f.raw) for f in ssmd.archive.open(root)]


def sent_trade_ids(sim: Sim) -> set[str]:
    """Trades that went out on some WebSocket (the sent-log)."""
    out = set()
    for line in sim.sent():
        if line.startswith(b'{"type":"trade"'):
            out.add(orjson.loads(line)["msg"]["trade_id"])
    return out


def assert_every_trade_once(frames: list[dict[str, Any]], tape: dict[str, dict[str, Any]],
                            before: set[str]) -> Counter[str]:
    """Every trade the simulator made after ``before`` (the trades of its first moments, before anyone was
    asked to listen) is in the merged view exactly once, with the exchange's values; nothing else is there but
    real trades. Returns the merged view's trade ids."""
    seen = Counter(f["msg"]["trade_id"] for f in frames if f["type"] == "trade")
    twice = {t: n for t, n in seen.items() if n > 1}
    assert not twice, f"{len(twice)} trades more than once in the merged view, e.g. {list(twice.items())[:3]}"
    invented = set(seen) - set(tape)
    assert not invented, f"{len(invented)} trades the exchange never made, e.g. {sorted(invented)[:3]}"
    missing = set(tape) - before - set(seen)
    assert not missing, (f"{len(missing)} of {len(set(tape) - before)} trades missing from the merged view, e.g. "
                         f"{[tape[t] for t in sorted(missing)[:3]]}")
    for frame in frames:
        if frame["type"] != "trade":
            continue
        msg, want = frame["msg"], tape[frame["msg"]["trade_id"]]
        got = (msg["market_ticker"], Decimal(msg["yes_price_dollars"]), Decimal(msg["no_price_dollars"]),
               Decimal(msg["count_fp"]), msg["taker_side"])
        assert got == (want["ticker"], Decimal(want["yes_price_dollars"]), Decimal(want["no_price_dollars"]),
                       Decimal(want["count_fp"]), want["taker_side"]), (msg, want)
    return seen


async def assert_books_equal(frames: list[dict[str, Any]], sim: Sim) -> int:
    """Every open market's book rebuilt from the merged frames equals the simulator's; returns the market count."""
    tickers = await open_tickers(sim)
    assert tickers, "the simulator lists no open market"
    rebuilt = rebuilt_books(frames)
    for ticker in tickers:
        want = await sim_book(sim, ticker)
        got = rebuilt.get(ticker)
        assert got is not None, f"{ticker}: no order book frame in the merged view"
        diff = {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}
        assert not diff, f"{ticker}: rebuilt book differs from the simulator's at (side, price): (rebuilt, sim) {diff}"
    return len(tickers)


def parse_utc(text: str) -> float:
    """An RFC 3339 UTC time (``Z`` or ``+00:00``) as epoch seconds."""
    assert text.endswith("Z") or text.endswith("+00:00"), f"not UTC: {text!r}"
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Down:
    """When no connection reached the simulator, as seen by polling its stats: ``first_zero``..``last_zero`` is
    surely inside the outage, ``back`` is the first poll that saw a connection again."""

    def __init__(self) -> None:
        self.began = 0.0
        self.first_zero = 0.0
        self.last_zero = 0.0
        self.back = 0.0


async def both_down(sim: Sim, rejections: int) -> Down:
    """Close every socket and refuse the next ``rejections`` handshakes: every connector is cut off, keeps
    running, backs off and retries until the refusals are used up. The exchange keeps trading meanwhile."""
    down = Down()
    await sim.fault("reject_auth", count=rejections)
    down.began = time.time()
    await sim.fault("disconnect")
    while True:
        stats = await sim.stats()
        now = time.time()
        if stats["connections"] == 0:
            down.first_zero = down.first_zero or now
            down.last_zero = now
        elif down.first_zero:
            down.back = now
            break
        assert now - down.began < 120, f"the connectors did not come back: {stats}"
        await asyncio.sleep(0.05)
    assert (await sim.stats())["handshakes_rejected"] >= rejections
    return down


async def archive_all(archiver: ArchiverProc, nats_url: str, stream: str) -> None:
    """Wait until the stream stops growing and the archiver has archived all of it."""
    import nats

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        last = [-1]

        async def quiet() -> bool:
            seq = (await js.stream_info(stream)).state.last_seq
            same = seq == last[0]
            last[0] = seq
            return same

        await wait_until(quiet, 60, "the stream to stop growing", interval=1.0)
        await archiver.wait_archived(last[0])
    finally:
        await nc.close()
