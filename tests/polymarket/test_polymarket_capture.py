"""End to end with real processes: ``ssmd sim polymarket`` -> ``ssmd connector`` (the generic one, given the
Polymarket feed) -> nats-server -> ``ssmd archiver`` -> ``ssmd archive verify`` / ``export`` / ``ssmd agent
backtest``. The simulator's sent-log is the oracle: the stream and the archive must be it byte for byte, the
exported tables must hold its values exactly, and the backtest's fires must be those of a book computed here."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import duckdb
import orjson
import pytest
import yaml

from ssmd.bus.embedded import EmbeddedNats
from ssmd.coverage.events import is_coverage
from ssmd.polymarket.sim.server import PolySim, PolySimConfig
from ssmd.testing import (
    ArchiverProc,
    ConnectorProc,
    expected_subject,
    make_stream,
    read_archive,
    run_ssmd,
    stream_messages,
    wait_until,
)

FEED = Path(__file__).resolve().parents[2] / "feeds" / "polymarket.yaml"
SILENT_AFTER = 2.0
"""The connector's silent-socket limit in this test (production: 60 s)."""
MAX_CENTS = 0.5  # below one tick: every two-sided book fires once, so the comparison is never of two empty lists


def sent_lines(sim: PolySim) -> list[bytes]:
    assert sim.config.sent_log is not None
    path = Path(sim.config.sent_log)
    return [line for line in path.read_bytes().split(b"\n") if line] if path.exists() else []


async def _fault(sim: PolySim, path: str, body: dict[str, Any] | None = None) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{sim.rest_url}{path}", json=body or {}) as resp:
        assert resp.status == 200, await resp.text()


@pytest.mark.slow
async def test_capture_archive_export_and_backtest_through_reconnects_and_a_silent_socket(
        nats_server: EmbeddedNats, unique_name: str, tmp_path: Path) -> None:
    """Discovery through Gamma, the array-framed dump, deltas, PONGs and ``NO NEW ASSETS`` (kept on unparsed,
    without a warning each), an abrupt drop, then a silent socket (PONGs still come back): each ends in a
    reconnect whose resubscribe brings a fresh array dump (the re-snapshot). Every frame sent is in the stream
    once, in order, on its subject; the archive is the same; verify is clean; the export and the backtest agree
    with the sent frames."""
    sim = PolySim(PolySimConfig(port=0, seed=3, markets=3, rate=40, sent_log=tmp_path / "sent.log"))
    await sim.start()
    name, prefix = unique_name, f"{unique_name}.polymarket"
    stream = f"{name}_POLYMARKET".upper()
    env = tmp_path / "env.yaml"
    env.write_text(yaml.safe_dump({
        "name": name, "feed": "polymarket",
        "transport": {"type": "nats", "url": nats_server.url},
        "storage": {"type": "local", "path": str(tmp_path / "data")},
        "capture": {"markets": {"discover": {"refresh": "5m"}}, "silent_after": SILENT_AFTER},
    }))
    await make_stream(nats_server.url, stream, prefix)
    conn = ConnectorProc(tmp_path, env, sim.url, feed=FEED)
    try:
        await conn.wait_ready()
        await wait_until(lambda: len(sent_lines(sim)) >= 30, what="30 frames sent")
        assert sim.stats["subscribes"] == 1
        await _fault(sim, "/_sim/fault", {"kind": "text", "text": "NO NEW ASSETS"})
        await _fault(sim, "/_sim/fault", {"kind": "disconnect", "abrupt": True})
        await wait_until(lambda: sim.stats["subscribes"] >= 2, what="the connector to resubscribe")
        before = len(sent_lines(sim))
        await wait_until(lambda: len(sent_lines(sim)) >= before + 30, what="30 more frames")
        await _fault(sim, "/_sim/fault", {"kind": "silent", "seconds": 600})
        await wait_until(lambda: sim.stats["subscribes"] >= 3, what="a reconnect of the silent socket")
        await _fault(sim, "/_sim/resume")
        before = len(sent_lines(sim))
        await wait_until(lambda: len(sent_lines(sim)) >= before + 30, what="30 frames after the silence")
        sim.paused = True

        async def settled() -> tuple[list[bytes], list[Any]] | None:
            """The sent-log and the stream read together: equal counts (a PONG or a silent-socket reconnect's
            dump may land between the reads: then try again)."""
            sent = sent_lines(sim)
            msgs = [m for m in await stream_messages(nats_server.url, stream, f"{prefix}.>")
                    if not is_coverage(m.data)]
            return (sent, msgs) if len(msgs) == len(sent) else None

        sent, msgs = await wait_until(settled, what="the stream to hold what was sent")
    finally:
        assert conn.terminate() == 0
        await sim.stop()
    final = sent_lines(sim)  # a PONG or a reconnect's dump may have come after the settled reads
    assert [m.data for m in msgs] == sent
    assert all(m.subject == expected_subject(prefix, m.data, "polymarket") for m in msgs)
    logs = conn.logs()
    assert "silent socket" in logs
    assert "frame without JSON" not in logs  # PONG and NO NEW ASSETS are expected words, not junk
    assert b"NO NEW ASSETS" in sent
    dumps = [i for i, m in enumerate(msgs) if m.data.startswith(b'[{"market"')]
    assert dumps[0] == 0 and len(dumps) >= 3  # the first frame; one per (re)connection
    conns = [m.headers["Ssmd-Conn"] for m in msgs]
    assert len({conns[i] for i in dumps}) == len(dumps) == len(set(conns))  # one dump per connection
    assert all(orjson.loads(msgs[i].data)[0]["event_type"] == "book" for i in dumps)
    assert len(orjson.loads(msgs[0].data)) == 6  # every asset of the 3 open markets, found through Gamma

    archive = tmp_path / "archive"
    config = tmp_path / "archiver.yaml"
    config.write_text(yaml.safe_dump({
        "nats": {"url": nats_server.url, "stream": stream, "consumer": "archiver", "filter": f"{prefix}.json.>"},
        "storage": {"path": str(archive)}, "feed": "polymarket"}))
    archiver = ArchiverProc(config, tmp_path / "archiver.log")
    try:
        await archiver.wait_archived(len(msgs))
    finally:
        assert archiver.terminate() == 0, archiver.logs()
    archived = [line for line in read_archive(archive / "polymarket") if not is_coverage(line)]
    assert len(archived) >= len(sent) and archived == final[:len(archived)]
    verified = run_ssmd("archive", "verify", archive / "polymarket")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    _check_export(archive, tmp_path / "export", archived)
    _check_backtest(archive, tmp_path / "fires.jsonl", archived)


def _objects(frames: list[bytes]) -> list[dict[str, Any]]:
    """Every object of every JSON frame, in order (an array frame's elements one by one)."""
    out: list[dict[str, Any]] = []
    for raw in frames:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        out += [o for o in (data if isinstance(data, list) else [data]) if isinstance(o, dict)]
    return out


def _dec(text: str) -> Decimal | None:
    return Decimal(text) if text != "" else None


def _check_export(archive: Path, out: Path, frames: list[bytes]) -> None:
    exported = run_ssmd("archive", "export", archive / "polymarket", "--to", "parquet", out)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    objs = _objects(frames)

    def table(name: str, columns: str) -> Counter[tuple[Any, ...]]:
        rel = duckdb.sql(f"select {columns} from read_parquet('{out}/{name}/*/*.parquet', hive_partitioning=true)")
        assert rel is not None
        return Counter(rel.fetchall())

    books = Counter((o["asset_id"], o["market"].lower(), side, Decimal(lv["price"]), Decimal(lv["size"]), o["hash"])
                    for o in objs if o["event_type"] == "book"
                    for side, key in (("bid", "bids"), ("ask", "asks")) for lv in o[key])
    assert table("book", "asset_id, market, side, price, size, hash") == books and books
    changes = Counter((e["asset_id"], {"BUY": "bid", "SELL": "ask"}[e["side"]], Decimal(e["price"]),
                       Decimal(e["size"]), _dec(e["best_bid"]), _dec(e["best_ask"]), int(o["timestamp"]))
                      for o in objs if o["event_type"] == "price_change" for e in o["price_changes"])
    assert table("price_change", "asset_id, side, price, size, best_bid, best_ask, epoch_ms(ts)") == changes
    assert changes
    trades = Counter((o["asset_id"], o["side"].lower(), Decimal(o["price"]), Decimal(o["size"]),
                      o["fee_rate_bps"] or None, o["transaction_hash"])
                     for o in objs if o["event_type"] == "last_trade_price")
    assert table("last_trade_price", "asset_id, side, price, size, fee_rate_bps, transaction_hash") == trades
    assert trades


def _check_backtest(archive: Path, out: Path, frames: list[bytes]) -> None:
    """``spread_wide`` fires from ``ssmd agent backtest`` equal those of an order book kept here from the frames:
    ``book`` replaces a token's book, a ``price_change`` entry sets a level's size (0 removes it),
    ``best_bid_ask`` sets the top's fields it carries; the spread is best ask - best bid in cents."""
    done = run_ssmd("agent", "backtest", "--signals", f"spread_wide[max_cents={MAX_CENTS}]", "--archive",
                    archive / "polymarket", "--out", out)
    assert done.returncode == 0, done.stdout + done.stderr
    got = [(f["market"], f["ts_ms"], f["values"]["spread_cents"], f["values"]["previous_cents"])
           for f in map(orjson.loads, out.read_bytes().splitlines())]
    books: dict[str, tuple[dict[float, float], dict[float, float]]] = {}
    tops: dict[str, list[float | None]] = {}  # asset -> [bid, ask, spread]
    want: list[tuple[str, int, float, float | None]] = []

    def spread(asset: str, bid: float | None, ask: float | None, ts: int) -> None:
        top = tops.setdefault(asset, [None, None, None])
        prev = top[2]
        top[:] = [bid, ask, None if bid is None or ask is None else round((ask - bid) * 100, 4)]
        now = top[2]
        if now is not None and now > MAX_CENTS and not (prev is not None and prev > MAX_CENTS):
            want.append((asset, ts, now, prev))

    def from_book(asset: str, ts: int) -> None:
        bids, asks = books[asset]
        spread(asset, max(bids) if bids else None, min(asks) if asks else None, ts)

    for o in _objects(frames):
        kind, ts = o["event_type"], int(o["timestamp"])
        if kind == "book":
            books[o["asset_id"]] = ({float(lv["price"]): float(lv["size"]) for lv in o["bids"]},
                                    {float(lv["price"]): float(lv["size"]) for lv in o["asks"]})
            from_book(o["asset_id"], ts)
        elif kind == "price_change":
            for e in o["price_changes"]:
                if e["asset_id"] in books:
                    side = books[e["asset_id"]][0 if e["side"] == "BUY" else 1]
                    side.pop(float(e["price"]), None)
                    if float(e["size"]) > 0:
                        side[float(e["price"])] = float(e["size"])
                    from_book(e["asset_id"], ts)
                else:  # no snapshot yet: the agent's book is unknown, its top stays empty
                    spread(e["asset_id"], None, None, ts)
        elif kind == "best_bid_ask":
            old = tops.get(o["asset_id"], [None, None, None])
            spread(o["asset_id"], float(o["best_bid"]) if o["best_bid"] else old[0],
                   float(o["best_ask"]) if o["best_ask"] else old[1], ts)
    assert got == want
    assert want  # the signal fired: the comparison is not of two empty lists
