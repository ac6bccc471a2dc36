"""`ssmd-agent` as the deployment runs it: a real process, configured by environment variables."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import nats
from _agent_frames import T0, trade
from _agent_live import capture_stream, publish_frames
from click.testing import CliRunner

from ssmd.agent.cli import agent_group
from ssmd.bus.embedded import EmbeddedNats, free_port
from ssmd.testing import UNREACHABLE_NATS_ENV, read_fires, wait_until

M = "KXBTCD-26FEB1217-T67749.99"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "NATS_SUBJECTS", "SSMD_SIGNALS", "PORT")}
    env.update(extra)
    return env


def _agent(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "ssmd", "agent", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _entrypoint(script: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The installed console script, as the image's ENTRYPOINT runs it."""
    return subprocess.Popen([str(Path(sys.executable).with_name(script))], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


async def _get(url: str) -> tuple[int, bytes, str]:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status, await response.read(), response.headers.get("Content-Type", "")
    except aiohttp.ClientConnectionError:
        return 0, b"", ""


async def test_no_subcommand_runs_live_with_health_contract(nats_server: EmbeddedNats, unique_name: str) -> None:
    """`ssmd agent` with only env vars (NATS_URL, NATS_SUBJECTS, SSMD_SIGNALS, PORT) runs the live runtime:
    GET /health on PORT -> 200 {"status":"ok"}, /ready 200, /metrics has the agent's counters, fires flow, and
    SIGTERM exits 0."""
    env_name = unique_name
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await capture_stream(js, env_name)
    port = free_port()
    proc = _agent(_env(NATS_URL=nats_server.url, NATS_SUBJECTS=f"{env_name}.kalshi.json.trade.>",
                       SSMD_SIGNALS="price_cross[threshold=0.6]", PORT=str(port)))
    try:
        base = f"http://127.0.0.1:{port}"
        status, body, ctype = await wait_until(lambda: _ok(_get(f"{base}/health")), what="/health")
        assert (status, body) == (200, b'{"status":"ok"}') and ctype.startswith("application/json")
        await wait_until(lambda: _ok(_get(f"{base}/ready")), what="/ready")
        await publish_frames(js, env_name, [trade(M, 0.5, 1, "yes", T0), trade(M, 0.7, 1, "yes", T0 + 1)])
        await wait_until(lambda: _has_fire(js, env_name), what="fire stored")
        _, metrics, _ = await _get(f"{base}/metrics")
        assert b"ssmd_agent_frames_total 2.0" in metrics
        assert b'ssmd_agent_fires_total{signal="price_cross"} 1.0' in metrics
        assert b"ssmd_agent_eval_seconds_bucket" in metrics and b"ssmd_agent_lag_messages" in metrics
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        await nc.close()


async def _ok(request: object) -> tuple[int, bytes, str] | None:
    result = await request  # type: ignore[misc]
    return result if result[0] == 200 else None


async def _has_fire(js: object, env: str) -> bool:
    try:
        return len(await read_fires(js, env)) == 1  # type: ignore[arg-type]
    except nats.js.errors.NotFoundError:
        return False


async def _idle_agent_serves_and_stops(env: dict[str, str]) -> None:
    """Start `ssmd-agent` (the image's entrypoint) with ``env``; /health and /ready answer 200; SIGTERM exits 0;
    stderr carries exactly one warning saying nothing is evaluated and how to select signals."""
    port = free_port()
    env = {**env, "PORT": str(port), "SSMD_LOG": "info"}
    proc = _entrypoint("ssmd-agent", env)
    try:
        base = f"http://127.0.0.1:{port}"

        async def health() -> tuple[int, bytes, str] | None:
            assert proc.poll() is None, f"ssmd-agent exited {proc.returncode}: {proc.stderr.read()!r}"  # type: ignore[union-attr]
            return await _ok(_get(f"{base}/health"))

        status, body, ctype = await wait_until(health, 30, "/health")
        assert (status, body) == (200, b'{"status":"ok"}') and ctype.startswith("application/json")
        status, body, _ = await _get(f"{base}/ready")
        assert (status, body) == (200, b'{"ready":true}')
        _, metrics, _ = await _get(f"{base}/metrics")
        assert b"ssmd_agent_signals 0.0" in metrics
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    warnings = [line for line in stderr.splitlines() if "no signals selected" in line]
    assert len(warnings) == 1, stderr
    assert "evaluates nothing" in warnings[0] and "SSMD_SIGNALS" in warnings[0], warnings[0]
    assert "Traceback" not in stderr


async def test_guide_env_only_port_runs_idle() -> None:
    """The deployment guide's agent Deployment sets only PORT: the agent starts, serves /health ({"status":"ok"})
    and /ready, warns once that no signals are selected, and exits 0 on SIGTERM (it used to exit 2)."""
    await _idle_agent_serves_and_stops(_env())


async def test_nats_url_without_signals_runs_idle(nats_server: EmbeddedNats) -> None:
    """NATS_URL (and NATS_SUBJECTS) set but no signals: the same idle start, health and clean SIGTERM."""
    await _idle_agent_serves_and_stops(_env(NATS_URL=nats_server.url, NATS_SUBJECTS="prod.kalshi.json.>"))


def test_missing_subjects_exits_2() -> None:
    """Signals selected but no NATS_SUBJECTS: the runtime refuses to guess what to consume, exit 2 naming it."""
    proc = subprocess.run([sys.executable, "-m", "ssmd", "agent"], env=_env(SSMD_SIGNALS="spread_wide[max_cents=3]"),
                          capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert b"NATS_SUBJECTS" in proc.stderr


def test_unreachable_nats_exits_2() -> None:
    """A NATS URL nobody listens on fails fast at start: exit 2 naming the URL."""
    url = f"nats://127.0.0.1:{free_port()}"
    proc = subprocess.run([sys.executable, "-m", "ssmd", "agent", "run", "--port", str(free_port())],
                          env=_env(NATS_URL=url, NATS_SUBJECTS="prod.kalshi.json.>",
                                   SSMD_SIGNALS="spread_wide[max_cents=3]", **UNREACHABLE_NATS_ENV),
                          capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert f"cannot connect to NATS at {url}".encode() in proc.stderr


async def test_subjects_no_stream_captures_exit_2(nats_server: EmbeddedNats, unique_name: str) -> None:
    """Subjects that no stream captures are a setup error (exit 2), not an idle consumer."""
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "ssmd", "agent", "run", "--port", str(free_port())],
        env=_env(NATS_URL=nats_server.url, NATS_SUBJECTS=f"{unique_name}.kalshi.json.>",
                 SSMD_SIGNALS="spread_wide[max_cents=3]"), capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert f"no JetStream stream captures '{unique_name}.kalshi.json.>'".encode() in proc.stderr


def test_broken_signal_file_exits_2_naming_file(tmp_path: Path) -> None:
    """A broken signal file stops start-up before connecting anywhere, with the file named on stderr."""
    bad = tmp_path / "bad_signal.py"
    bad.write_text("def oops(:\n")
    result = CliRunner().invoke(agent_group, ["run", "--subjects", "prod.kalshi.json.>", "--signals", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:1: syntax error" in result.output


def test_subjects_from_two_environments_exit_2() -> None:
    """Filters must share one literal environment token (fires go to {env}.signals...): mixed ones exit 2."""
    result = CliRunner().invoke(agent_group, ["run", "--subjects", "prod.kalshi.json.>,staging.kalshi.json.>",
                                              "--signals", "spread_wide[max_cents=3]"])
    assert result.exit_code == 2
    assert "same literal environment token" in result.output
