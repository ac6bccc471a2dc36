"""The deployment guide's ConfigMap files and env vars start the connector unchanged (simulator via --ws-url),
with real RSA-PSS auth, and secrets never reach the logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ssmd.bus.embedded import EmbeddedNats
from ssmd.kalshi.auth import generate_key_pair
from ssmd.testing import ConnectorProc, Setup, Sim, drain_and_compare, make_stream

GUIDE = Path(__file__).resolve().parents[2] / "examples" / "deployment-guide"
KEY_ID = "8d0c6f2e-4b1a-4f5e-9c3d-2a7b1e0f9d44"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[str, Path]:
    private, public = generate_key_pair()
    pub = tmp_path / "kalshi-public.pem"
    pub.write_text(public)
    return private, pub


@pytest.fixture
def auth_sim(tmp_path: Path, keys: tuple[str, Path]) -> Iterator[Sim]:
    s = Sim(tmp_path, "--key", f"{KEY_ID}={keys[1]}", "--rate", "300", "--seed", "3", "--markets", "20")
    try:
        yield s
    finally:
        s.stop()


async def test_guide_files_start_unchanged_with_auth_and_capture(own_nats: EmbeddedNats, tmp_path: Path,
                                                                  auth_sim: Sim, keys: tuple[str, Path]) -> None:
    """feeds/kalshi.yaml + environments/prod-nats.yaml as printed in the guide, NATS_URL and --ws-url as the
    only overrides, KALSHI_API_KEY/KALSHI_PRIVATE_KEY/RUST_LOG as in its Deployment: frames are captured
    exactly once into PROD_KALSHI; neither the key id nor any line of the PEM appears in the logs."""
    await make_stream(own_nats.url, "PROD_KALSHI", "prod.kalshi")
    env = {"NATS_URL": own_nats.url, "KALSHI_API_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": keys[0],
           "RUST_LOG": "debug", "SSMD_LOG": ""}
    conn = ConnectorProc(tmp_path, GUIDE / "environments" / "prod-nats.yaml", auth_sim.url,
                         feed=GUIDE / "feeds" / "kalshi.yaml", environ=env, no_auth=False)
    try:
        await conn.wait_ready()
        status, health = await conn.get("/health")
        assert status == 200 and health["status"] == "ok" and health["feed"] == "kalshi" and health["connected"]
        await auth_sim.wait_sent(200)
        setup = Setup(own_nats, "prod", tmp_path / "unused.yaml", tmp_path)
        await drain_and_compare(auth_sim, setup)
        _, metrics = await conn.get("/metrics")
    finally:
        assert conn.terminate() == 0
    logs = conn.logs()
    assert "debug" in logs  # RUST_LOG=debug was honoured, so the most verbose output was checked
    for text in (logs, metrics):
        assert KEY_ID not in text
        for line in keys[0].splitlines():
            if "-----" not in line:
                assert line not in text


async def test_rejected_credentials_exit_2_at_start(setup: Setup, tmp_path: Path, keys: tuple[str, Path]) -> None:
    """A key the exchange does not know: the handshake gets HTTP 401 and the connector exits 2 saying so."""
    from ssmd.kalshi.auth import generate_key_pair as other

    sim = Sim(tmp_path, "--key", f"{KEY_ID}={keys[1]}", "--rate", "10")
    try:
        await make_stream(setup.nats.url, setup.stream, setup.prefix)
        wrong, _ = other()
        conn = ConnectorProc(setup.workdir, setup.env_path, sim.url, no_auth=False,
                             environ={"KALSHI_API_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": wrong})
        assert conn.wait() == 2
    finally:
        sim.stop()
    line = conn.startup_error()
    assert "401" in line and "KALSHI_PRIVATE_KEY" in line
