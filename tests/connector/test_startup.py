"""Start-up: what an operator must fix ends the process with exit 2 and one line; SIGTERM exits 0."""

from __future__ import annotations

from pathlib import Path

from ssmd.bus.embedded import EmbeddedNats, free_port
from ssmd.testing import UNREACHABLE_NATS_ENV, ConnectorProc, Setup, Sim, write_env


async def test_missing_credentials_exit_2_naming_the_variables(setup: Setup, sim: Sim) -> None:
    """Without KALSHI_API_KEY/KALSHI_PRIVATE_KEY (and no --no-auth) the connector says which to set, exit 2."""
    conn = ConnectorProc(setup.workdir, setup.env_path, sim.url, no_auth=False)
    line = conn.startup_error()
    assert "KALSHI_API_KEY" in line and "KALSHI_PRIVATE_KEY" in line


async def test_bad_private_key_exit_2_without_echoing_it(setup: Setup, sim: Sim) -> None:
    """A private key that is not PEM is refused with exit 2, and its text never appears in the output."""
    secret = "not-a-pem-SECRET-9f8e7d"
    conn = ConnectorProc(setup.workdir, setup.env_path, sim.url, no_auth=False,
                         environ={"KALSHI_API_KEY": "key-id-1", "KALSHI_PRIVATE_KEY": secret})
    line = conn.startup_error()
    assert "KALSHI_PRIVATE_KEY" in line
    assert secret not in conn.logs()


async def test_unreadable_config_exit_2_naming_file_and_field(setup: Setup, sim: Sim, tmp_path: Path) -> None:
    """An environment file with a wrong field: exit 2, the line names the file and the field."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfeed: kalshi\ntransport: {type: carrier-pigeon}\nstorage: {type: local}\n")
    conn = ConnectorProc(setup.workdir, bad, sim.url)
    line = conn.startup_error()
    assert "bad.yaml" in line and "transport" in line


async def test_missing_config_file_exit_2(setup: Setup, sim: Sim, tmp_path: Path) -> None:
    """A path that does not exist is an exit-2 error naming it."""
    conn = ConnectorProc(setup.workdir, tmp_path / "nope.yaml", sim.url)
    line = conn.startup_error()
    assert "nope.yaml" in line


async def test_nats_unreachable_exit_2(sim: Sim, tmp_path: Path) -> None:
    """No NATS at the configured URL: exit 2 with the URL in the message."""
    url = f"nats://127.0.0.1:{free_port()}"
    env = write_env(tmp_path / "e.yaml", "nonats", url)
    conn = ConnectorProc(tmp_path, env, sim.url, environ=UNREACHABLE_NATS_ENV)
    line = conn.startup_error()
    assert url in line


async def test_nats_url_env_overrides_the_file(sim: Sim, tmp_path: Path) -> None:
    """NATS_URL replaces transport.url (an unreachable override proves it is the one used)."""
    with EmbeddedNats(tmp_path / "n") as server:
        env = write_env(tmp_path / "e.yaml", "override", server.url)
        url = f"nats://127.0.0.1:{free_port()}"
        conn = ConnectorProc(tmp_path, env, sim.url, environ={"NATS_URL": url, **UNREACHABLE_NATS_ENV})
        assert conn.wait() == 2
    assert url in conn.startup_error()


async def test_missing_stream_exit_2_with_the_command_that_creates_it(setup: Setup, sim: Sim) -> None:
    """No stream capturing {env}.{feed}.json.>: exit 2, and the line says `ssmd stream ensure --env <path>`."""
    conn = ConnectorProc(setup.workdir, setup.env_path, sim.url)
    line = conn.startup_error()
    assert setup.stream in line
    assert f"ssmd stream ensure --env {setup.env_path}" in line


async def test_stream_not_covering_our_subjects_exit_2(setup: Setup, sim: Sim) -> None:
    """A stream with the right name but other subjects is a mismatch, not silent loss: exit 2."""
    import nats
    from nats.js.api import StreamConfig

    nc = await nats.connect(setup.nats.url)
    await nc.jetstream().add_stream(StreamConfig(name=setup.stream, subjects=[f"{setup.name}.other.>"]))
    await nc.close()
    conn = ConnectorProc(setup.workdir, setup.env_path, sim.url)
    line = conn.startup_error()
    assert "does not cover" in line and "ssmd stream ensure" in line


async def test_sigterm_flushes_and_exits_0(stream: Setup, sim: Sim) -> None:
    """SIGTERM while frames flow: every frame received is acked before exit 0, and the log says so."""
    from ssmd.coverage import is_coverage
    from ssmd.testing import stream_messages

    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    await conn.wait_ready()
    await sim.wait_sent(200)
    assert conn.terminate() == 0
    await sim.pause()
    assert '"unflushed":0' in conn.logs()
    received = [line for line in conn.logs().splitlines() if "connector stopped" in line]
    assert received
    msgs = [m for m in await stream_messages(stream.nats.url, stream.stream, f"{stream.prefix}.>")
            if not is_coverage(m.data)]
    sent = sim.sent()
    assert [m.data for m in msgs] == sent[: len(msgs)]
    assert len(msgs) > 0
