"""Helpers for the end-to-end `ssmd up` tests: read archives and find the processes a run left."""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psutil

from ssmd.up.pipeline import MARKER_ENV


def archived_lines(root: Path) -> Counter[bytes]:
    """Every line of every closed archive file under ``root``."""
    lines: Counter[bytes] = Counter()
    for path in sorted(root.rglob("*.jsonl.gz")):
        with gzip.open(path, "rb") as fh:
            lines.update(fh.read().splitlines())
    return lines


def sent_lines(log: Path) -> Counter[bytes]:
    return Counter(log.read_bytes().splitlines())


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


def verify(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ssmd", "archive", "verify", str(root)],
                          capture_output=True, text=True, timeout=60, check=False)


def diagnostics(data_dir: Path, output: str) -> str:
    """What a failing end-to-end test shows: the run's output and the tail of every child's log."""
    parts = [output]
    for log in sorted((data_dir / "logs").glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-15:]
        parts.append(f"--- {log.name} (last {len(lines)} lines)\n" + "\n".join(lines))
    return "\n".join(parts)
