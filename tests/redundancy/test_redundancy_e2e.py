"""The end-to-end proof of issue #14 with real processes: the embedded nats-server, the Kalshi simulator, connectors
with their own API keys and instance names, and the archiver. The simulator is the oracle: its REST trade tape
(every trade it made, also while nobody listened), its books (REST) and its sent-log (what went out on a socket).

Outages are forced so that their edges are known from outside: a kill -9 and a SIGTERM of one instance while the
other runs, then one window in which the exchange drops every socket and refuses the next handshakes, so that no
instance is subscribed while the exchange keeps trading and moving its books. The processes stay alive through
that window and announce it themselves (``disconnected``, then ``subscribed``), so the coverage report's gap edges
do not depend on heartbeats or the ledger's grace for silent processes: they are the disconnect and the first
resubscription, which the test brackets by polling the simulator's connection count. The tolerance
(:data:`TOLERANCE_S`) is what a loaded 2-core machine needs between the simulator closing a socket (or accepting
one) and a connector noticing it and publishing its event; the ledger's grace (two heartbeats, 20 s) would be far
outside it, so a report that fell back on silence would fail.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
import yaml
from _oracle import (
    Down,
    archive_all,
    assert_books_equal,
    assert_every_trade_once,
    both_down,
    merged_frames,
    parse_utc,
    sent_trade_ids,
    trade_tape,
)

import ssmd.archive
from ssmd import naming
from ssmd.bus.embedded import EmbeddedNats
from ssmd.kalshi.auth import generate_key_pair
from ssmd.testing import ArchiverProc, ConnectorProc, Sim, make_stream, run_ssmd, wait_until, write_env

pytestmark = pytest.mark.slow

GUIDE = Path(__file__).resolve().parents[2] / "examples" / "deployment-guide"
TOLERANCE_S = 2.0
SIM_ARGS = ("--rate", "150", "--markets", "6", "--lifecycle-interval", "0", "--ping-interval", "1")


def _keys(tmp_path: Path, names: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """A private key per API key id, and the simulator's ``--key`` arguments for their public halves."""
    private: dict[str, str] = {}
    args: list[str] = []
    for name in names:
        priv, pub = generate_key_pair()
        path = tmp_path / f"{name}.pub.pem"
        path.write_text(pub)
        private[name] = priv
        args += ["--key", f"{name}={path}"]
    return private, args


def _archiver_config(tmp_path: Path, nats_url: str, stream: str, env: str) -> Path:
    """The deployment guide's archiver.yaml, pointed at this test's server, stream and directory only."""
    body = yaml.safe_load((GUIDE / "archiver.yaml").read_text())
    body["nats"].update({"url": nats_url, "stream": stream, "filter": f"{env}.kalshi.json.>"})
    body["storage"]["path"] = str(tmp_path / "data")
    path = tmp_path / "archiver.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


CHANNELS = 4
"""ticker, trade, market_lifecycle_v2, orderbook_delta: one sid each per connection (6 markets fit one list)."""


async def _connections(sim: Sim, n: int) -> None:
    """Until ``n`` connections hold every channel: before an outage of one instance, the other must be fully
    subscribed, or the test would make a gap of its own."""
    async def reached() -> bool:
        stats = await sim.stats()
        return bool(stats["connections"] >= n and stats["subscriptions"] >= n * CHANNELS)

    await wait_until(reached, 60, f"{n} connections subscribed to {CHANNELS} channels at the simulator")


async def _flow(sim: Sim, frames: int) -> None:
    await sim.wait_sent(len(sim.sent()) + frames)


def _assert_one_gap(root: Path, down: Down) -> dict[str, object]:
    report = run_ssmd("archive", "coverage", root, "--json")
    assert report.returncode == 1, (report.returncode, report.stdout[-2000:], report.stderr[-2000:])
    assert "Traceback" not in report.stderr
    gaps = orjson.loads(report.stdout)["gaps"]
    assert len(gaps) == 1, f"expected the one both-down window, got {gaps}"
    gap = gaps[0]
    start, end = parse_utc(gap["start"]), parse_utc(gap["end"])
    assert down.began - 0.5 <= start <= down.first_zero + TOLERANCE_S, (gap, vars(down))
    assert down.last_zero - 0.05 <= end <= down.back + TOLERANCE_S, (gap, vars(down))
    return dict(gap)


def _assert_verify_clean(root: Path, gap: dict[str, object]) -> None:
    """Each instance's copy complete, no true duplicate; the summary names the same gap (not a problem)."""
    verify = run_ssmd("archive", "verify", root)
    assert verify.returncode == 0, (verify.stdout[-3000:], verify.stderr[-3000:])
    assert "Traceback" not in verify.stderr
    assert str(gap["start"]) in verify.stdout, (gap, verify.stdout[-3000:])


async def _assert_backfilled(sim: Sim, root: Path, before: set[str], down: Down) -> None:
    """Trades complete, books equal, and some trades of the both-down window reached the archive although no
    socket carried them (so the REST backfill did)."""
    frames = merged_frames(root)
    tape = await trade_tape(sim)
    assert_every_trade_once(frames, tape, before)
    unsent = {t for t, trade in tape.items()
              if down.first_zero <= parse_utc(trade["created_time"]) <= down.last_zero} - sent_trade_ids(sim)
    assert unsent, "the exchange made no trade while every connector was cut off: the window proves nothing"
    markets = await assert_books_equal(frames, sim)
    assert markets == 6


async def test_two_instances_staggered_outages_and_one_both_down_window(
        own_nats: EmbeddedNats, unique_name: str, tmp_path: Path) -> None:
    private, key_args = _keys(tmp_path, ("key-a", "key-b"))
    env_path = write_env(tmp_path / "env.yaml", unique_name, own_nats.url, {
        "channels": ["ticker", "trade", "market_lifecycle_v2", "orderbook_delta"],
        "markets": {"discover": {"status": "open"}}, "ping_interval": 1, "dead_after": 5})
    stream = naming.stream_name(unique_name, "kalshi")
    await make_stream(own_nats.url, stream, naming.prefix(unique_name, "kalshi"))
    sim = Sim(tmp_path, *key_args, "--seed", "14", *SIM_ARGS)
    procs: list[ConnectorProc] = []

    def connector(instance: str, key: str) -> ConnectorProc:
        proc = ConnectorProc(tmp_path, env_path, sim.url, no_auth=False, environ={
            "SSMD_INSTANCE": instance, "KALSHI_API_KEY": key, "KALSHI_PRIVATE_KEY": private[key]})
        procs.append(proc)
        return proc

    archiver = ArchiverProc(_archiver_config(tmp_path, own_nats.url, stream, unique_name), tmp_path / "arch.log")
    try:
        await sim.pause()  # the trades of the simulator's first moments were made before anyone was asked to listen
        before = set(await trade_tape(sim))
        a, b = connector("conn-a", "key-a"), connector("conn-b", "key-b")  # the three start at once
        await archiver.wait_ready()
        await a.wait_ready()
        await b.wait_ready()
        await _connections(sim, 2)
        await sim.resume()
        await _flow(sim, 300)

        assert a.kill() == -9  # A crashes; B alone
        await _flow(sim, 150)
        a = connector("conn-a", "key-a")
        await a.wait_ready()
        await _connections(sim, 2)
        await _flow(sim, 300)

        assert b.terminate() == 0  # B is stopped (a rollout); A alone
        await _flow(sim, 150)
        b = connector("conn-b", "key-b")
        await b.wait_ready()
        await _connections(sim, 2)
        await _flow(sim, 300)

        down = await both_down(sim, rejections=6)
        await _connections(sim, 2)
        await _flow(sim, 300)

        await sim.pause()  # the exchange stops: its books are final
        await archive_all(archiver, own_nats.url, stream)
        codes = [proc.terminate(or_kill=True) for proc in (a, b)]
        assert codes == [0, 0], [proc.logs()[-2000:] for proc in (a, b)]
        await archive_all(archiver, own_nats.url, stream)
        assert archiver.terminate() == 0, archiver.logs()[-3000:]

        root = tmp_path / "data"
        await _assert_backfilled(sim, root, before, down)
        _assert_verify_clean(root, _assert_one_gap(root, down))
        instances = {f.origin[0] for f in ssmd.archive.open(root, raw=True) if f.origin is not None}
        assert instances == {"conn-a", "conn-b"}
    finally:
        for proc in procs:
            proc.terminate(or_kill=True)
        archiver.terminate(or_kill=True)
        sim.stop()


async def test_one_instance_with_the_guides_files_and_its_own_outage(own_nats: EmbeddedNats, tmp_path: Path) -> None:
    """The guide's feed and environment files (no ``capture:`` section: order books by default) and its
    archiver.yaml; one instance, one outage of its own: the same properties hold."""
    private, key_args = _keys(tmp_path, ("key-1",))
    await make_stream(own_nats.url, "PROD_KALSHI", "prod.kalshi")
    sim = Sim(tmp_path, *key_args, "--seed", "15", *SIM_ARGS)
    archiver = ArchiverProc(_archiver_config(tmp_path, own_nats.url, "PROD_KALSHI", "prod"), tmp_path / "arch.log")
    conn: ConnectorProc | None = None
    try:
        await sim.pause()
        before = set(await trade_tape(sim))
        conn = ConnectorProc(tmp_path, GUIDE / "environments" / "prod-nats.yaml", sim.url,
                             feed=GUIDE / "feeds" / "kalshi.yaml", no_auth=False,
                             environ={"NATS_URL": own_nats.url, "KALSHI_API_KEY": "key-1",
                                      "KALSHI_PRIVATE_KEY": private["key-1"]})
        await archiver.wait_ready()
        await conn.wait_ready()
        await _connections(sim, 1)
        await sim.resume()
        await _flow(sim, 300)
        started = time.time()
        down = await both_down(sim, rejections=3)
        assert down.began >= started
        await _connections(sim, 1)
        await _flow(sim, 300)

        await sim.pause()
        await archive_all(archiver, own_nats.url, "PROD_KALSHI")
        assert conn.terminate() == 0, conn.logs()[-3000:]
        await archive_all(archiver, own_nats.url, "PROD_KALSHI")
        assert archiver.terminate() == 0, archiver.logs()[-3000:]

        root = tmp_path / "data"
        await _assert_backfilled(sim, root, before, down)
        _assert_verify_clean(root, _assert_one_gap(root, down))
    finally:
        if conn is not None:
            conn.terminate(or_kill=True)
        archiver.terminate(or_kill=True)
        sim.stop()
