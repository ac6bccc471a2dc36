"""ssmd.testing, the helpers shipped as public API: importable without pytest, and its oracle's rules."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ssmd.bus.embedded import EmbeddedNats
from ssmd.testing import (
    ConnectorProc,
    Setup,
    Sim,
    assert_archived_as_sent,
    drain_and_compare,
    make_stream,
    wait_until,
    write_env,
)


def test_helpers_import_without_pytest() -> None:
    """pytest is a test dependency, not a runtime one: ``import ssmd.testing`` works where it cannot be imported
    (only the fixtures module needs it)."""
    code = ("import sys; sys.modules['pytest'] = None; import ssmd.testing; "
            "from ssmd.testing import wait_until, Sim, write_day; "
            "assert 'pytest' not in [m for m in sys.modules if sys.modules[m] is not None]")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    blocked = subprocess.run([sys.executable, "-c", "import sys; sys.modules['pytest'] = None; "
                              "import ssmd.testing.pytest_plugin"], capture_output=True, text=True, timeout=60,
                             check=False)
    assert blocked.returncode != 0 and "pytest" in blocked.stderr  # the check above can see a pytest import


def test_archived_as_sent_counts_every_copy() -> None:
    """A frame sent twice must be archived twice; once is a loss, three times a duplicate."""
    sent = Counter({b"snapshot": 2, b"trade": 1})
    assert_archived_as_sent(Counter({b"snapshot": 2, b"trade": 1}), sent)
    with pytest.raises(AssertionError, match="1 sent frames missing"):
        assert_archived_as_sent(Counter({b"snapshot": 1, b"trade": 1}), sent)
    with pytest.raises(AssertionError, match="1 archived more often than sent"):
        assert_archived_as_sent(Counter({b"snapshot": 3, b"trade": 1}), sent)


async def test_a_new_connection_can_be_sent_identical_frames(own_nats: EmbeddedNats, tmp_path: Path) -> None:
    """Why the oracle counts: a connector that reconnects to an exchange whose books did not change is sent the
    same snapshots again, byte for byte (same sid, same seq, same book). The exchange sent them twice and the
    stream holds them twice (the connector's Nats-Msg-Id names the connection, so they are not deduplicated)."""
    setup = Setup(own_nats, "again", tmp_path / "again.yaml", tmp_path)
    write_env(setup.env_path, setup.name, own_nats.url, {
        "channels": ["orderbook_delta"], "markets": {"discover": {"status": "open", "refresh": "1h"}}})
    await make_stream(own_nats.url, setup.stream, setup.prefix)
    sim = Sim(tmp_path, "--no-auth", "--rate", "0", "--seed", "7", "--markets", "5")  # books never change
    try:
        first: list[bytes] = []
        for _ in range(2):
            conn = ConnectorProc(tmp_path, setup.env_path, sim.url)
            try:
                await conn.wait_ready()
                markets = await conn.metric("ssmd_connector_shard_markets")
                await conn.wait_metric("ssmd_connector_frames_published_total", markets)  # one snapshot each
            finally:
                assert conn.terminate() == 0
            first = first or sim.sent()
        await drain_and_compare(sim, setup, ordered=False)
        sent = Counter(sim.sent())
    finally:
        sim.stop()
    assert first and sent == Counter({frame: 2 for frame in first})


async def test_wait_until_retries_only_the_errors_it_is_told_to() -> None:
    """A listed exception (a request during an election) is "not yet" and named on failure; any other is a bug in
    the check and propagates at once."""
    calls = iter([ConnectionResetError("node restarting"), ConnectionResetError("node restarting"), "leader n2"])

    def ask() -> str:
        result = next(calls)
        if isinstance(result, Exception):
            raise result
        return result

    assert await wait_until(ask, 5, "a leader", interval=0.01, retry_on=(OSError,)) == "leader n2"
    with pytest.raises(ConnectionResetError):
        await wait_until(lambda: _raise(ConnectionResetError("down")), 5, "a leader", interval=0.01)
    with pytest.raises(AssertionError, match=r"waiting for a leader \(last check returned KeyError\('n9'\)\)"):
        await wait_until(lambda: _raise(KeyError("n9")), 0.05, "a leader", interval=0.01, retry_on=(KeyError,))


def _raise(exc: Exception) -> None:
    raise exc
