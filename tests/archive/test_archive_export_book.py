"""book_top: the exported top of book equals a book built independently here, at full rate and on a time grid.

The frames cover snapshots (current and legacy cents formats), deltas that add and remove levels, a sub-penny price
with a fractional size, a delta before any snapshot, a seq gap, a delta that cannot be read, and a reconnect (a new
sid whose seq restarts at 1), spread over two archive files so the book crosses a file boundary.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner

from ssmd.archive.cli import archive_group
from ssmd.testing import write_day

T0 = 1_770_897_600_000  # 2026-02-12T12:00:00Z
DEPTH = 2


def _snap(sid: int, seq: int, market: str, ts: int, yes: list[list[Any]], no: list[list[Any]],
          legacy: bool = False) -> dict[str, Any]:
    names = ("yes", "no") if legacy else ("yes_dollars_fp", "no_dollars_fp")
    return {"type": "orderbook_snapshot", "sid": sid, "seq": seq,
            "msg": {"market_ticker": market, names[0]: yes, names[1]: no, "ts_ms": ts}}


def _delta(sid: int, seq: int, market: str, ts: int, side: str, price: str, delta: str) -> dict[str, Any]:
    return {"type": "orderbook_delta", "sid": sid, "seq": seq,
            "msg": {"market_ticker": market, "side": side, "price_dollars": price, "delta_fp": delta, "ts_ms": ts}}


FRAMES: list[dict[str, Any]] = [
    _snap(3, 1, "A", T0 + 100, [["0.4000", "10.00"], ["0.3800", "5.00"]], [["0.5500", "7.00"], ["0.5000", "3.00"]]),
    _snap(3, 2, "B", T0 + 200, [[30, 4]], [[60, 2]], legacy=True),
    {"type": "trade", "sid": 2, "seq": 1, "msg": {"trade_id": "t1", "market_ticker": "A", "yes_price_dollars":
                                                   "0.4000", "count_fp": "1.00", "taker_side": "yes",
                                                   "ts_ms": T0 + 250}},
    _delta(3, 3, "A", T0 + 300, "yes", "0.4100", "2.00"),   # a new best bid: A has three bids now
    _delta(3, 4, "A", T0 + 1_400, "no", "0.5500", "-7.00"),  # level removed: best ask 0.50 -> 0.50 only
    _delta(3, 5, "B", T0 + 1_500, "yes", "0.3000", "-4.00"),  # B's only bid removed
    _delta(3, 6, "C", T0 + 1_600, "yes", "0.2000", "1.00"),   # C: a delta before any snapshot
    _delta(3, 8, "A", T0 + 2_100, "yes", "0.4000", "1.00"),   # seq 7 lost: A, B, C invalid, this one ignored
    _delta(3, 9, "B", T0 + 2_200, "no", "0.6000", "5.00"),    # still invalid: ignored
    _snap(3, 10, "A", T0 + 4_700, [["0.4200", "1.00"]], [["0.5700", "2.00"]]),  # A valid again
    # reconnect: a new subscription, sid 5, seq from 1
    _snap(5, 1, "B", T0 + 5_100, [["0.3100", "3.00"]], []),
    _delta(5, 2, "A", T0 + 5_200, "yes", "0.4300", "1.00"),   # A's snapshot was on sid 3: invalid
    _snap(5, 3, "A", T0 + 5_300, [["0.4200", "1.00"], ["0.4100", "4.00"]], [["0.5600", "2.00"]]),
    _delta(5, 4, "A", T0 + 6_050, "yes", "0.4150", "1.50"),   # sub-penny price, fractional size
    _delta(5, 5, "B", T0 + 6_100, "yes", "0.3100", "2.00"),
    _delta(5, 6, "A", T0 + 6_200, "no", "abc", "1.00"),       # unreadable price: A invalid
    _delta(5, 7, "A", T0 + 6_300, "yes", "0.4200", "-1.00"),  # ignored while invalid
    _snap(5, 8, "A", T0 + 9_400, [["0.4400", "2.00"]], [["0.5300", "1.00"], ["0.5400", "1.00"]]),
    _delta(5, 9, "A", T0 + 9_500, "no", "0.5300", "-1.00"),
]


class ReferenceBook:
    """A deliberately plain book: Decimal dicts, sorted on every read."""

    def __init__(self) -> None:
        self.books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
        self.valid: dict[str, bool] = {}
        self.snap_sid: dict[str, int] = {}
        self.last_seq: dict[int, int] = {}
        self.on_sid: dict[int, set[str]] = {}
        self.where: dict[str, tuple[int, int]] = {}

    def apply(self, frame: dict[str, Any]) -> str:
        msg, sid, seq = frame["msg"], frame["sid"], frame["seq"]
        market = msg["market_ticker"]
        if sid in self.last_seq and seq != self.last_seq[sid] + 1:
            for other in self.on_sid[sid]:
                self.valid[other] = False
        self.last_seq[sid] = seq
        self.on_sid.setdefault(sid, set()).add(market)
        self.where[market] = (sid, seq)
        if frame["type"] == "orderbook_snapshot":
            if "yes" in msg or "no" in msg:
                book = {side: {Decimal(p) / 100: Decimal(q) for p, q in msg.get(side, [])} for side in ("yes", "no")}
            else:
                book = {side: {Decimal(p): Decimal(q) for p, q in msg.get(f"{side}_dollars_fp", [])}
                        for side in ("yes", "no")}
            self.books[market] = book
            self.valid[market] = True
            self.snap_sid[market] = sid
            return market
        self.books.setdefault(market, {"yes": {}, "no": {}})
        if self.snap_sid.get(market) != sid:
            self.valid[market] = False
        try:
            price = Decimal(msg["price_dollars"])
        except ArithmeticError:
            self.valid[market] = False
        if self.valid.get(market):
            side = self.books[market][msg["side"]]
            size = side.get(price, Decimal(0)) + Decimal(msg["delta_fp"])
            if size > 0:
                side[price] = size
            else:
                side.pop(price, None)
        return market

    def top(self, market: str) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]], bool]:
        book = self.books[market]
        bids = sorted(book["yes"].items(), reverse=True)[:DEPTH]
        asks = sorted((1 - p, q) for p, q in book["no"].items())[:DEPTH]
        return bids, asks, self.valid.get(market, False)


def _expected_full_rate() -> list[tuple[Any, ...]]:
    ref = ReferenceBook()
    rows = []
    for frame in FRAMES:
        if frame["type"].startswith("orderbook"):
            market = ref.apply(frame)
            rows.append((frame["msg"]["ts_ms"], market, *ref.top(market), *ref.where[market]))
    return rows


def _expected_grid(interval: int) -> list[tuple[Any, ...]]:
    ref = ReferenceBook()
    rows = []
    boundary = None
    for frame in FRAMES:
        if not frame["type"].startswith("orderbook"):
            continue
        ts = frame["msg"]["ts_ms"]
        if boundary is None:
            boundary = -(-ts // interval) * interval
        while ts > boundary:
            rows += [(boundary, market, *ref.top(market), *ref.where[market]) for market in sorted(ref.books)]
            boundary += interval
        ref.apply(frame)
    return rows


def _export(tmp_path: Path, *extra: str) -> list[tuple[Any, ...]]:
    raw = [orjson.dumps(f) for f in FRAMES]
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", raw[:8]), ("1215.jsonl.gz", raw[8:])])
    out = tmp_path / "out"
    result = CliRunner().invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(out),
                                                "--book-depth", str(DEPTH), *extra])
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)
    assert summary["book_gaps"] == 1
    table = ds.dataset(out / "book_top", format="parquet", partitioning="hive").to_table()
    rows = []
    for row in table.to_pylist():  # parts are named after their source files, which sort in archive order
        bids = [(row[f"bid_price_{i}"], row[f"bid_size_{i}"]) for i in range(DEPTH)
                if row[f"bid_price_{i}"] is not None]
        asks = [(row[f"ask_price_{i}"], row[f"ask_size_{i}"]) for i in range(DEPTH)
                if row[f"ask_price_{i}"] is not None]
        for i in range(DEPTH):  # a level's price and size are null together
            assert (row[f"bid_price_{i}"] is None) == (row[f"bid_size_{i}"] is None)
            assert (row[f"ask_price_{i}"] is None) == (row[f"ask_size_{i}"] is None)
        rows.append((int(row["ts"].timestamp() * 1000), row["market_ticker"], bids, asks, row["book_valid"],
                     row["sid"], row["seq"]))
    return rows


def test_book_top_after_every_change_equals_an_independent_book(tmp_path: Path) -> None:
    """One row per snapshot/delta with the two best YES bids and asks (NO bids at 1 - p), decimals exact;
    invalid after a gap, a delta before any snapshot, a delta from another subscription or an unreadable one,
    until the next snapshot."""
    got = _export(tmp_path)
    want = _expected_full_rate()
    assert got == want
    assert len(got) == 18
    by_seq = {(r[1], r[5], r[6]): r for r in got}
    assert by_seq[("A", 3, 3)][2] == [(Decimal("0.41"), Decimal("2")), (Decimal("0.40"), Decimal("10"))]
    assert by_seq[("A", 3, 1)][3] == [(Decimal("0.45"), Decimal("7")), (Decimal("0.50"), Decimal("3"))]
    assert by_seq[("C", 3, 6)][4] is False and by_seq[("A", 3, 8)][4] is False
    assert by_seq[("A", 5, 4)][2][1] == (Decimal("0.415"), Decimal("1.5"))
    assert [r[4] for r in got if r[1] == "A" and r[5] == 5] == [False, True, True, False, False, True, True]


@pytest.mark.parametrize("interval, flag", [(1000, "1s")])
def test_book_top_on_a_one_second_grid_carries_the_book_forward(tmp_path: Path, interval: int, flag: str) -> None:
    """--book-interval 1s: every known market at every second boundary the data has passed, book carried
    forward across quiet seconds (6 s to 9 s have no frames)."""
    got = _export(tmp_path, "--book-interval", flag)
    want = _expected_grid(interval)
    assert got == want
    assert [r[0] for r in got if r[1] == "A"] == [T0 + k * 1000 for k in range(1, 10)]
    assert {r[0] for r in got if r[1] == "B"} == {T0 + k * 1000 for k in range(1, 10)}


def test_a_reply_that_takes_the_next_seq_is_not_a_gap(tmp_path: Path) -> None:
    """Kalshi does not say whether ok/unsubscribed replies consume a seq: one that does is not counted as a gap
    (as ssmd.kalshi.book decides), one that does not changes nothing."""
    frames = [
        _snap(3, 1, "A", T0, [["0.4000", "1.00"]], []),
        {"type": "ok", "id": 7, "sid": 3, "seq": 2, "msg": {"market_tickers": ["A"]}},
        _delta(3, 3, "A", T0 + 10, "yes", "0.4100", "1.00"),
        {"type": "ok", "id": 8, "sid": 3, "seq": 3, "msg": {"market_tickers": ["A"]}},  # not the next one: ignored
        _delta(3, 4, "A", T0 + 20, "yes", "0.4200", "1.00"),
    ]
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", [orjson.dumps(f) for f in frames])])
    result = CliRunner().invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet",
                                                str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["book_gaps"] == 0
    rows = ds.dataset(tmp_path / "out" / "book_top", format="parquet", partitioning="hive").to_table().to_pylist()
    assert [(r["seq"], r["book_valid"], r["bid_price_0"]) for r in rows] == [
        (1, True, Decimal("0.4")), (3, True, Decimal("0.41")), (4, True, Decimal("0.42"))]
