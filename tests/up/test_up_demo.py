"""`ssmd up` end to end: real nats-server, simulator, connector, archiver and agent processes."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from _up_helpers import Output, diagnostics, processes_of, service_process

from ssmd.runtime.http import metric_total
from ssmd.testing import archived_lines, assert_archived_as_sent, run_ssmd, sent_lines, wait_until_sync

UP = [sys.executable, "-m", "ssmd", "up"]

pytestmark = pytest.mark.slow


def test_up_for_10s_archives_every_frame_the_simulator_sent(tmp_path: Path) -> None:
    """`ssmd up --duration 10s` exits 0 leaving closed archive files that verify, holding every frame the simulator
    sent as often as it sent it, and no process behind."""
    data = tmp_path / "demo"
    run = subprocess.run([*UP, "--duration", "10s", "--data-dir", str(data), "--rate", "150", "--status-every", "2"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, diagnostics(data, run.stdout + run.stderr)
    assert re.search(r"^\[00:\d\d\] in ", run.stdout, re.M), "no status line printed"
    assert "ssmd archive verify" in run.stdout and ": OK" in run.stdout
    assert list((data / "archive").rglob("*.jsonl.gz"))
    checked = run_ssmd("archive", "verify", data / "archive")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    sent = sent_lines(data / "sim-sent.jsonl")
    assert sum(sent.values()) > 300
    assert_archived_as_sent(archived_lines(data / "archive"), sent)
    assert processes_of(data) == []


def _metric(url: str, name: str, **labels: str) -> float | None:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return metric_total(resp.read().decode(), name, **labels)


def _post(url: str) -> None:
    req = urllib.request.Request(url, data=b"{}", method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def _kill(data: Path, name: str) -> int:
    proc = service_process(data, name)
    assert proc is not None, f"no {name} process found"
    proc.send_signal(signal.SIGKILL)
    return int(proc.pid)


def test_killed_connector_and_archiver_are_restarted_and_the_archive_stays_exact(tmp_path: Path) -> None:
    """SIGKILL of the archiver mid-flow and of the connector once each: both are restarted and reported, and after
    SIGTERM the archive holds every frame the simulator sent, as often as it sent it (and verifies)."""
    data = tmp_path / "demo"
    proc = subprocess.Popen([*UP, "--duration", "5m", "--data-dir", str(data), "--rate", "150", "--status-every", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Output(proc)
    sent_log = data / "sim-sent.jsonl"
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

        def drained() -> bool:
            received = _metric(connector_metrics, "ssmd_connector_frames_received")
            published = _metric(connector_metrics, "ssmd_connector_frames_published")
            coverage = _metric(connector_metrics, "ssmd_connector_frames_published", type="ssmd_coverage") or 0
            published = None if published is None else published - coverage  # its own events, not the exchange's
            sent = sum(sent_lines(sent_log).values())
            return received == published == sent and not _metric(connector_metrics, "ssmd_connector_buffered_frames")

        wait_until_sync(drained, what="the connector to publish everything the simulator sent", interval=0.2)
        old = _kill(data, "connector")
        out.wait_for(rf"connector \(pid {old}\) killed by SIGKILL; restarting")
        out.wait_for(r"✓ connector restarted")
        _post(f"{sim}/_sim/resume")
        before = sum(sent_lines(sent_log).values())
        wait_until_sync(lambda: sum(sent_lines(sent_log).values()) > before + 100, what="frames after the restart",
                        interval=0.2)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=180) == 0, diagnostics(data, out.text)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    text = out.wait_for(r"restarts: ").string
    assert "restarts: archiver x1, connector x1" in text, diagnostics(data, out.text)
    checked = run_ssmd("archive", "verify", data / "archive")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The restarted connector subscribes again: a book that did not change in between is sent again, byte for byte
    # (same sid, same seq), so the sent-log may list a frame twice; the archive must then hold it twice too.
    assert_archived_as_sent(archived_lines(data / "archive"), sent_lines(sent_log))
    assert processes_of(data) == []


def test_a_child_that_cannot_start_stops_the_run_cleanly(tmp_path: Path) -> None:
    """If a service cannot start (here: the agent, given an unknown signal), `ssmd up` says which one and where
    its log is, exits 1, and leaves no process behind."""
    data = tmp_path / "demo"
    run = subprocess.run([*UP, "--duration", "30s", "--data-dir", str(data), "--signals", "no_such_signal"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 1, diagnostics(data, run.stdout + run.stderr)
    assert re.search(r"error: agent exited with code 2 while starting; see \S+agent\.log", run.stdout), run.stdout
    assert "no_such_signal" in (data / "logs" / "agent.log").read_text()
    assert processes_of(data) == []
