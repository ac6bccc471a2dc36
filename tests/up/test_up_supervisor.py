"""The supervisor with real child processes: restart on death, clean stop, clear start errors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ssmd.testing import wait_until, wait_until_sync
from ssmd.up.spec import ChildSpec
from ssmd.up.supervisor import StartError, Supervisor

SLEEPER = (sys.executable, "-c", "import time; time.sleep(120)")
STUBBORN = (sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(120)")


async def test_dead_child_is_restarted_and_reported(tmp_path: Path) -> None:
    """A child killed with SIGKILL is started again (new pid) and the restart is reported."""
    reports: list[str] = []
    async with Supervisor(dict(os.environ), reports.append) as sup:
        child = await sup.start(ChildSpec("sleeper", SLEEPER, log_path=tmp_path / "s.log"))
        first = child.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await wait_until(lambda: child.pid != first and child.running, what="the child to be started again")
        assert child.restarts == 1
        assert any("sleeper" in r and "SIGKILL" in r and "restarting" in r for r in reports)
        await wait_until(lambda: any("sleeper restarted" in r for r in reports), what="the restart report")
    assert not child.running


async def test_stop_all_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    """A child that ignores SIGTERM is killed after the grace period; stop_all returns with nothing running."""
    reports: list[str] = []
    log = tmp_path / "stubborn.log"
    async with Supervisor(dict(os.environ), reports.append) as sup:
        child = await sup.start(ChildSpec("stubborn", STUBBORN, log_path=log))
        await wait_until(lambda: log.exists() and b"ready" in log.read_bytes(), what="the child to be up")
        started = time.monotonic()
        await sup.stop("stubborn", grace_s=0.5)
        assert time.monotonic() - started < 60  # killed after the grace period, not waited for (it sleeps 120 s)
    assert child.proc is not None and child.proc.returncode == -signal.SIGKILL
    assert any("ignored SIGTERM" in r for r in reports)


async def test_stopped_children_are_not_restarted(tmp_path: Path) -> None:
    """Children stopped on purpose stay stopped: shutdown is not mistaken for a crash."""
    reports: list[str] = []
    async with Supervisor(dict(os.environ), reports.append) as sup:
        child = await sup.start(ChildSpec("sleeper", SLEEPER))
        await sup.stop_all()
        await asyncio.sleep(0.7)  # longer than the first restart back-off
    assert child.restarts == 0 and not child.running
    assert not [r for r in reports if "restart" in r]


async def test_child_exiting_during_start_is_an_error_naming_it(tmp_path: Path) -> None:
    """A child that exits before it is healthy raises StartError naming the child, its exit code and its log."""
    spec = ChildSpec("broken", (sys.executable, "-c", "raise SystemExit(3)"),
                     health_url="http://127.0.0.1:9/health", log_path=tmp_path / "broken.log")
    async with Supervisor(dict(os.environ), lambda _: None) as sup:
        with pytest.raises(StartError, match=r"broken exited with code 3.*broken\.log"):
            await sup.start(spec)


async def test_child_never_healthy_times_out(tmp_path: Path) -> None:
    """A child that runs but never answers its health check fails the start after the timeout."""
    async with Supervisor(dict(os.environ), lambda _: None, start_timeout=1.0) as sup:
        with pytest.raises(StartError, match="did not become healthy"):
            await sup.start(ChildSpec("mute", SLEEPER, tcp_port=9))


async def test_run_once_returns_exit_code_and_output() -> None:
    """One-shot commands report their exit code and combined output (used for `ssmd stream ensure`)."""
    spec = ChildSpec("once", (sys.executable, "-c", "import sys; print('hello'); sys.exit(4)"))
    async with Supervisor(dict(os.environ), lambda _: None) as sup:
        code, text = await sup.run_once(spec)
    assert (code, text.strip()) == (4, "hello")


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    """If the supervisor itself is SIGKILLed (no chance to clean up), its children still exit (PDEATHSIG)."""
    pidfile = tmp_path / "child.pid"
    script = f"""
import asyncio, os, sys
from pathlib import Path
from ssmd.up.spec import ChildSpec
from ssmd.up.supervisor import Supervisor
async def main():
    async with Supervisor(dict(os.environ), print) as sup:
        child = await sup.start(ChildSpec("sleeper", {SLEEPER!r}))
        Path({str(pidfile)!r}).write_text(str(child.pid))
        await asyncio.sleep(120)
asyncio.run(main())
"""
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        wait_until_sync(lambda: pidfile.exists() and pidfile.read_text(), what="the child's pid")
        child = psutil.Process(int(pidfile.read_text()))
        assert child.is_running()
        parent.kill()
        parent.wait(10)
        _, alive = psutil.wait_procs([child], timeout=60)
        assert not alive
    finally:
        parent.kill()
        parent.wait(10)
