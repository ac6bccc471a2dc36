"""Object-store emulators as real processes on free ports (GCS: gcp-storage-emulator, S3: moto_server)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ssmd.bus.embedded import free_port
from ssmd.testing import wait_until_sync

BIN = Path(sys.executable).parent


@contextmanager
def emulator(kind: str, log_dir: Path) -> Iterator[str]:
    """Start ``gcs`` or ``s3`` and yield its http:// endpoint; stopped (by its own pid) afterwards."""
    port = free_port()
    if kind == "gcs":
        cmd = [str(BIN / "gcp-storage-emulator"), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"]
    else:
        cmd = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    log = (log_dir / f"{kind}-emulator.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_until_sync(listening, what=f"the emulator to listen on {port}", interval=0.1)
