"""``transport: file``: no NATS at all; frames land in the archive layout through the archiver's writer."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from ssmd.testing import ConnectorProc, Sim, write_env


async def test_file_mode_writes_every_frame_once_into_the_archive(sim: Sim, tmp_path: Path) -> None:
    """Every frame sent is in {path}/{feed}/{date}/*.jsonl.gz once, in order, byte for byte, with a manifest."""
    data = tmp_path / "data"
    env = write_env(tmp_path / "file.yaml", "filemode", "", transport="file", storage_path=str(data))
    conn = ConnectorProc(tmp_path, env, sim.url)
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
    lines = [line for f in files for line in gzip.decompress(f.read_bytes()).split(b"\n") if line]
    assert lines == sent
    manifest = orjson.loads((files[0].parent / "manifest.json").read_bytes())
    assert files[0].name in str(manifest)


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
    lines = [line for f in files for line in gzip.decompress(f.read_bytes()).split(b"\n") if line]
    assert len(files) == 2
    sent = set(sim.sent())
    assert set(lines) <= sent and len(lines) == len(set(lines)) and len(lines) > 100
