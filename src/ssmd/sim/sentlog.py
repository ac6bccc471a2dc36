"""A simulator's ``--sent-log``: every frame it sent, byte for byte, one per line (the capture tests' oracle).

Generic (any feed's simulator): frames are written in the order they were handed to the sockets' transports
and flushed per batch, so a test that reads the log after a fault sees every frame the process sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO


class SentLog:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        if self.path is not None and self._file is None:
            # open for the server's lifetime; appends are small page-cache writes
            self._file = Path(self.path).open("ab")  # noqa: SIM115

    def write(self, frames: list[bytes]) -> None:
        if self._file is not None and frames:
            self._file.write(b"\n".join(frames))
            self._file.write(b"\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
