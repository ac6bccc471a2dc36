"""Helpers for the end-to-end `ssmd up` tests: its output as it comes, the processes a run left, and what a failing
run shows."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

import psutil

from ssmd.testing import wait_until_sync
from ssmd.up.pipeline import MARKER_ENV


class Output:
    """Collects a child's stdout lines in a thread so the test can wait for them."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self._stdout = proc.stdout
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in self._stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, limit_s: float = 120.0) -> re.Match[str]:
        """The first line matching ``pattern``, once it has been printed."""
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            return next((m for line in list(self.lines) if (m := regex.search(line))), None)

        match: re.Match[str] = wait_until_sync(
            found, limit_s, lambda: f"an output line matching {pattern!r}:\n" + self.text, interval=0.1)
        return match

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def processes_of(data_dir: Path) -> list[psutil.Process]:
    """Live processes started by the `ssmd up` that used ``data_dir`` (they carry the marker variable)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER_ENV) == str(data_dir.resolve()) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def service_process(data_dir: Path, name: str) -> psutil.Process | None:
    """The child running ``python -m ssmd <name> ...`` for this run."""
    for proc in processes_of(data_dir):
        try:
            argv = proc.cmdline()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if argv[1:4] == ["-m", "ssmd", name]:
            return proc
    return None


def diagnostics(data_dir: Path, output: str) -> str:
    """What a failing end-to-end test shows: the run's output and the tail of every child's log."""
    parts = [output]
    for log in sorted((data_dir / "logs").glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-15:]
        parts.append(f"--- {log.name} (last {len(lines)} lines)\n" + "\n".join(lines))
    return "\n".join(parts)
