"""Embedded nats-server and `ssmd stream ensure|info` against it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nats
import pytest
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType

from ssmd.bus.embedded import EmbeddedNats
from ssmd.bus.streams import StreamConflict, StreamSpec, check_capture, ensure_stream
from ssmd.testing import UNREACHABLE_NATS_ENV, run_ssmd, write_env


def env_file(tmp_path: Path, name: str, url: str) -> Path:
    return write_env(tmp_path / f"{name}.yaml", name, url)


def ssmd(*args: str) -> subprocess.CompletedProcess[str]:
    return run_ssmd(*args)


def test_embedded_server_restarts_on_same_port_and_store(own_nats: EmbeddedNats) -> None:
    """stop() then start() keeps the URL and the JetStream store, like a real server restart."""
    url = own_nats.url
    own_nats.stop()
    own_nats.start()
    assert own_nats.url == url
    assert own_nats.proc is not None and own_nats.proc.poll() is None


def test_stream_ensure_twice_is_idempotent(tmp_path: Path, nats_server: EmbeddedNats, unique_name: str) -> None:
    """`ssmd stream ensure` creates {ENV}_{FEED} as the guide does, then reports it unchanged."""
    env = env_file(tmp_path, unique_name, nats_server.url)
    first = ssmd("stream", "ensure", "--env", str(env), "--max-age", "1h")
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    second = ssmd("stream", "ensure", "--env", str(env), "--max-age", "1h")
    assert second.returncode == 0, second.stderr
    assert "unchanged" in second.stdout

    info = ssmd("stream", "info", "--env", str(env))
    assert info.returncode == 0, info.stderr
    cfg = json.loads(info.stdout)["config"]
    assert cfg["name"] == f"{unique_name.upper()}_KALSHI"
    assert cfg["subjects"] == [f"{unique_name}.kalshi.>"]
    assert cfg["retention"] == "limits"
    assert cfg["storage"] == "file"
    assert cfg["discard"] == "old"
    assert cfg["num_replicas"] == 1
    assert cfg["max_age"] == 3600 * 10**9  # nanoseconds on the wire


def test_stream_ensure_updates_limits(tmp_path: Path, nats_server: EmbeddedNats, unique_name: str) -> None:
    """A changed --max-age updates the existing stream instead of failing."""
    env = env_file(tmp_path, unique_name, nats_server.url)
    assert ssmd("stream", "ensure", "--env", str(env), "--max-age", "1h").returncode == 0
    out = ssmd("stream", "ensure", "--env", str(env), "--max-age", "2h")
    assert out.returncode == 0 and "updated" in out.stdout


async def test_conflicting_subjects_are_an_error(nats_server: EmbeddedNats, unique_name: str) -> None:
    """An existing stream with other subjects is reported with both subject lists, never changed."""
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    name = unique_name.upper()
    try:
        await js.add_stream(name=name, subjects=[f"{unique_name}.other.>"])
        with pytest.raises(StreamConflict, match="other"):
            await ensure_stream(js, StreamSpec.for_prefix(name, f"{unique_name}.kalshi"))
        info = await js.stream_info(name)
        assert info.config.subjects == [f"{unique_name}.other.>"]
    finally:
        await nc.close()


async def test_created_stream_matches_guide(nats_server: EmbeddedNats, unique_name: str) -> None:
    """Retention limits, file storage, discard old, and a duplicate window for publish retries."""
    nc = await nats.connect(nats_server.url)
    try:
        info, action = await ensure_stream(nc.jetstream(), StreamSpec.for_prefix(unique_name.upper(), unique_name))
        assert action == "created"
        assert info.config.retention == RetentionPolicy.LIMITS
        assert info.config.storage == StorageType.FILE
        assert info.config.discard == DiscardPolicy.OLD
        assert info.config.duplicate_window == 120
    finally:
        await nc.close()


async def test_check_capture(nats_server: EmbeddedNats, unique_name: str) -> None:
    """A filter outside the stream's subjects is an error at start-up, not a month of nothing."""
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    try:
        await ensure_stream(js, StreamSpec.for_prefix(unique_name.upper(), f"{unique_name}.kalshi"))
        await check_capture(js, unique_name.upper(), f"{unique_name}.kalshi.json.>")
        with pytest.raises(StreamConflict, match="does not cover"):
            await check_capture(js, unique_name.upper(), f"{unique_name}.other.json.>")
        with pytest.raises(StreamConflict, match="does not exist"):
            await check_capture(js, "NOPE_NOPE", "x.>")
    finally:
        await nc.close()


@pytest.mark.parametrize("command", ["ensure", "info"])
def test_stream_command_unreachable_nats_exits_2(tmp_path: Path, command: str) -> None:
    """No NATS at the URL: exit 2 and one error line, no traceback (both stream commands)."""
    from ssmd.bus.embedded import free_port

    env = env_file(tmp_path, "nowhere", f"nats://127.0.0.1:{free_port()}")
    out = run_ssmd("stream", command, "--env", str(env), env=UNREACHABLE_NATS_ENV)
    assert out.returncode == 2
    assert "cannot connect to NATS" in out.stderr and "Traceback" not in out.stderr


def test_bad_nats_connect_timeout_exits_2_naming_the_variable(tmp_path: Path) -> None:
    """SSMD_NATS_CONNECT_TIMEOUT that is not a positive number of seconds: exit 2 naming it, no traceback."""
    env = env_file(tmp_path, "badwait", "nats://127.0.0.1:4222")
    out = run_ssmd("stream", "ensure", "--env", str(env), env={"SSMD_NATS_CONNECT_TIMEOUT": "5s"})
    assert out.returncode == 2, out.stderr
    assert "SSMD_NATS_CONNECT_TIMEOUT='5s' is not a duration" in out.stderr and "Traceback" not in out.stderr
