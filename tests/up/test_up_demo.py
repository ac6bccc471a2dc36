"""`ssmd up` end to end: real nats-server, simulator, connector, archiver and agent processes."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from _up_helpers import archived_lines, diagnostics, processes_of, sent_lines, service_process, verify

from ssmd.up import _prom

UP = [sys.executable, "-m", "ssmd", "up"]


def test_up_for_30s_archives_every_frame_the_simulator_sent(tmp_path: Path) -> None:
    """`ssmd up --duration 30s` exits 0 leaving closed archive files that verify, holding every frame the simulator
    sent exactly once, and no process behind."""
    data = tmp_path / "demo"
    run = subprocess.run([*UP, "--duration", "30s", "--data-dir", str(data), "--rate", "100"],
                         capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, diagnostics(data, run.stdout + run.stderr)
    assert re.search(r"^\[00:\d\d\] in ", run.stdout, re.M), "no status line printed"
    assert "ssmd archive verify" in run.stdout and ": OK" in run.stdout
    assert list((data / "archive").rglob("*.jsonl.gz"))
    checked = verify(data / "archive")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    sent = sent_lines(data / "sim-sent.jsonl")
    assert sum(sent.values()) > 500 and max(sent.values()) == 1
    assert archived_lines(data / "archive") == sent
    assert processes_of(data) == []


class _Reader:
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

    def wait_for(self, pattern: str, limit_s: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + limit_s
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = regex.search(line)
                if match:
                    return match
            time.sleep(0.1)
        raise AssertionError(f"no output line matched {pattern!r}:\n" + "\n".join(self.lines))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _until(predicate: Callable[[], bool], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=3) as resp:
        return _prom.parse(resp.read().decode())


def _post(url: str) -> None:
    req = urllib.request.Request(url, data=b"{}", method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=3) as resp:
        resp.read()


def _kill(data: Path, name: str) -> int:
    proc = service_process(data, name)
    assert proc is not None, f"no {name} process found"
    proc.send_signal(signal.SIGKILL)
    return int(proc.pid)


def test_killed_connector_and_archiver_are_restarted_and_the_archive_stays_exact(tmp_path: Path) -> None:
    """SIGKILL of the archiver mid-flow and of the connector once each: both are restarted and reported, and after
    SIGTERM the archive holds every frame the simulator sent exactly once (and verifies)."""
    data = tmp_path / "demo"
    proc = subprocess.Popen([*UP, "--duration", "5m", "--data-dir", str(data), "--rate", "150", "--status-every", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = _Reader(proc)
    try:
        sim = "http://127.0.0.1:" + out.wait_for(r"simulator\s+ws://127\.0\.0\.1:(\d+)/").group(1)
        connector_metrics = out.wait_for(r"connector\s+(http://\S+/metrics)").group(1)
        out.wait_for(r"archived [1-9]")

        # The archiver dies with data flowing: the stream keeps what it did not acknowledge.
        old = _kill(data, "archiver")
        out.wait_for(rf"archiver \(pid {old}\) killed by SIGKILL; restarting")
        out.wait_for(r"✓ archiver restarted")

        # The connector dies with nothing in flight: frames the exchange sent into a dead socket are lost on the
        # real exchange too, so the simulator is paused until the connector has published all it received.
        _post(f"{sim}/_sim/pause")
        sent_log = data / "sim-sent.jsonl"

        def drained() -> bool:
            m = _metrics(connector_metrics)
            received = _prom.pick(m, r"ssmd_connector_frames_received(_total)?")
            published = _prom.pick(m, r"ssmd_connector_frames_published(_total)?")
            sent = len(sent_log.read_bytes().splitlines())
            return received == published == sent and not _prom.pick(m, r"ssmd_connector_buffered_frames")

        _until(drained, 30, "the connector to publish everything the simulator sent")
        old = _kill(data, "connector")
        out.wait_for(rf"connector \(pid {old}\) killed by SIGKILL; restarting")
        out.wait_for(r"✓ connector restarted")
        _post(f"{sim}/_sim/resume")
        before = len(sent_log.read_bytes().splitlines())
        _until(lambda: len(sent_log.read_bytes().splitlines()) > before + 100, 30, "frames after the restart")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, diagnostics(data, out.text)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    time.sleep(0.2)
    text = out.text
    assert "restarts: archiver x1, connector x1" in text, diagnostics(data, text)
    checked = verify(data / "archive")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    sent = sent_lines(data / "sim-sent.jsonl")
    assert max(sent.values()) == 1
    archived = archived_lines(data / "archive")
    assert max(archived.values()) == 1, "duplicate lines in the archive"
    assert archived == sent, f"missing {len(sent - archived)}, unexpected {len(archived - sent)}"
    assert processes_of(data) == []


def test_a_child_that_cannot_start_stops_the_run_cleanly(tmp_path: Path) -> None:
    """If a service cannot start (here: the agent, given an unknown signal), `ssmd up` says which one and where
    its log is, exits 1, and leaves no process behind."""
    data = tmp_path / "demo"
    run = subprocess.run([*UP, "--duration", "30s", "--data-dir", str(data), "--signals", "no_such_signal"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1, diagnostics(data, run.stdout + run.stderr)
    assert re.search(r"error: agent exited with code 2 while starting; see \S+agent\.log", run.stdout), run.stdout
    assert "no_such_signal" in (data / "logs" / "agent.log").read_text()
    assert processes_of(data) == []
