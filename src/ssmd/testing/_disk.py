"""A real disk that fills up, for every test of a full-disk path (no fake ``ENOSPC``: the kernel says it)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def tmpfs(mount: Path, size: str = "1m") -> Iterator[Path]:
    """Mount a real tmpfs of ``size`` at ``mount`` (needs root, which the test machines have)."""
    mount.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill_disk(path: Path) -> None:
    """Write ``path`` until the file system is full (ENOSPC), down to the last byte: a 64 KiB write that fails
    leaves up to 64 KiB free. (Files already open may still grow into their last partly used page.)"""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    size = 65536
    try:
        while size:
            try:
                os.write(fd, b"\0" * size)
            except OSError:
                size //= 2
    finally:
        os.close(fd)
