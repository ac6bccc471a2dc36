"""ssmd's programs as real child processes for tests: the simulator, the connector, the archiver, the agent, and
one-shot CLI runs. Each service gets free ports, keeps its log in a file (a full pipe would block it), is asked for
/ready rather than given a guessed start-up time, and is stopped by its own pid."""

from __future__ import annotations

import functools
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from ssmd.bus.connect import CONNECT_TIMEOUT_ENV
from ssmd.bus.embedded import free_port
from ssmd.runtime.http import metric_total
from ssmd.testing._wait import DEFAULT_TIMEOUT_S, wait_until

SSMD = (sys.executable, "-m", "ssmd")
"""How tests run the CLI: this interpreter, so the code under test is the code that runs."""

_REDIRECTING = ("SSMD_", "NATS_")
"""Settings in the test runner's environment that would silently point a child elsewhere (with every feed's
own variables, :attr:`Feed.environ_vars`)."""

_runs = itertools.count(1)


UNREACHABLE_NATS_ENV: dict[str, str] = {CONNECT_TIMEOUT_ENV: "1"}
"""For a service pointed at a NATS URL nobody listens on: its exit 2 comes after 1 s instead of the default 5 s.
A refused connect is immediate, so the wait is all timeout; only tests that expect the failure lower it."""


@functools.cache
def _feed_vars() -> frozenset[str]:
    from ssmd.feed.registry import feed_names, get_feed

    names: set[str] = set()
    for name in feed_names():
        try:
            names.update(get_feed(name).environ_vars)
        except KeyError:  # registered, not installed here
            continue
    return frozenset(names)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment minus ssmd, NATS and feed settings, logging at info, plus ``extra``."""
    feeds = _feed_vars()
    env = {k: v for k, v in os.environ.items() if not k.startswith(_REDIRECTING) and k not in feeds}
    env["SSMD_LOG"] = "info"
    env.update(extra or {})
    return env


def run_ssmd(*args: str | Path, env: dict[str, str] | None = None,
             timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """``ssmd ARGS`` to completion with text output captured (never raises on a non-zero exit)."""
    return subprocess.run([*SSMD, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=child_env(env), check=False)


def _stop(proc: subprocess.Popen[Any], sig: int, timeout: float) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Sim:
    """A feed's simulator (``ssmd sim kalshi`` by default) in its own process; its ``--sent-log`` is the oracle
    of what the exchange sent. ``url`` is the WebSocket URL it prints once it listens; ``http`` its base for
    REST and the ``/_sim`` control endpoints."""

    def __init__(self, workdir: Path, *args: str, feed: str = "kalshi") -> None:
        from ssmd.feed.registry import get_feed

        self.feed = feed
        self.port = free_port()
        self.sent_log = workdir / f"sent-{self.port}.log"
        self.http = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"sim-{self.port}.err"
        with self.log_path.open("wb") as err:
            self.proc = subprocess.Popen([*SSMD, *get_feed(feed).sim_command, "--port", str(self.port),
                                          "--sent-log", str(self.sent_log), *args],
                                         stdout=subprocess.PIPE, stderr=err, env=child_env())
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()  # "... listening on ws://HOST:PORT/PATH" once it listens
        if "listening" not in line:
            self.stop()
            raise RuntimeError(f"simulator did not start: {line!r} {self.log_path.read_text(errors='replace')}")
        self.url = line.split()[-1]

    async def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with aiohttp.ClientSession() as s, s.request(method, f"{self.http}{path}", json=body) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def fault(self, kind: str, **kw: Any) -> Any:
        return await self.control("POST", "/_sim/fault", {"kind": kind, **kw})

    async def pause(self) -> None:
        """No more generated data until :meth:`resume` (replies and snapshots to commands are still sent)."""
        await self.control("POST", "/_sim/pause")

    async def resume(self) -> None:
        await self.control("POST", "/_sim/resume")

    async def stats(self) -> Any:
        return await self.control("GET", "/_sim/stats")

    def sent(self) -> list[bytes]:
        """Every data frame written to any socket so far, in order."""
        data = self.sent_log.read_bytes() if self.sent_log.exists() else b""
        return [line for line in data.split(b"\n") if line]

    async def wait_sent(self, at_least: int, within: float = DEFAULT_TIMEOUT_S) -> int:
        """Wait until ``at_least`` data frames were sent in all: lets data flow for a count, not for a guessed
        time (a loaded machine sends fewer frames per second)."""
        def count() -> int:
            n = self.sent_log.read_bytes().count(b"\n") if self.sent_log.exists() else 0
            return n if n >= at_least else 0

        result: int = await wait_until(count, within, f"the simulator to send {at_least} frames")
        return result

    def stop(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        _stop(self.proc, signal.SIGTERM, 30)


class _Service:
    """A long-running ssmd service: stderr (its logs) in a file, /health /ready /metrics on a free port."""

    name = "service"

    def __init__(self, argv: list[str], log_path: Path, environ: dict[str, str] | None = None,
                 launcher: Sequence[str] = SSMD) -> None:
        self.health_port = free_port()
        self.health = f"http://127.0.0.1:{self.health_port}"
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen([*launcher, *argv, *self._health_args()],
                                         stdout=subprocess.DEVNULL, stderr=log, env=child_env(environ))

    def _health_args(self) -> list[str]:
        """The flags that put /health /ready /metrics on ``health_port`` (the agent's differ)."""
        return ["--health-addr", f"127.0.0.1:{self.health_port}"]

    def assert_running(self) -> None:
        """Fails (with the log's tail) if the process has exited: a service must never stop by itself."""
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}: {self.logs()[-3000:]}")

    async def get(self, path: str) -> tuple[int, Any]:
        """``(status, body)``: the body decoded from JSON, except /metrics (text)."""
        async with aiohttp.ClientSession() as s, s.get(f"{self.health}{path}",
                                                       timeout=aiohttp.ClientTimeout(total=10)) as r:
            body = await r.read()
            return r.status, (body.decode() if path == "/metrics" else orjson.loads(body))

    async def wait_ready(self, within: float = DEFAULT_TIMEOUT_S) -> None:
        """Until /ready says 200; fails at once (with the log) if the process exits."""
        async def ready() -> bool:
            self.assert_running()
            try:
                return (await self.get("/ready"))[0] == 200
            except (aiohttp.ClientError, OSError, TimeoutError):
                return False

        await wait_until(ready, within, lambda: f"{self.name} /ready; logs: {self.logs()[-3000:]}", interval=0.1)

    async def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` (with these labels) in /metrics; 0 when there are none."""
        _, text = await self.get("/metrics")
        return metric_total(text, name, **labels) or 0.0

    async def wait_metric(self, name: str, at_least: float, within: float = DEFAULT_TIMEOUT_S,
                          **labels: str) -> float:
        """Until :meth:`metric` reaches ``at_least``; returns its value."""
        async def reached() -> float:
            value = await self.metric(name, **labels)
            return value if value >= at_least else 0.0

        result: float = await wait_until(reached, within, f"{name}{labels or ''} >= {at_least}", interval=0.1)
        return result

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def startup_error(self, timeout: float = DEFAULT_TIMEOUT_S) -> str:
        """The ``error: ...`` line of a process that refused to start with what an operator must fix: it exits 2,
        prints exactly one such line, and no traceback (an assertion says otherwise, with the log)."""
        code = self.wait(timeout)
        logs = self.logs()
        lines = [line for line in logs.splitlines() if line.startswith("error:")]
        assert code == 2 and len(lines) == 1 and "Traceback" not in logs, f"exit {code}: {logs[-3000:]}"
        return lines[0]

    def terminate(self, timeout: float = DEFAULT_TIMEOUT_S, *, or_kill: bool = False) -> int:
        """SIGTERM and wait for the exit code (SIGKILL if it does not exit within ``timeout``, then raise
        ``subprocess.TimeoutExpired``). ``or_kill``: return the SIGKILL's code (-9) instead of raising, so a test
        that stops several services stops them all and asserts on every exit code at once."""
        try:
            return _stop(self.proc, signal.SIGTERM, timeout)
        except subprocess.TimeoutExpired:
            if not or_kill:
                raise
            return self.proc.returncode

    def kill(self) -> int:
        """SIGKILL: a crash, with no chance to clean up."""
        return _stop(self.proc, signal.SIGKILL, DEFAULT_TIMEOUT_S)

    def wait(self, timeout: float = DEFAULT_TIMEOUT_S) -> int:
        """The exit code of a process expected to exit by itself."""
        return self.proc.wait(timeout)


class ConnectorProc(_Service):
    """``ssmd connector`` for one environment, pointed at a simulator (``ws_url``) without auth unless told."""

    name = "connector"

    def __init__(self, workdir: Path, env_path: Path, ws_url: str | None, *extra: str, feed: Path | None = None,
                 environ: dict[str, str] | None = None, no_auth: bool = True, launcher: Sequence[str] = SSMD,
                 feed_name: str = "kalshi") -> None:
        """``launcher`` runs the CLI (default ``python -m ssmd``); a test may wrap it to inject a fault. Without a
        ``feed`` file, one for the registered feed ``feed_name`` is written."""
        from ssmd.up.pipeline import write_feed

        if feed is None:
            feed = workdir / f"{feed_name}-feed.yaml"
            if not feed.exists():
                write_feed(feed, feed_name)
        argv = ["connector", "--feed", str(feed), "--env", str(env_path), *extra]
        if ws_url:
            argv += ["--ws-url", ws_url]
        if no_auth:
            argv.append("--no-auth")
        log_path = workdir / f"connector-{next(_runs)}.log"
        super().__init__(argv, log_path, environ, launcher)


class ArchiverProc(_Service):
    """``ssmd archiver --config CONFIG``; several runs may share one ``log_path`` (appended)."""

    name = "archiver"

    def __init__(self, config_path: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(["archiver", "--config", str(config_path)], log_path, env)

    async def wait_archived(self, seq: int, within: float = DEFAULT_TIMEOUT_S) -> None:
        """Until /health's ``last_archived_seq`` reaches stream seq ``seq``; fails at once if the process exits."""
        async def archived() -> bool:
            self.assert_running()
            try:
                status, body = await self.get("/health")
            except (aiohttp.ClientError, OSError, TimeoutError):
                return False
            return status == 200 and body["last_archived_seq"] >= seq

        await wait_until(archived, within, f"the archiver to archive through seq {seq}", interval=0.1)


class AgentProc(_Service):
    """``ssmd agent run`` evaluating ``signals`` live on the subjects ``subjects`` (comma-separated filters) of the
    NATS server(s) at ``nats_url``, configured through the environment like its container."""

    name = "agent"

    def __init__(self, workdir: Path, nats_url: str, subjects: str, signals: Sequence[str], *extra: str,
                 environ: dict[str, str] | None = None) -> None:
        env = {"NATS_URL": nats_url, "NATS_SUBJECTS": subjects, "SSMD_SIGNALS": ",".join(signals), **(environ or {})}
        super().__init__(["agent", "run", *extra], workdir / f"agent-{next(_runs)}.log", env)

    def _health_args(self) -> list[str]:
        return ["--host", "127.0.0.1", "--port", str(self.health_port)]
