"""ssmd archive sync: closed files and manifests reach object storage, verified, and reruns upload only what
changed; GCS and S3 are real emulator processes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from _archive_factory import trade
from _emulators import emulator

from ssmd.testing import write_day

T0 = 1_770_897_976


def _archive(root: Path, files: int = 3, per_file: int = 50) -> list[Path]:
    """A two-day archive; returns every file that must be synced (data files and manifests)."""
    names = [f"{h:02d}{m:02d}.jsonl.gz" for h in range(24) for m in (0, 15, 30, 45)][:files]
    counter = iter(range(10**9))
    for day in ("2026-02-11", "2026-02-12"):
        write_day(root, day, [(n, [trade(f"{day}-{next(counter)}", T0, seq=i) for i in range(per_file)])
                              for n in names])
    return sorted(p for p in root.rglob("*") if p.is_file())


def sync(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ssmd", "archive", "sync", *args, "--json"], capture_output=True,
                          text=True, timeout=180, check=False, env={**os.environ, **(env or {})})


def _summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = orjson.loads(proc.stdout)
    return result


def _remote_files(dest: Path) -> dict[str, bytes]:
    return {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file()}


def _local_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(".tmp")}


def test_file_sync_uploads_closed_files_and_manifests_then_skips_them(tmp_path: Path) -> None:
    """A first run copies every closed file and manifest (never the .tmp); a second run uploads nothing."""
    root, dest = tmp_path / "arc", tmp_path / "remote"
    files = _archive(root)
    (root / "kalshi" / "2026-02-12" / "1200.jsonl.gz.tmp").write_bytes(b"open")
    first = _summary(sync(str(root), f"file://{dest}"))
    assert (first["uploaded"], first["skipped"], first["failed"]) == (len(files), 0, 0)
    assert _remote_files(dest) == _local_files(root)
    second = _summary(sync(str(root), f"file://{dest}"))
    assert (second["uploaded"], second["skipped"]) == (0, len(files))


def test_rerun_replaces_a_torn_copy_and_a_missing_one_only(tmp_path: Path) -> None:
    """After an interrupted copy (one remote file truncated, one missing) a rerun uploads exactly those two."""
    root, dest = tmp_path / "arc", tmp_path / "remote"
    files = _archive(root)
    _summary(sync(str(root), f"file://{dest}"))
    torn = dest / "kalshi" / "2026-02-11" / "0015.jsonl.gz"
    torn.write_bytes(torn.read_bytes()[:10])
    (dest / "kalshi" / "2026-02-12" / "0000.jsonl.gz").unlink()
    again = _summary(sync(str(root), f"file://{dest}"))
    assert (again["uploaded"], again["skipped"]) == (2, len(files) - 2)
    assert _remote_files(dest) == _local_files(root)


def test_prune_after_deletes_only_old_fully_verified_days(tmp_path: Path) -> None:
    """--prune-after 1 deletes old days once verified remotely, keeps today's day and a day with a .tmp file;
    without the flag nothing local is deleted."""
    root, dest = tmp_path / "arc", tmp_path / "remote"
    _archive(root)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    write_day(root, today, [("0000.jsonl.gz", [trade("today", T0)])])
    (root / "kalshi" / "2026-02-11" / "2300.jsonl.gz.tmp").write_bytes(b"open")
    assert _summary(sync(str(root), f"file://{dest}"))["pruned_days"] == 0
    assert (root / "kalshi" / "2026-02-12").exists()
    pruned = _summary(sync(str(root), f"file://{dest}", "--prune-after", "1"))
    assert pruned["pruned"] == ["kalshi/2026-02-12"]
    assert not (root / "kalshi" / "2026-02-12").exists()
    assert (root / "kalshi" / "2026-02-11" / "manifest.json").exists() and (root / "kalshi" / today).exists()
    assert (dest / "kalshi" / "2026-02-12" / "manifest.json").exists()


def test_failed_upload_exits_1_and_blocks_manifest_and_prune(tmp_path: Path) -> None:
    """A file that cannot be written remotely is counted, the run exits 1, and that day's manifest is not
    uploaded and its local data is not pruned."""
    root, dest = tmp_path / "arc", tmp_path / "remote"
    _archive(root)
    (dest / "kalshi" / "2026-02-12" / "0015.jsonl.gz").mkdir(parents=True)  # a directory where the file goes
    proc = sync(str(root), f"file://{dest}", "--prune-after", "1")
    assert proc.returncode == 1
    summary = orjson.loads(proc.stdout)
    assert summary["failed"] == 1 and summary["pruned"] == ["kalshi/2026-02-11"]
    assert not (dest / "kalshi" / "2026-02-12" / "manifest.json").exists()
    assert (root / "kalshi" / "2026-02-12" / "0015.jsonl.gz").exists()


def _interrupt_then_resume(root: Path, dest: str, env: dict[str, str], options: list[str]) -> None:
    """Kill -9 the first sync right after its first upload, rerun it to the end, then rerun again."""
    files = _archive(root, files=30, per_file=400)
    proc = subprocess.Popen([sys.executable, "-m", "ssmd", "archive", "sync", str(root), dest, *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
    assert proc.stderr is not None
    for line in proc.stderr:
        if b"uploaded" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the first run must have been interrupted"
    resumed = _summary(sync(str(root), dest, *options, env=env))
    assert resumed["skipped"] >= 1 and resumed["uploaded"] >= 1
    assert resumed["uploaded"] + resumed["skipped"] == len(files)
    final = _summary(sync(str(root), dest, *options, env=env))
    assert (final["uploaded"], final["skipped"]) == (0, len(files))


@pytest.mark.slow
def test_gcs_emulator_interrupted_and_resumed(tmp_path: Path) -> None:
    """Against a real GCS emulator: after kill -9 and a rerun the bucket holds exactly the local closed files."""
    env = {"GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
    os.environ.update(env)
    import gcsfs

    with emulator("gcs", tmp_path) as url:
        options = ["--endpoint-url", url, "--storage-option", "token=anon", "--storage-option", "project=test"]
        fs = gcsfs.GCSFileSystem(endpoint_url=url, token="anon", project="test")
        fs.mkdir("archive")
        root = tmp_path / "arc"
        _interrupt_then_resume(root, "gs://archive/prod", env, options)
        fs.invalidate_cache()
        remote = {p.removeprefix("archive/prod/"): fs.cat_file(p) for p in fs.find("archive/prod")}
        assert remote == _local_files(root)


@pytest.mark.slow
def test_s3_emulator_interrupted_and_resumed(tmp_path: Path) -> None:
    """Against a real S3 emulator (moto_server): after kill -9 and a rerun the bucket holds exactly the local
    closed files."""
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    import s3fs

    with emulator("s3", tmp_path) as url:
        fs = s3fs.S3FileSystem(endpoint_url=url, key="testing", secret="testing")
        fs.mkdir("archive")
        root = tmp_path / "arc"
        _interrupt_then_resume(root, "s3://archive/prod", env, ["--endpoint-url", url])
        fs.invalidate_cache()
        remote = {p.removeprefix("archive/prod/"): fs.cat_file(p) for p in fs.find("archive/prod")}
        assert remote == _local_files(root)


def test_bad_destination_is_a_usage_error(tmp_path: Path) -> None:
    """A destination that is not a URL exits 2 with what was expected."""
    _archive(tmp_path / "arc")
    proc = subprocess.run([sys.executable, "-m", "ssmd", "archive", "sync", str(tmp_path / "arc"), "bucket/x"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "gs://bucket/prefix" in proc.stderr


pytestmark = pytest.mark.timeout(240)
