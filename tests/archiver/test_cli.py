"""``ssmd archiver`` as a real process: config errors exit 2, SIGTERM closes cleanly, health endpoints answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

from archiver_helpers import StreamEnv, frame

from ssmd.archive_format.writer import ArchiveWriter, Record
from ssmd.bus.embedded import free_port
from ssmd.kalshi import frames as kalshi_frames
from ssmd.testing import ArchiverProc, fill_disk, read_archive, run_ssmd


def test_malformed_config_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    """A bad value is reported with the file and the field path, and the exit code is 2."""
    path = tmp_path / "archiver.yaml"
    path.write_text("nats: {url: 'nats://127.0.0.1:4222', stream: S, consumer: c, filter: 'p.kalshi.json.>'}\n"
                    "storage: {path: /tmp/x}\nrotation: {interval: fortnight}\n")
    result = run_ssmd("archiver", "--config", path)
    assert result.returncode == 2
    assert str(path) in result.stderr and "rotation.interval" in result.stderr


def test_missing_required_section_exits_2(tmp_path: Path) -> None:
    """A config without ``storage`` names the missing field."""
    path = tmp_path / "archiver.yaml"
    path.write_text("nats: {url: 'nats://127.0.0.1:4222', stream: S, consumer: c, filter: 'p.kalshi.json.>'}\n")
    result = run_ssmd("archiver", "--config", path)
    assert result.returncode == 2 and "storage" in result.stderr


def test_unreachable_nats_exits_2(tmp_path: Path, stream_env: StreamEnv) -> None:
    """No NATS at the configured URL: a clear message and exit 2, not a hang."""
    path = stream_env.write_config(tmp_path / "a.yaml", nats={"url": f"nats://127.0.0.1:{free_port()}"})
    result = run_ssmd("archiver", "--config", path)
    assert result.returncode == 2 and "cannot connect to NATS" in result.stderr


def test_filter_outside_stream_exits_2(tmp_path: Path, stream_env: StreamEnv) -> None:
    """A filter the stream does not capture stops start-up with exit 2 and says why."""
    path = stream_env.write_config(tmp_path / "a.yaml", nats={"filter": "nowhere.kalshi.json.>"})
    result = run_ssmd("archiver", "--config", path)
    assert result.returncode == 2 and "does not cover" in result.stderr


async def test_sigterm_closes_file_writes_manifest_acks_and_exits_0(tmp_path: Path, stream_env: StreamEnv) -> None:
    """SIGTERM: current file renamed from .tmp, manifest written, everything acknowledged, exit 0."""
    archiver = ArchiverProc(stream_env.write_config(tmp_path / "a.yaml"), tmp_path / "archiver.log")
    await archiver.wait_ready()
    await stream_env.publish([frame(i) for i in range(1, 1001)])
    await archiver.wait_archived(1000)
    assert await asyncio.to_thread(archiver.terminate) == 0, archiver.logs()
    assert not list(stream_env.feed_dir.rglob("*.tmp"))
    assert read_archive(stream_env.feed_dir) == [frame(i) for i in range(1, 1001)]
    info = await stream_env.js.consumer_info(stream_env.stream, f"arch-{stream_env.name}")
    assert info.ack_floor.stream_seq == 1000


async def test_health_ready_and_metrics_endpoints(tmp_path: Path, stream_env: StreamEnv) -> None:
    """/health and /ready answer 200 when running; /metrics exports the archiver's counters."""
    archiver = ArchiverProc(stream_env.write_config(tmp_path / "a.yaml"), tmp_path / "archiver.log")
    try:
        await archiver.wait_ready()
        await stream_env.publish([frame(i) for i in range(1, 101)])
        await archiver.wait_metric("ssmd_archiver_messages_total", 100)
        _, body = await archiver.get("/metrics")
        for name in ("ssmd_archiver_bytes_total", "ssmd_archiver_files_total", "ssmd_archiver_consumer_lag",
                     "ssmd_archiver_current_file_age_seconds", "ssmd_archiver_gaps_total",
                     "ssmd_archiver_write_errors_total", "ssmd_archiver_last_ack_timestamp_seconds"):
            assert name in body
        assert "ssmd_archiver_messages_total 100.0" in body
        status, health = await archiver.get("/health")
        assert status == 200 and health["last_archived_seq"] == 100
    finally:
        archiver.terminate()


async def test_env_overrides_url_and_data_dir(tmp_path: Path, stream_env: StreamEnv) -> None:
    """NATS_URL and SSMD_DATA_DIR replace the file's url and storage path (the guide's overrides)."""
    path = stream_env.write_config(tmp_path / "a.yaml", nats={"url": "nats://nowhere.invalid:4222"},
                                   storage={"path": "/nonexistent/never"})
    data = tmp_path / "elsewhere"
    archiver = ArchiverProc(path, tmp_path / "archiver.log",
                       env={"NATS_URL": stream_env.server.url, "SSMD_DATA_DIR": str(data)})
    await archiver.wait_ready()
    await stream_env.publish([frame(1)])
    await archiver.wait_archived(1)
    assert await asyncio.to_thread(archiver.terminate) == 0
    assert read_archive(data / "kalshi") == [frame(1)]


async def test_start_on_a_full_disk_keeps_the_previous_manifest(tmp_path: Path, stream_env: StreamEnv,
                                                                tiny_fs: Path) -> None:
    """Crash recovery on a full disk fails start-up (exit 1, one line, no traceback) and leaves the day as it was
    found: the previous manifest byte for byte, no half-written ``.manifest.json.tmp`` that ``verify`` would
    take for a file being written. With space back, the next start finishes the recovery."""
    now = time.time()
    day = tiny_fs / "kalshi" / dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")
    first = ArchiveWriter(tiny_fs, "kalshi", 86400, "1d", clock=lambda: now, facts=kalshi_frames)
    await first.write_batch([Record(frame(i), i, "s", 0) for i in range(1, 11)])
    await first.close()
    crashed = ArchiveWriter(tiny_fs, "kalshi", 86400, "1d", clock=lambda: now, facts=kalshi_frames)
    await crashed.write_batch([Record(frame(i), i, "s", 0) for i in range(11, 21)])  # never closed: a crash
    before = (day / "manifest.json").read_bytes()
    fill_disk(tiny_fs / "filler")
    config = stream_env.write_config(tmp_path / "a.yaml", storage={"path": str(tiny_fs)})
    result = await asyncio.to_thread(run_ssmd, "archiver", "--config", config)
    assert result.returncode == 1, result.stderr
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert (day / "manifest.json").read_bytes() == before
    assert not (day / ".manifest.json.tmp").exists()
    verify = await asyncio.to_thread(run_ssmd, "archive", "verify", tiny_fs)
    assert "being written" not in verify.stdout, verify.stdout
    (tiny_fs / "filler").unlink()
    assert await ArchiveWriter(tiny_fs, "kalshi", 86400, "1d", clock=lambda: now, facts=kalshi_frames).open() == 20
    assert read_archive(tiny_fs / "kalshi") == [frame(i) for i in range(1, 21)]
