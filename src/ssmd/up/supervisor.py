"""Start children, restart the ones that die, stop them all (and only them) on the way out.

Children run in their own session so that a Ctrl-C in the terminal reaches only ``ssmd up``, which then stops
them in order (data sources first) instead of all at once; on Linux they also get SIGTERM if ``ssmd up`` itself
is killed, so none is left behind even then.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO

import aiohttp

from ssmd.runtime.backoff import Backoff
from ssmd.up.spec import ChildSpec

log = logging.getLogger(__name__)

Report = Callable[[str], None]

_BACKOFF_MIN_S = 0.5
_BACKOFF_MAX_S = 10.0
_STABLE_AFTER_S = 30.0
"""A child that ran this long before dying is restarted without back-off (it was not crash-looping)."""


@dataclass
class Child:
    spec: ChildSpec
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    exits: list[int] = field(default_factory=list)
    watcher: asyncio.Task[None] | None = None
    log_file: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


class StartError(Exception):
    """A child did not come up (it exited, or never answered its health check in time)."""


def _load_prctl() -> Callable[[int, int], int] | None:
    # Resolved here, not in the forked child: importing or loading libraries after fork can deadlock.
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[[int, int], int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: new session, and SIGTERM when the parent dies (Linux ``PR_SET_PDEATHSIG``)."""
    os.setsid()
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(self, base_env: Mapping[str, str], report: Report, start_timeout: float = 60.0) -> None:
        self.base_env = dict(base_env)
        self.report = report
        self.start_timeout = start_timeout
        self.children: dict[str, Child] = {}
        self._stopping = False
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Supervisor:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_all()
        if self._session is not None:
            await self._session.close()

    async def start(self, spec: ChildSpec) -> Child:
        """Spawn ``spec``, wait until it is healthy, then watch it (restart on unexpected exit)."""
        child = Child(spec)
        self.children[spec.name] = child
        await self._spawn(child)
        await self._wait_healthy(child)
        child.watcher = asyncio.create_task(self._watch(child), name=f"watch-{spec.name}")
        return child

    async def run_once(self, spec: ChildSpec, limit_s: float = 60.0) -> tuple[int, str]:
        """Run a one-shot command (``ssmd stream ensure``) to completion; return its exit code and output."""
        proc = await asyncio.create_subprocess_exec(
            *spec.argv, env={**self.base_env, **spec.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), limit_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return -1, f"{spec.name}: timed out after {limit_s:.0f}s"
        return proc.returncode or 0, out.decode(errors="replace")

    async def _spawn(self, child: Child) -> None:
        spec = child.spec
        if child.log_file is None and spec.log_path is not None:
            spec.log_path.parent.mkdir(parents=True, exist_ok=True)
            # Opening a local file for append is quick; the child writes to it directly, not the event loop.
            child.log_file = open(spec.log_path, "ab")  # noqa: SIM115, ASYNC230 - closed in stop()
        out = child.log_file if child.log_file is not None else subprocess.DEVNULL
        child.proc = await asyncio.create_subprocess_exec(
            *spec.argv, env={**self.base_env, **spec.env}, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )
        child.started_at = time.monotonic()

    async def _wait_healthy(self, child: Child) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert child.proc is not None
            if child.proc.returncode is not None:
                raise StartError(f"{child.spec.name} exited with code {child.proc.returncode} while starting"
                                 + (f"; see {child.spec.log_path}" if child.spec.log_path else ""))
            if await self._healthy(child.spec):
                return
            await asyncio.sleep(0.1)
        raise StartError(f"{child.spec.name} did not become healthy within {self.start_timeout:.0f}s"
                         + (f"; see {child.spec.log_path}" if child.spec.log_path else ""))

    async def _healthy(self, spec: ChildSpec) -> bool:
        if spec.health_url:
            assert self._session is not None
            try:
                async with self._session.get(spec.health_url) as resp:
                    return resp.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False
        if spec.tcp_port:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", spec.tcp_port), 1)
            except (OSError, TimeoutError):
                return False
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        return True

    async def _watch(self, child: Child) -> None:
        backoff = Backoff(_BACKOFF_MIN_S, _BACKOFF_MAX_S)
        while not self._stopping:
            assert child.proc is not None
            code = await child.proc.wait()
            if self._stopping:
                return
            child.exits.append(code)
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
            if not child.spec.restart:
                self.report(f"! {child.spec.name} (pid {child.proc.pid}) {how}; not restarted")
                return
            if time.monotonic() - child.started_at >= _STABLE_AFTER_S:
                backoff.reset()
            delay = backoff.next_delay()
            child.restarts += 1
            self.report(f"! {child.spec.name} (pid {child.proc.pid}) {how}; restarting in {delay:.1f}s "
                        f"(restart #{child.restarts})")
            await asyncio.sleep(delay)
            if self._stopping:
                return
            try:
                await self._spawn(child)
                await self._wait_healthy(child)
            except StartError as exc:
                self.report(f"! {exc}")
                continue
            except OSError as exc:
                self.report(f"! {child.spec.name} could not be started: {exc}")
                continue
            self.report(f"✓ {child.spec.name} restarted (pid {child.pid})")

    async def stop(self, name: str, grace_s: float = 20.0) -> None:
        """SIGTERM one child and wait; SIGKILL it if it outlives ``grace_s``."""
        child = self.children.get(name)
        if child is None:
            return
        if child.watcher is not None:
            child.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await child.watcher
            child.watcher = None
        proc = child.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace_s)
            except TimeoutError:
                self.report(f"! {name} ignored SIGTERM for {grace_s:.0f}s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if child.log_file is not None:
            child.log_file.close()
            child.log_file = None

    async def stop_all(self, order: list[list[str]] | None = None) -> None:
        """Stop every child: the groups in ``order`` one after the other (each group's members together), then
        the rest in reverse start order."""
        self._stopping = True
        groups = [list(g) for g in order or []]
        named = {n for g in groups for n in g}
        groups += [[n] for n in reversed(self.children) if n not in named]
        for group in groups:
            await asyncio.gather(*(self.stop(name) for name in group))
