"""One logging setup for all services: JSON lines when not a TTY, readable text on a TTY.

Level from ``SSMD_LOG``, else ``RUST_LOG`` (the deployment guide sets it), default ``info``.
``RUST_LOG`` may hold directives like ``ssmd=debug,info``; the first bare level (or ``ssmd=LEVEL``) wins.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import orjson

_LEVELS = {"trace": "DEBUG", "debug": "DEBUG", "info": "INFO", "warn": "WARNING", "warning": "WARNING",
           "error": "ERROR", "off": "CRITICAL", "critical": "CRITICAL"}
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def level_from_env(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    raw = env.get("SSMD_LOG") or env.get("RUST_LOG") or "info"
    for directive in raw.split(","):
        name, _, value = directive.strip().partition("=")
        candidate = (value if value else name).strip().lower()
        if (not value or name.strip() == "ssmd") and candidate in _LEVELS:
            return _LEVELS[candidate]
    return "INFO"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg`` and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    """``HH:MM:SS level logger: message key=value ...`` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
        )
        ts = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{ts} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        line = f"{line} {extras}" if extras else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(stream: TextIO | None = None, level: str | None = None, json: bool | None = None) -> None:
    """Configure the root logger once per process (idempotent: replaces earlier handlers)."""
    out = stream or sys.stderr
    use_json = (not out.isatty()) if json is None else json
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or level_from_env())
    for noisy in ("aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
