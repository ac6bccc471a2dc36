"""``ssmd archive sync``: copy closed archive files and manifests to object storage, verifiably, re-runnably.

What makes it safe to run from a CronJob every 15 minutes and to kill at any moment:

- only closed ``.jsonl.gz`` files and ``manifest.json`` go up, never a ``.tmp``; a day's manifest goes up after
  all its files, so a remote manifest never names a file that is not there;
- a remote object with the same size and MD5 as the local file is skipped (GCS ``md5Hash``, S3 single-part
  ``ETag``; otherwise the remote bytes are hashed), so a rerun uploads only what is missing or different;
- every upload is checked again (size + MD5) before it counts; object stores create objects atomically, and a
  torn copy on ``file://`` fails the check and is replaced next run;
- local data is deleted only with ``--prune-after DAYS``, only for days older than that, and only when every
  file of the day and its manifest were verified remotely in this run.

Remote layout mirrors the local one: ``DEST/{feed}/{YYYY-MM-DD}/{file}``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssmd.archive._progress import Progress
from ssmd.archive_format.days import Day, find_days
from ssmd.archive_format.layout import MANIFEST

log = logging.getLogger(__name__)
_BLOCK = 1 << 20


class SyncError(Exception):
    """The destination cannot be used at all (missing extra, bucket not found)."""


def parse_options(pairs: Sequence[str], endpoint_url: str | None, dest: str) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``true``/``false`` become booleans) plus ``--endpoint-url`` for the dest's backend."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--storage-option {pair!r}: expected KEY=VALUE")
        options[key] = {"true": True, "false": False}.get(value.lower(), value)
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    if dest.startswith("file://") and options:
        raise ValueError("file:// destinations take no storage options")
    return options


def run_sync(
    path: str | Path,
    dest: str,
    feed: str | None = None,
    prune_after_days: int | None = None,
    storage_options: dict[str, Any] | None = None,
    today: dt.date | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    days = find_days(path, feed)
    fs, base = _filesystem(dest, storage_options or {})
    cutoff = (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=prune_after_days or 0)
    total = sum(len(d.data_files()) + 1 for d in days)
    progress = Progress("sync", total=total, unit="files") if show_progress else None
    counts = {"uploaded": 0, "skipped": 0, "failed": 0, "bytes_uploaded": 0}
    pruned: list[str] = []
    for day in days:
        verified = _sync_day(fs, base, day, counts, progress)
        if prune_after_days is not None and verified and day.date is not None and day.date < cutoff:
            if day.tmp_files():
                log.warning("not pruning %s: it still has a .tmp file", day.label)
            elif day.only is None:
                _prune(day)
                pruned.append(day.label)
    summary = {"dest": dest, **counts, "pruned_days": len(pruned), "pruned": pruned, "days": len(days)}
    if progress:
        progress.finish(f"{counts['uploaded']} uploaded, {counts['skipped']} unchanged, {counts['failed']} failed")
    return summary


def _filesystem(dest: str, options: dict[str, Any]) -> tuple[Any, str]:
    if dest.startswith("gs://") and options.get("endpoint_url"):
        # gcsfs probes a GCS gRPC control plane that emulators do not serve (one minute per call): plain JSON API.
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    try:
        import fsspec  # optional extra ssmd[sync]
    except ImportError:
        raise SyncError("sync needs the optional dependencies: pip install 'ssmd[sync]'") from None
    if "://" not in dest:
        raise ValueError(f"{dest!r}: expected a URL such as gs://bucket/prefix, s3://bucket/prefix or file:///path")
    if dest.startswith("file://"):
        options = {**options, "auto_mkdir": True}
    try:
        fs, base = fsspec.core.url_to_fs(dest, **options)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"{dest!r}: {exc}") from None
    return fs, str(base).rstrip("/")


def _sync_day(fs: Any, base: str, day: Day, counts: dict[str, int], progress: Progress | None) -> bool:
    """Sync one day; True when every file and the manifest are verified remotely."""
    remote_dir = f"{base}/{day.feed}/{day.path.name}"
    listing = _listing(fs, remote_dir)
    all_ok = True
    for file in day.data_files():
        all_ok &= _sync_one(fs, file, None, f"{remote_dir}/{file.name}", listing.get(file.name), counts)
        if progress:
            progress.advance(note=f"{day.label}/{file.name}")
    manifest = day.path / MANIFEST
    if day.only is None and manifest.exists():
        if all_ok:
            data = manifest.read_bytes()  # one consistent snapshot: the archiver rewrites it by rename
            all_ok &= _sync_one(fs, manifest, data, f"{remote_dir}/{MANIFEST}", listing.get(MANIFEST), counts)
        else:
            log.warning("%s: manifest not uploaded because a file of the day failed", day.label)
        if progress:
            progress.advance()
    return all_ok and day.only is None


def _listing(fs: Any, remote_dir: str) -> dict[str, dict[str, Any]]:
    try:
        entries = fs.ls(remote_dir, detail=True, refresh=True)
    except FileNotFoundError:
        return {}
    return {str(e["name"]).rstrip("/").rsplit("/", 1)[-1]: e for e in entries if e.get("type") != "directory"}


def _sync_one(fs: Any, local: Path, data: bytes | None, remote: str, info: dict[str, Any] | None,
              counts: dict[str, int]) -> bool:
    size, md5 = (len(data), hashlib.md5(data).hexdigest()) if data is not None else _local_md5(local)
    try:
        if info is not None and _same(fs, remote, info, size, md5):
            counts["skipped"] += 1
            return True
        if data is not None:
            fs.pipe_file(remote, data)
        else:
            fs.put_file(str(local), remote)
        fs.invalidate_cache(remote)
        if not _same(fs, remote, fs.info(remote), size, md5):
            raise OSError("remote copy differs after upload (size or md5)")
    except Exception as exc:  # one file's failure must not stop the others; counted and reported
        counts["failed"] += 1
        log.error("sync failed for %s -> %s: %s", local, remote, exc)
        return False
    counts["uploaded"] += 1
    counts["bytes_uploaded"] += size
    log.info("uploaded %s -> %s (%d bytes)", local, remote, size)
    return True


def _same(fs: Any, remote: str, info: dict[str, Any], size: int, md5: str) -> bool:
    if int(info.get("size") or 0) != size:
        return False
    return _remote_md5(fs, remote, info) == md5


def _remote_md5(fs: Any, remote: str, info: dict[str, Any]) -> str:
    """MD5 from the store's metadata when it has one (GCS md5Hash, single-part S3 ETag), else of the bytes."""
    if b64 := info.get("md5Hash"):
        return base64.b64decode(b64).hex()
    etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
    if len(etag) == 32 and all(c in "0123456789abcdef" for c in etag.lower()):
        return etag.lower()
    digest = hashlib.md5()
    with fs.open(remote, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _local_md5(path: Path) -> tuple[int, str]:
    digest = hashlib.md5()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _prune(day: Day) -> None:
    """Delete exactly the files that were verified (data files, then the manifest); the dir only if empty."""
    log.info("pruning %s: every file is verified in the destination", day.label)
    for file in day.data_files():
        file.unlink()
    (day.path / MANIFEST).unlink(missing_ok=True)
    try:
        day.path.rmdir()
    except OSError:
        log.warning("%s: kept the directory, it holds other files", day.label)
