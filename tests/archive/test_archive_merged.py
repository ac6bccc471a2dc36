"""The merged view (ssmd.archive.merged) on synthetic captures of two instances with outages.

A small exchange model plays the oracle: it makes trades, tickers (some sent twice, byte for byte: true
duplicates), lifecycle frames and book changes, and sends each to every connection that is up, as Kalshi would
(per-connection sid/seq, a snapshot on subscribe). The archive is the interleaving of all connections' frames.
The merged view must give every delivered trade once, tickers as often as the exchange sent them, and for every
market a book that, rebuilt naively from the merged frames, equals the exchange's.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

import ssmd.archive
from ssmd.archive.merged import Merger, merge
from ssmd.archive.verify import verify
from ssmd.archive_format.members import Origin
from ssmd.archive_format.writer import ArchiveWriter, Record
from ssmd.coverage.events import CoverageEvent
from ssmd.feed import get_feed
from ssmd.testing import run_ssmd

MARKETS = ("M-A", "M-B", "M-C")
STEP_NS = 2_000_000_000
identify = get_feed("kalshi").identity


@dataclass
class Line:
    raw: bytes
    origin: tuple[str, str] | None
    received_ns: int | None


class Conn:
    """One connection's protocol state: its book sid's seq, its lifecycle sid's seq, its trade sid's seq."""

    def __init__(self, instance: str, name: str) -> None:
        self.origin = (instance, name)
        self.seq = {"book": 0, "trade": 0, "life": 0}
        self.book_sid = 3

    def frame(self, kind: str, ftype: str, msg: dict[str, Any], sid: int) -> bytes:
        frame: dict[str, Any] = {"type": ftype, "sid": sid}
        if kind in self.seq:
            self.seq[kind] += 1
            frame["seq"] = self.seq[kind]
        frame["msg"] = msg
        return orjson.dumps(frame)


class Exchange:
    """The truth: books, and which frames each up connection receives."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.books: dict[str, dict[tuple[str, str], Decimal]] = {m: {} for m in MARKETS}
        self.trade_ids: set[str] = set()
        self.tickers: list[bytes] = []

    def snapshot_msg(self, market: str) -> dict[str, Any]:
        book = self.books[market]
        return {"market_ticker": market,
                "yes_dollars_fp": [[p, str(s)] for (side, p), s in sorted(book.items()) if side == "yes"],
                "no_dollars_fp": [[p, str(s)] for (side, p), s in sorted(book.items()) if side == "no"]}

    def step(self, t: int) -> list[tuple[str, str, dict[str, Any], int]]:
        """The messages of one step as ``(seq kind, type, msg, sid)``."""
        rng = self.rng
        out: list[tuple[str, str, dict[str, Any], int]] = []
        for _ in range(rng.randint(1, 4)):
            market = rng.choice(MARKETS)
            side, price = rng.choice(("yes", "no")), f"0.{rng.randint(1, 9)}0"
            level = self.books[market].get((side, price), Decimal(0))
            change = Decimal(rng.randint(1, 50)) if level == 0 or rng.random() < 0.6 else -level
            self.books[market][(side, price)] = level + change
            if self.books[market][(side, price)] == 0:
                del self.books[market][(side, price)]
            out.append(("book", "orderbook_delta", {"market_ticker": market, "price_dollars": price,
                                                     "delta_fp": f"{change:.2f}", "side": side}, 3))
        if rng.random() < 0.5:
            trade_id = f"T{t}-{rng.randint(0, 10**9)}"
            self.trade_ids.add(trade_id)
            out.append(("trade", "trade", {"trade_id": trade_id, "market_ticker": rng.choice(MARKETS),
                                           "yes_price_dollars": "0.5000", "count_fp": "1.00",
                                           "taker_side": "yes", "ts": 1_770_000_000 + 2 * t}, 2))
        ticker = {"market_ticker": rng.choice(MARKETS), "price_dollars": f"0.{rng.randint(10, 99)}",
                  "ts": 1_770_000_000 + 2 * t}
        out.append(("tick", "ticker", ticker, 1))
        if rng.random() < 0.2:  # the exchange sends the same ticker twice: a true duplicate, kept
            out.append(("tick", "ticker", ticker, 1))
        if rng.random() < 0.1:
            out.append(("life", "market_lifecycle_v2", {"market_ticker": rng.choice(MARKETS),
                                                        "event_type": "activated", "open_ts": t}, 4))
        return out


def capture(seed: int, schedule: dict[str, list[tuple[int, int]]], steps: int = 120,
            gap_at: int | None = None) -> tuple[list[Line], Exchange, dict[tuple[str, str], Counter[bytes]]]:
    """The archive of ``schedule`` (instance -> up windows, a new connection each) and what each origin got.
    ``gap_at``: the first connection that is up then loses one book frame (a seq gap) and re-snapshots the
    markets of that sid two steps later, as the connector does."""
    rng = random.Random(seed)
    exchange = Exchange(rng)
    conns: dict[tuple[str, int], Conn] = {}
    tickers: dict[tuple[str, str], Counter[bytes]] = {}
    lines: list[Line] = []
    resnapshot: tuple[Conn, int] | None = None
    for t in range(steps):
        up = []
        for instance, windows in schedule.items():
            for index, (start, end) in enumerate(windows):
                if start <= t < end:
                    key = (instance, index)
                    if key not in conns:
                        conn = conns[key] = Conn(instance, f"{instance}{index}")
                        for market in MARKETS:  # subscribe: a snapshot of every market first
                            raw = conn.frame("book", "orderbook_snapshot", exchange.snapshot_msg(market), 3)
                            lines.append(Line(raw, conn.origin, t * STEP_NS))
                    up.append(conns[key])
        messages = exchange.step(t)
        rng.shuffle(up)
        per_conn = {id(c): [(c, m) for m in messages] for c in up}
        if gap_at is not None and t == gap_at and up:
            victim = up[0]
            books = [i for i, (_, m) in enumerate(per_conn[id(victim)]) if m[0] == "book"]
            lost = per_conn[id(victim)].pop(books[0])
            victim.seq["book"] += 1  # the exchange numbered the frame this connection never got
            resnapshot = (victim, t + 2)
            assert lost[1][1] == "orderbook_delta"
        # interleave the connections' frames, each connection's own in order
        queues = [list(v) for v in per_conn.values()]
        while any(queues):
            q = rng.choice([q for q in queues if q])
            conn, (kind, ftype, msg, sid) = q.pop(0)
            raw = conn.frame(kind, ftype, msg, sid)
            if ftype == "ticker":
                tickers.setdefault(conn.origin, Counter())[raw] += 1
            lines.append(Line(raw, conn.origin, t * STEP_NS + rng.randint(0, 10**9)))
        if resnapshot is not None and resnapshot[1] == t and resnapshot[0] in up:
            conn = resnapshot[0]
            for market in MARKETS:
                raw = conn.frame("book", "orderbook_snapshot", exchange.snapshot_msg(market), 3)
                lines.append(Line(raw, conn.origin, t * STEP_NS + 10**9))
            resnapshot = None
    return lines, exchange, tickers


def naive_books(lines: list[Line]) -> dict[str, dict[tuple[str, str], Decimal]]:
    """Apply book frames as a researcher would: a snapshot resets its market's book, a delta adds to a level."""
    books: dict[str, dict[tuple[str, str], Decimal]] = {}
    for line in lines:
        frame = orjson.loads(line.raw)
        msg = frame.get("msg", {})
        if frame.get("type") == "orderbook_snapshot":
            book = books[msg["market_ticker"]] = {}
            for side in ("yes", "no"):
                for price, size in msg.get(f"{side}_dollars_fp", []):
                    book[(side, price)] = Decimal(size)
        elif frame.get("type") == "orderbook_delta":
            book = books.setdefault(msg["market_ticker"], {})
            key = (msg["side"], msg["price_dollars"])
            book[key] = book.get(key, Decimal(0)) + Decimal(msg["delta_fp"])
            if book[key] == 0:
                del book[key]
    return books


def _types(lines: list[Line], ftype: str) -> list[dict[str, Any]]:
    return [f for f in (orjson.loads(x.raw) for x in lines) if f["type"] == ftype]


def check_merged(lines: list[Line], exchange: Exchange, tickers: dict[tuple[str, str], Counter[bytes]]) -> Merger:
    merger = Merger(identify)
    assert_merged_view(list(merge(lines, identify, merger)), lines, exchange, tickers)
    return merger


def assert_merged_view(merged: list[Line], lines: list[Line], exchange: Exchange,
                       tickers: dict[tuple[str, str], Counter[bytes]]) -> None:
    # trades: every trade some connection delivered, once
    delivered = {f["msg"]["trade_id"] for f in _types(lines, "trade")}
    shown = [f["msg"]["trade_id"] for f in _types(merged, "trade")]
    assert len(shown) == len(set(shown)), "a trade appears twice"
    assert set(shown) == delivered
    # tickers: as often as the exchange sent them (the most any origin got), never another origin's copy
    content = Counter(orjson.dumps(f["msg"]) for f in _types(merged, "ticker"))
    best: Counter[bytes] = Counter()
    for counts in tickers.values():
        for raw, n in counts.items():
            key = orjson.dumps(orjson.loads(raw)["msg"])
            best[key] = max(best[key], n)
    assert content == best
    assert any(n > 1 for n in content.values()), "the scenario should contain true duplicates"
    # books: rebuilt naively from the merged frames, each market equals the exchange's
    assert naive_books(merged) == exchange.books
    # and the unmerged archive would not have: the test can fail
    assert naive_books(lines) != exchange.books or len({x.origin for x in lines}) == 1


def test_staggered_outages_and_a_both_down_window() -> None:
    schedule = {"a": [(0, 40), (55, 90), (105, 120)], "b": [(0, 70), (80, 100), (110, 120)]}
    for seed in range(12):
        lines, exchange, tickers = capture(seed, schedule)
        merger = check_merged(lines, exchange, tickers)
        assert merger.stats["trade"] > 0 and merger.stats["content"] > 0 and merger.stats["book"] > 0


def test_seq_gap_breaks_the_chain_until_a_snapshot() -> None:
    schedule = {"a": [(0, 120)], "b": [(0, 120)]}
    for seed in range(12):
        lines, exchange, tickers = capture(seed, schedule, gap_at=50)
        check_merged(lines, exchange, tickers)


def test_gap_on_the_followed_chain_drops_its_deltas_until_its_resnapshot() -> None:
    """With only the gapped connection's chain followed, a naive rebuild would be wrong after the gap; the merged
    view drops that chain's deltas between the gap and the re-snapshot."""
    lines, exchange, _ = capture(3, {"a": [(0, 100)]}, steps=100, gap_at=30)
    merged = list(merge(lines, identify))
    assert naive_books(merged) == exchange.books
    gap_window = [x for x in lines if 30 * STEP_NS <= (x.received_ns or 0) < 32 * STEP_NS
                  and b"orderbook_delta" in x.raw]
    assert gap_window and not any(x in merged for x in gap_window)


def test_chains_are_never_interleaved() -> None:
    """Between two snapshots of a market, the merged view's book frames come from one connection and one sid."""
    lines, _, _ = capture(5, {"a": [(0, 30), (40, 80)], "b": [(0, 60), (70, 80)]}, steps=80)
    current: dict[str, tuple[tuple[str, str] | None, int]] = {}
    for line in merge(lines, identify):
        frame = orjson.loads(line.raw)
        if frame["type"] == "orderbook_snapshot":
            current[frame["msg"]["market_ticker"]] = (line.origin, frame["sid"])
        elif frame["type"] == "orderbook_delta":
            assert current[frame["msg"]["market_ticker"]] == (line.origin, frame["sid"])


def test_unknown_origin_is_shown_as_it_is() -> None:
    lines, _, _ = capture(1, {"a": [(0, 20), (25, 40)], "b": [(0, 40)]}, steps=40, gap_at=10)
    plain = [Line(x.raw, None, x.received_ns) for x in lines]
    assert list(merge(plain, identify)) == plain


def test_coverage_lines_are_not_data() -> None:
    event = CoverageEvent(feed="kalshi", instance="a", run="r1", event="subscribed", ts_ms=1, conn="0",
                          channel="trade", markets="all")
    coverage = Line(event.encode(), ("a", "a0"), 1)
    data = Line(b'{"type":"ticker","sid":1,"msg":{"market_ticker":"X"}}', ("a", "a0"), 2)
    merger = Merger(identify)
    assert [x.raw for x in merge([coverage, data], identify, merger)] == [data.raw]
    assert merger.stats["coverage"] == 1


def test_deltas_before_any_snapshot_are_followed_until_a_snapshot() -> None:
    """A read that starts mid-chain shows one connection's deltas, then switches at the first snapshot."""
    def delta(conn: str, seq: int, change: str) -> Line:
        raw = b'{"type":"orderbook_delta","sid":3,"seq":%d,"msg":{"market_ticker":"M","price_dollars":"0.10",' \
              b'"delta_fp":"%b","side":"yes"}}' % (seq, change.encode())
        return Line(raw, ("a" if conn == "a0" else "b", conn), seq)
    snap = Line(b'{"type":"orderbook_snapshot","sid":3,"seq":3,"msg":{"market_ticker":"M",'
                b'"yes_dollars_fp":[["0.10","7.00"]]}}', ("b", "b0"), 3)
    lines = [delta("a0", 1, "1.00"), delta("b0", 1, "1.00"), delta("a0", 2, "2.00"), delta("b0", 2, "2.00"),
             snap, delta("a0", 3, "5.00"), delta("b0", 4, "5.00")]
    shown = list(merge(lines, identify))
    assert shown == [lines[0], lines[2], snap, lines[6]]
    assert naive_books(shown) == {"M": {("yes", "0.10"): Decimal(12)}}


def test_content_keys_are_forgotten_after_the_window() -> None:
    """Within the window another origin's copy is dropped; twice the window later the key is forgotten, so a copy
    that would have been dropped is shown."""
    tick = b'{"type":"ticker","sid":1,"msg":{"market_ticker":"X","price_dollars":"0.10"}}'
    a, b = ("a", "a0"), ("b", "b0")
    minute = 60 * 10**9
    lines = [Line(tick, a, 0), Line(tick, a, 1), Line(tick, b, 2), Line(tick, b, 9 * minute),
             Line(tick, b, 30 * minute)]
    shown = list(merge(lines, identify))
    assert shown == [lines[0], lines[1], lines[4]]


async def test_through_real_archive_files(tmp_path: Path) -> None:
    """The capture written by the archive writer (origins in the files, several rotated files, a coverage line):
    ``ssmd.archive.open``, ``cat``, ``export`` and ``agent backtest`` give the merged view, ``--raw`` every copy,
    and ``verify`` is clean (copies from two instances are redundancy, not duplicates)."""
    lines, exchange, tickers = capture(7, {"a": [(0, 40), (55, 120)], "b": [(0, 70), (80, 120)]}, gap_at=90)
    coverage = CoverageEvent(feed="kalshi", instance="a", run="r1", event="subscribed", ts_ms=1_770_000_000_000,
                             conn="a0", channel="trade", markets="all").encode()
    lines.insert(5, Line(coverage, ("a", "a0"), 0))
    now = [1_770_000_000.0]
    writer = ArchiveWriter(tmp_path, "kalshi", 60, "1m", clock=lambda: now[0], facts=get_feed("kalshi").frame_facts)
    for start in range(0, len(lines), 40):
        batch = lines[start:start + 40]
        await writer.write_batch([Record(x.raw, start + i + 1, "prod.kalshi.json.x._", 0,
                                         Origin(*x.origin) if x.origin else None) for i, x in enumerate(batch)])
        now[0] += 9
        await writer.rotate_if_due()
    await writer.close()
    assert len(list((tmp_path / "kalshi").glob("*/*.jsonl.gz"))) > 3

    plain = [Line(x.raw, x.origin, None) for x in lines]  # files keep no receive time: the exchange's clock
    expected = [x.raw for x in merge(plain, identify)]
    reader = ssmd.archive.open(tmp_path)
    frames = list(reader)
    assert [f.raw for f in frames] == expected
    assert_merged_view([Line(f.raw, f.origin, None) for f in frames], lines, exchange, tickers)
    assert reader.mergers and reader.mergers["kalshi"].stats["coverage"] == 1
    assert [(f.raw, f.origin) for f in ssmd.archive.open(tmp_path, raw=True)] == [(x.raw, x.origin) for x in lines]

    cat = run_ssmd("archive", "cat", tmp_path)
    assert cat.returncode == 0, cat.stderr
    assert cat.stdout.encode().splitlines() == expected
    raw = run_ssmd("archive", "cat", tmp_path, "--raw", "--types", "trade")
    shown = [orjson.loads(line) for line in raw.stdout.splitlines()]
    copies = [x for x in lines if orjson.loads(x.raw)["type"] == "trade"]
    assert [(d["instance"], d["conn"], orjson.dumps(d["data"])) for d in shown] == \
        [(*x.origin, x.raw) for x in copies if x.origin]

    export = run_ssmd("archive", "export", tmp_path, "--to", "csv", tmp_path / "out")
    assert export.returncode == 0, export.stderr
    summary = orjson.loads(export.stdout)
    assert summary["rows"]["trades"] == len(exchange_trades(lines))
    assert summary["merged_out"] == len(lines) - len(expected) - 1  # the coverage line is not a copy

    report = verify(tmp_path)
    assert report.ok, [str(p) for d in report.days for p in d.problems]

    for flags, view in (((), frames), (("--raw",), list(ssmd.archive.open(tmp_path, raw=True)))):
        backtest = run_ssmd("agent", "backtest", "--signals", "volume_spike", "--archive", tmp_path, "--json", *flags)
        assert backtest.returncode == 0, backtest.stderr
        assert orjson.loads(backtest.stdout)["frames"] == len(view) > 0, flags


def exchange_trades(lines: list[Line]) -> set[str]:
    return {f["msg"]["trade_id"] for f in _types(lines, "trade")}


def test_a_healthy_chain_keeps_the_market_and_a_silent_one_hands_it_over() -> None:
    """Another instance's snapshot is dropped while the followed connection is alive, and taken once that
    connection has been silent for longer than STALE_S (by the frames' exchange time)."""
    a, b = ("a", "a0"), ("b", "b0")

    def snap(seq: int, size: str) -> bytes:
        return b'{"type":"orderbook_snapshot","sid":3,"seq":%d,"msg":{"market_ticker":"M","yes_dollars_fp":' \
               b'[["0.10","%b"]]}}' % (seq, size.encode())

    def tick(ts: int) -> bytes:
        return b'{"type":"ticker","sid":1,"msg":{"market_ticker":"N","price_dollars":"0.1","ts":%d}}' % ts

    t0 = 1_770_000_000
    lines = [Line(snap(1, "1.00"), a, None), Line(tick(t0), a, None), Line(snap(1, "2.00"), b, None),
             Line(tick(t0 + 10), b, None), Line(snap(2, "3.00"), b, None),  # a silent for 10 s: still a's
             Line(tick(t0 + 100), b, None), Line(snap(3, "4.00"), b, None)]  # silent for 100 s: b takes over
    shown = [x.raw for x in merge(lines, identify)]
    assert [x for x in shown if b"snapshot" in x] == [snap(1, "1.00"), snap(3, "4.00")]
