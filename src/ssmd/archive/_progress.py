"""Progress for long operations: a redrawn bar on a terminal, a plain log line every few seconds otherwise.

Logs in a CronJob or CI must stay readable, so carriage-return bars are only drawn when stderr is a TTY.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger("ssmd.archive")


class Progress:
    def __init__(self, label: str, total: int | None = None, unit: str = "files", stream: TextIO | None = None,
                 every_s: float = 5.0) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = 0.2 if self.tty else every_s
        self.started = time.monotonic()
        self._last = self.started

    def advance(self, count: int = 1, note: str = "") -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self._show(note)

    def finish(self, summary: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
        log.info("%s: %s (%.1f s)", self.label, summary, time.monotonic() - self.started)

    def _show(self, note: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + self._bar(note))
            self.stream.flush()
        else:
            log.info("%s: %s", self.label, self._text(note))

    def _text(self, note: str) -> str:
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        of = f"/{self.total:,}" if self.total else ""
        return f"{self.done:,}{of} {self.unit} ({rate:,.0f}/s){' ' + note if note else ''}"

    def _bar(self, note: str) -> str:
        if not self.total:
            return f"{self.label} {self._text(note)}"
        filled = int(30 * min(self.done / self.total, 1.0))
        return f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self._text(note)}"
