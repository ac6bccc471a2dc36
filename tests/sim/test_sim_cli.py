"""``ssmd sim keygen`` and ``ssmd sim kalshi`` as real processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
from click.testing import CliRunner

from ssmd.bus.embedded import free_port
from ssmd.kalshi.auth import KalshiCredentials, load_private_key, load_public_key, verify_signature
from ssmd.sim.cli import sim_group

SSMD = [sys.executable, "-m", "ssmd"]


def test_keygen_writes_a_usable_key_pair(tmp_path: Path) -> None:
    """keygen writes a private key (mode 600) and its public key, and prints the exports and the --key arg."""
    result = CliRunner().invoke(sim_group, ["keygen", "--out", str(tmp_path / "keys"), "--api-key", "abc-123"])
    assert result.exit_code == 0, result.output
    private = tmp_path / "keys" / "kalshi-private.pem"
    public = tmp_path / "keys" / "kalshi-public.pem"
    assert private.stat().st_mode & 0o777 == 0o600
    creds = KalshiCredentials("abc-123", load_private_key(private.read_text()))
    headers = creds.headers("GET", "/trade-api/ws/v2")
    assert verify_signature(load_public_key(public.read_bytes()), headers["KALSHI-ACCESS-SIGNATURE"],
                            int(headers["KALSHI-ACCESS-TIMESTAMP"]), "GET", "/trade-api/ws/v2")
    assert "export KALSHI_API_KEY=abc-123" in result.output
    assert f'export KALSHI_PRIVATE_KEY="$(cat {private})"' in result.output
    assert f"--key abc-123={public}" in result.output


def test_kalshi_requires_a_key_or_no_auth() -> None:
    """Without --key and without --no-auth the command refuses to start and says what to pass."""
    result = CliRunner().invoke(sim_group, ["kalshi", "--port", "0"])
    assert result.exit_code == 2
    assert "--key" in result.output and "--no-auth" in result.output


def test_bad_key_file_is_a_clear_error(tmp_path: Path) -> None:
    """A --key pointing at something that is not a public key names the file and exits 2."""
    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    result = CliRunner().invoke(sim_group, ["kalshi", "--key", f"k1={bad}"])
    assert result.exit_code == 2
    assert str(bad) in result.output and "public key" in result.output


def test_key_without_equals_is_a_clear_error() -> None:
    """--key must be API_KEY=PATH."""
    result = CliRunner().invoke(sim_group, ["kalshi", "--key", "just-a-key"])
    assert result.exit_code == 2 and "API_KEY=PUBLIC_KEY.pem" in result.output


def test_process_announces_its_url_serves_and_exits_after_duration(tmp_path: Path) -> None:
    """``ssmd sim kalshi --duration`` prints the listening line, answers /_sim/stats, and exits 0 on its own."""
    port = free_port()
    log = tmp_path / "sent.jsonl"
    proc = subprocess.Popen([*SSMD, "sim", "kalshi", "--no-auth", "--port", str(port), "--duration", "3",
                             "--sent-log", str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == f"ssmd sim kalshi listening on ws://127.0.0.1:{port}/trade-api/ws/v2"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/stats", timeout=5) as resp:
            stats = orjson.loads(resp.read())
        assert stats["connections"] == 0 and stats["markets"] == 50
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_port_in_use_is_a_clear_error() -> None:
    """Starting on a port that is taken exits 1 with a message naming the address."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        started = time.monotonic()
        proc = subprocess.run([*SSMD, "sim", "kalshi", "--no-auth", "--port", str(port)],
                              capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert f"127.0.0.1:{port}" in proc.stderr
    assert time.monotonic() - started < 30


async def test_keygen_output_lets_a_client_into_a_simulator_process(tmp_path: Path) -> None:
    """The key pair from keygen, given to a ``ssmd sim kalshi --key`` process, admits a client built from the
    printed KALSHI_* variables (via ssmd.kalshi.auth and ssmd.kalshi.commands) that then receives trades."""
    import aiohttp

    from ssmd.kalshi.auth import credentials_from_env
    from ssmd.kalshi.commands import Commands

    result = CliRunner().invoke(sim_group, ["keygen", "--out", str(tmp_path), "--api-key", "key-1"])
    assert result.exit_code == 0
    env = {"KALSHI_API_KEY": "key-1", "KALSHI_PRIVATE_KEY": (tmp_path / "kalshi-private.pem").read_text()}
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *SSMD, "sim", "kalshi", "--port", str(port), "--rate", "2000", "--duration", "20",
        "--key", f"key-1={tmp_path / 'kalshi-public.pem'}", stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()[-1]
        creds = credentials_from_env(env)
        commands = Commands()
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(url, headers=creds.headers("GET", "/trade-api/ws/v2"))
            _, body = commands.subscribe(["trade"])
            await ws.send_bytes(body)
            kinds = set()
            for _ in range(100):
                kinds.add(orjson.loads((await ws.receive(timeout=5)).data)["type"])
                if "trade" in kinds:
                    break
            await ws.close()
        assert kinds >= {"subscribed", "trade"}
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)


def test_bad_speed_is_a_clear_error() -> None:
    """--speed must be a positive number or 'max'."""
    for value in ("fast", "0", "-2"):
        result = CliRunner().invoke(sim_group, ["kalshi", "--no-auth", "--speed", value])
        assert result.exit_code == 2 and "--speed" in result.output, value


def test_config_rejects_impossible_values() -> None:
    """SimConfig refuses zero markets, a negative rate, an unknown wire format and a non-positive speed."""
    import pytest

    from ssmd.kalshi.sim.config import SimConfig

    for bad in ({"markets": 0}, {"rate": -1.0}, {"wire": "json"}, {"speed": 0.0}, {"ping_interval": 0.0}):
        with pytest.raises(ValueError):
            SimConfig(**bad)  # type: ignore[arg-type]


def test_the_sim_group_lists_the_installed_simulators() -> None:
    """``ssmd sim`` dispatches through one table; a feed whose package is not installed is left out, not an error."""
    from ssmd.sim.cli import SIMULATORS, _installed

    result = CliRunner().invoke(sim_group, ["--help"])
    assert result.exit_code == 0
    for name in SIMULATORS:
        assert (f"  {name}" in result.output) == _installed(name)
    assert "  kalshi" in result.output and "  keygen" in result.output
