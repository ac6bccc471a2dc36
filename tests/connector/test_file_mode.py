"""``transport: file``: no NATS at all; frames land in the archive layout through the archiver's writer."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

import ssmd.archive
from ssmd.coverage import is_coverage
from ssmd.testing import ConnectorProc, Sim, fill_disk, write_env


async def test_file_mode_writes_every_frame_once_into_the_archive(sim: Sim, tmp_path: Path) -> None:
    """Every frame sent is in {path}/{feed}/{date}/*.jsonl.gz once, in order, byte for byte, with a manifest, and
    each line's origin names the instance and its connection, as the archiver's files do."""
    data = tmp_path / "data"
    env = write_env(tmp_path / "file.yaml", "filemode", "", transport="file", storage_path=str(data))
    conn = ConnectorProc(tmp_path, env, sim.url, environ={"SSMD_INSTANCE": "laptop-1"})
    try:
        await conn.wait_ready()
        await sim.wait_sent(300)
        await sim.pause()
        await conn.wait_metric("ssmd_connector_frames_received_total", len(sim.sent()))  # all in before SIGTERM
    finally:
        assert conn.terminate() == 0
    sent = sim.sent()
    files = sorted((data / "kalshi").glob("*/*.jsonl.gz"))
    assert files, list(data.rglob("*"))
    lines = [line for f in files for line in gzip.decompress(f.read_bytes()).split(b"\n")
             if line and not is_coverage(line)]
    assert lines == sent
    manifest = orjson.loads((files[0].parent / "manifest.json").read_bytes())
    assert files[0].name in str(manifest)
    origins = {(frame.origin, is_coverage(frame.raw)) for frame in ssmd.archive.open(data, raw=True)}
    assert {origin[0] for origin, _ in origins} == {"laptop-1"}, origins
    assert all(origin[1] for origin, coverage in origins if not coverage), origins  # frames: their connection too


async def test_file_mode_restart_appends_and_never_overwrites(sim: Sim, tmp_path: Path) -> None:
    """A second run writes a new file next to the first; the first run's frames are all still there."""
    data = tmp_path / "data"
    env = write_env(tmp_path / "file.yaml", "filemode", "", transport="file", storage_path=str(data))
    for _ in range(2):
        conn = ConnectorProc(tmp_path, env, sim.url)
        await conn.wait_ready()
        await conn.wait_metric("ssmd_connector_frames_received_total", 60)
        assert conn.terminate() == 0
    await sim.pause()
    files = sorted((data / "kalshi").glob("*/*.jsonl.gz"))
    lines = [line for f in files for line in gzip.decompress(f.read_bytes()).split(b"\n")
             if line and not is_coverage(line)]
    assert len(files) == 2
    sent = set(sim.sent())
    assert set(lines) <= sent and len(lines) == len(set(lines)) and len(lines) > 100


async def test_file_mode_rotation_on_a_full_disk_is_retried(sim: Sim, tmp_path: Path, tiny_fs: Path) -> None:
    """A window ends while the exchange is quiet and the disk is full: closing the file cannot write the
    manifest. The connector says so on /ready, keeps running, and once space returns every frame is written."""
    env = write_env(tmp_path / "file.yaml", "filemode", "", transport="file", storage_path=str(tiny_fs))
    conn = ConnectorProc(tmp_path, env, sim.url, "--rotation", "1s")
    try:
        await conn.wait_ready()
        await asyncio.sleep(0.5)
        await sim.pause()
        await _until(conn, lambda health: health["buffered"] == 0)
        fill_disk(tiny_fs / "filler")
        await _until(conn, lambda ready: "archive writes failing" in str(ready.get("reason")), "/ready")
        assert conn.proc.poll() is None, conn.logs()[-2000:]
        (tiny_fs / "filler").unlink()
        await sim.resume()
        await asyncio.sleep(1.0)
        await sim.pause()
        await asyncio.sleep(0.3)
        await conn.wait_ready()
    finally:
        assert conn.terminate() == 0, conn.logs()[-2000:]
    days = sorted((tiny_fs / "kalshi").iterdir())
    listed = [(day / f["name"]) for day in days for f in orjson.loads((day / "manifest.json").read_bytes())["files"]]
    assert sorted(listed) == sorted((tiny_fs / "kalshi").glob("*/*.jsonl.gz"))
    lines = [line for f in sorted(listed) for line in gzip.decompress(f.read_bytes()).split(b"\n")
             if line and not is_coverage(line)]
    assert lines == sim.sent()


async def _until(conn: ConnectorProc, check: Callable[[dict[str, Any]], bool], path: str = "/health",
                 within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        assert conn.proc.poll() is None, f"connector exited {conn.proc.returncode}: {conn.logs()[-2000:]}"
        _, body = await conn.get(path)
        if check(body):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never satisfied the condition: {body}")
