"""ssmd archive export --incremental: a cron job adds the files the archiver closed since the last run, and the
result equals one export of the whole archive; a file that changed after it was exported is refused."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
from click.testing import CliRunner, Result

from ssmd.archive.cli import archive_group
from ssmd.archive_format.writer import ArchiveWriter, Record
from ssmd.kalshi import frames as kalshi_frames

T1207 = dt.datetime(2026, 11, 25, 12, 7, tzinfo=dt.UTC).timestamp()


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _frames(start_s: float, count: int, seqs: itertools.count[int], first: bool = False) -> list[bytes]:
    """Books for two markets (snapshots first), deltas, and trades, stamped from ``start_s`` on."""
    out = []
    base = int(start_s * 1000)
    if first:
        for market in ("A", "B"):
            out.append(orjson.dumps({"type": "orderbook_snapshot", "sid": 3, "seq": next(seqs), "msg": {
                "market_ticker": market, "yes_dollars_fp": [["0.4000", "10.00"], ["0.3900", "4.00"]],
                "no_dollars_fp": [["0.5500", "7.00"]], "ts_ms": base}}))
    for i in range(count):
        ts = base + 350 * i
        market = "AB"[i % 2]
        if i % 3 == 2:
            out.append(orjson.dumps({"type": "trade", "sid": 2, "seq": i, "msg": {
                "trade_id": f"t-{ts}", "market_ticker": market, "yes_price_dollars": "0.4100",
                "no_price_dollars": "0.5900", "count_fp": f"{i}.50", "taker_side": "yes", "ts_ms": ts}}))
        else:
            out.append(orjson.dumps({"type": "orderbook_delta", "sid": 3, "seq": next(seqs), "msg": {
                "market_ticker": market, "side": "yes" if i % 4 else "no", "price_dollars": f"0.{30 + i % 9}00",
                "delta_fp": f"{(-1) ** i * (i % 5 + 1)}.00", "ts_ms": ts}}))
    return out


def _records(frames: list[bytes], seq: itertools.count[int]) -> list[Record]:
    return [Record(f, next(seq), "prod.kalshi.json.x.y", 0) for f in frames]


def _export(arc: Path, out: Path, *extra: str) -> Result:
    return CliRunner().invoke(archive_group, ["export", str(arc), "--to", "parquet", str(out), *extra])


def _contents(out: Path) -> dict[str, list[dict[str, Any]]]:
    return {str(p.relative_to(out)): pq.read_table(p).to_pylist() for p in sorted(out.rglob("*.parquet"))}


async def test_incremental_export_across_two_rotations_equals_one_shot(tmp_path: Path) -> None:
    arc = tmp_path / "arc"
    clock = Clock(T1207)
    writer = ArchiveWriter(arc, "kalshi", 900, "15m", clock=clock, facts=kalshi_frames)
    nats, book_seq = itertools.count(1), itertools.count(1)
    runs: dict[str, list[dict[str, Any]]] = {"full": [], "grid": []}
    flags = {"full": [], "grid": ["--book-interval", "1s"]}

    def run_incremental() -> None:
        for name in runs:
            result = _export(arc, tmp_path / f"inc-{name}", "--incremental", *flags[name])
            assert result.exit_code == 0, result.output
            runs[name].append(orjson.loads(result.stdout))

    await writer.write_batch(_records(_frames(T1207, 40, book_seq, first=True), nats))
    clock.now = T1207 + 9 * 60  # 12:16: the 12:00 file closes, the 12:15 file is still being written
    await writer.write_batch(_records(_frames(clock.now, 40, book_seq), nats))
    assert sorted(p.name for p in (arc / "kalshi" / "2026-11-25").iterdir()) == [
        "1200.jsonl.gz", "1215.jsonl.gz.tmp", "manifest.json"]
    run_incremental()
    clock.now = T1207 + 24 * 60  # 12:31: a second rotation
    await writer.write_batch(_records(_frames(clock.now, 40, book_seq), nats))
    await writer.close()
    run_incremental()
    run_incremental()  # nothing new: nothing to do

    for name in runs:
        first, second, third = runs[name]
        assert (first["source_files"], second["source_files"], third["source_files"]) == (1, 2, 0)
        assert (second["already_exported"], third["already_exported"]) == (1, 3)
        whole = _export(arc, tmp_path / f"once-{name}", *flags[name])
        assert whole.exit_code == 0, whole.output
        once = orjson.loads(whole.stdout)
        assert once["frames"] == first["frames"] + second["frames"] == 120 + 2
        incremental, one_shot = _contents(tmp_path / f"inc-{name}"), _contents(tmp_path / f"once-{name}")
        assert incremental == one_shot
        assert any(key.startswith("book_top/") for key in one_shot)
        assert sum(len(rows) for key, rows in one_shot.items() if key.startswith("trades/")) == 39

    # an exported file that changes afterwards is refused, and nothing is touched
    path = arc / "kalshi" / "2026-11-25" / "1200.jsonl.gz"
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF
    path.write_bytes(bytes(blob))
    before = _contents(tmp_path / "inc-full")
    refused = _export(arc, tmp_path / "inc-full", "--incremental")
    assert refused.exit_code == 2
    assert "1200.jsonl.gz: changed since it was exported" in refused.stderr
    assert _contents(tmp_path / "inc-full") == before


def test_incremental_refuses_other_options_and_foreign_directories(tmp_path: Path) -> None:
    """Continuing with another --book-depth is refused (the tables would not match); so is an OUT that is not an
    export, and a plain export into an existing OUT."""
    from _archive_factory import trade

    from ssmd.testing import write_day

    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", [trade("t1", 1770897600)])])
    out = tmp_path / "out"
    assert _export(tmp_path / "arc", out, "--incremental").exit_code == 0
    other = _export(tmp_path / "arc", out, "--incremental", "--book-depth", "3")
    assert other.exit_code == 2 and "other options" in other.stderr and "book_depth" in other.stderr
    plain = _export(tmp_path / "arc", out)
    assert plain.exit_code == 2 and "--incremental" in plain.stderr
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    refused = _export(tmp_path / "arc", foreign, "--incremental")
    assert refused.exit_code == 2 and "not an export made by ssmd" in refused.stderr
    assert (foreign / "notes.txt").read_text() == "mine"
