"""Partitions (``--partition i/N``, ``SSMD_PARTITION``): N connectors split the markets, each market exactly once,
the same way in every process and across discovery refreshes; global channels go to partition 0 only."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from ssmd.config.capture import CaptureConfig
from ssmd.connector.partition import Partition, parse_partition, partition_of
from ssmd.connector.plan import plan_shards
from ssmd.coverage import is_coverage
from ssmd.feed import get_feed
from ssmd.testing import ConnectorProc, Setup, Sim, stream_messages, write_env


def _tickers(n: int) -> list[str]:
    """Kalshi-shaped tickers: series, date, strike; plus a few non-ASCII ones (hashed as UTF-8)."""
    rng = random.Random(15)
    series = ["KXBTCD", "KXETHD", "KXHIGHNY", "INXD", "KXFED", "KXCPI", "KXNBAGAME"]
    out = {f"{rng.choice(series)}-26FEB{rng.randint(1, 28):02d}{rng.randint(0, 23):02d}-T{rng.randint(1, 99999)}.99"
           for _ in range(n)}
    out |= {"KXÉLECTION-26-Ω", "KX-市场-1"}
    return sorted(out)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 16])
def test_the_partitions_cover_every_market_exactly_once(count: int) -> None:
    """Over 20,000 tickers: every ticker is owned by exactly one of the N partitions; selections are disjoint and
    together are the whole list; no partition is starved."""
    tickers = _tickers(20_000)
    parts = [Partition(i, count) for i in range(count)]
    for t in tickers:
        assert sum(p.owns(t) for p in parts) == 1, t
    chosen = [p.select(tickers) for p in parts]
    assert sorted(t for share in chosen for t in share) == tickers
    mean = len(tickers) / count
    assert all(0.9 * mean < len(share) < 1.1 * mean for share in chosen), [len(s) for s in chosen]


def test_the_hash_is_the_documented_one_in_every_process() -> None:
    """crc32 of the UTF-8 ticker, mod N: fixed values other tools can reproduce, and the same in processes
    with different hash salts (Python's own ``hash()`` would differ)."""
    assert [partition_of("KXBTCD-26FEB1217-T67749.99", n) for n in (2, 3, 4, 8)] == [1, 2, 3, 3]
    assert [partition_of("INXD-25DEC31-B5000", n) for n in (2, 3, 4, 8)] == [0, 2, 2, 2]
    tickers = _tickers(500)
    code = ("import sys; from ssmd.connector.partition import partition_of; "
            "print([partition_of(t, 5) for t in sys.stdin.read().split()])")
    here = [partition_of(t, 5) for t in tickers]
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], input=" ".join(tickers), capture_output=True,
                             text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed}, timeout=60)
        assert orjson.loads(out.stdout) == here


@pytest.mark.parametrize(("text", "expected"), [("0/1", (0, 1)), ("1/2", (1, 2)), (" 3 / 4 ", (3, 4))])
def test_partition_values_accepted(text: str, expected: tuple[int, int]) -> None:
    p = parse_partition(text)
    assert (p.index, p.count) == expected


@pytest.mark.parametrize("text", ["2/2", "0/0", "-1/2", "1", "a/b", "1/2/3", "", "1.0/2"])
def test_partition_values_rejected_saying_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected i/N with N >= 1 and 0 <= i < N"):
        parse_partition(text)


def test_global_channels_are_planned_on_partition_0_only() -> None:
    capture = CaptureConfig(channels=("ticker", "trade", "orderbook_delta"), markets={"tickers": ["A", "B"]}
                            ).for_feed(get_feed("kalshi"))
    assert [s.channel for s in plan_shards(capture, ["A"], with_global=True)[0]] == ["ticker", "trade",
                                                                                     "orderbook_delta"]
    assert [(s.channel, s.markets) for s in plan_shards(capture, ["B"], with_global=False)[0]] == [
        ("orderbook_delta", ["B"])]


@pytest.mark.parametrize(("args", "environ", "named"), [
    (("--partition", "2/2"), {}, "--partition"),
    ((), {"SSMD_PARTITION": "half"}, "SSMD_PARTITION"),
])
async def test_a_bad_partition_exits_2_naming_where_it_came_from(
    tmp_path: Path, args: tuple[str, ...], environ: dict[str, str], named: str
) -> None:
    env_path = write_env(tmp_path / "e.yaml", "bad", "", transport="memory")
    conn = ConnectorProc(tmp_path, env_path, None, *args, environ=environ)
    line = await asyncio.to_thread(conn.startup_error, 60)
    assert line.startswith(f"error: {named}: expected i/N"), conn.logs()


@pytest.fixture
def churning_sim(tmp_path: Path) -> Iterator[Sim]:
    """Markets close and new ones open about every second (a lifecycle step every 0.25 s)."""
    s = Sim(tmp_path, "--no-auth", "--rate", "300", "--seed", "11", "--markets", "30", "--ping-interval", "1",
            "--lifecycle-interval", "0.25")
    try:
        yield s
    finally:
        s.stop()


async def _open_markets(sim: Sim) -> set[str]:
    async with aiohttp.ClientSession() as http, http.get(f"{sim.http}/trade-api/v2/markets",
                                                         params={"status": "open", "limit": "1000"}) as r:
        return {m["ticker"] for m in (await r.json())["markets"]}


@pytest.mark.slow
async def test_two_partitions_capture_every_market_once_across_refreshes(
    stream: Setup, churning_sim: Sim, tmp_path: Path
) -> None:
    """Connectors 0/2 (flag) and 1/2 (env var) against one exchange and one stream, while markets come and go:
    each market's book comes from exactly one of them, the one its hash names, for the whole run (refresh after
    refresh); new markets land in exactly one; together they hold every open market; only 0/2 has the global
    channels."""
    sim = churning_sim
    at_start = await _open_markets(sim)
    env_path = write_env(tmp_path / "part.yaml", stream.name, stream.nats.url, {
        "channels": ["ticker", "trade", "market_lifecycle_v2", "orderbook_delta"],
        "markets": {"discover": {"status": "open", "refresh": "1s"}}, "dead_after": 5, "ping_interval": 1})
    conns = [ConnectorProc(tmp_path, env_path, sim.url, "--partition", "0/2"),
             ConnectorProc(tmp_path, env_path, sim.url, environ={"SSMD_PARTITION": "1/2"})]
    try:
        for conn in conns:
            await conn.wait_ready()
        await asyncio.sleep(5.0)  # several refreshes while markets open and close
        await sim.pause()  # the market list stops changing; let discovery catch up
        await asyncio.sleep(2.5)
        at_end = await _open_markets(sim)
        healths = [(await conn.get("/health"))[1] for conn in conns]
    finally:
        codes = [conn.terminate() for conn in conns]
    assert codes == [0, 0]
    assert [h["partition"] for h in healths] == ["0/2", "1/2"]
    assert [h["markets"] for h in healths] == [sum(partition_of(t, 2) == i for t in at_end) for i in (0, 1)]

    msgs = [m for m in await stream_messages(stream.nats.url, stream.stream, f"{stream.prefix}.>")
            if not is_coverage(m.data)]  # each instance's coverage events: tests/connector/test_books_by_default.py
    runs_of: dict[str, set[str]] = defaultdict(set)  # ticker -> connector runs that sent its book
    global_runs: set[str] = set()
    for m in msgs:
        run = m.headers["Ssmd-Conn"].split("-")[0]
        if ".orderbook." in m.subject:
            runs_of[orjson.loads(m.data)["msg"]["market_ticker"]].add(run)
        else:
            global_runs.add(run)
    assert all(len(runs) == 1 for runs in runs_of.values()), {t: r for t, r in runs_of.items() if len(r) > 1}
    partition_of_run: dict[str, set[int]] = defaultdict(set)
    for ticker, (run,) in runs_of.items():
        partition_of_run[run].add(partition_of(ticker, 2))
    assert sorted(partition_of_run.values(), key=min) == [{0}, {1}], partition_of_run
    [run0] = [run for run, parts in partition_of_run.items() if parts == {0}]
    assert global_runs == {run0}
    assert at_end <= set(runs_of), at_end - set(runs_of)
    new = at_end - at_start
    assert new, "no market opened during the test"
