"""One logging setup for all services: JSON lines when not a TTY, readable text on a TTY.

Levels come from ``SSMD_LOG``, else ``RUST_LOG`` (the deployment guide sets it), default ``info``. Both speak
the Rust ``tracing`` EnvFilter syntax operators already use: comma-separated directives, each a bare level
(the default for everything) or ``target=level``. Rust crate targets map onto our loggers (``ssmd_connector``
-> ``ssmd.connector`` and ``ssmd.kalshi``, ``async_nats`` -> ``nats``, see :data:`RUST_TARGETS`); a target
with a dot is a Python logger name, used as is. Anything we cannot map is reported in one warning line, never
dropped silently.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson

OFF = logging.CRITICAL + 10
_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL, "off": OFF}
RUST_TARGETS: dict[str, tuple[str, ...]] = {
    "ssmd": ("ssmd",),
    "ssmd_connector": ("ssmd.connector", "ssmd.kalshi"),
    "ssmd_connector_lib": ("ssmd.connector", "ssmd.kalshi"),
    "ssmd_archiver": ("ssmd.archiver",),
    "ssmd_agent": ("ssmd.agent",),
    "ssmd_middleware": ("ssmd.bus",),
    "ssmd_metadata": ("ssmd.config",),
    "async_nats": ("nats",),
    "tokio_tungstenite": ("aiohttp.client", "aiohttp.websocket"),
    "tungstenite": ("aiohttp.client", "aiohttp.websocket"),
    "reqwest": ("aiohttp.client",),
    "hyper": ("aiohttp.client", "aiohttp.server"),
    "axum": ("aiohttp.server", "aiohttp.web", "aiohttp.access"),
    "tower_http": ("aiohttp.server", "aiohttp.web", "aiohttp.access"),
}
"""Rust crates of the original ssmd (and the libraries they used) -> the Python loggers doing the same job."""
PYTHON_ROOTS = ("ssmd", "nats", "aiohttp", "asyncio")
"""Top-level Python loggers a target may name directly (``nats=warn``); deeper names contain a dot."""
QUIET_BY_DEFAULT = {"aiohttp.access": logging.WARNING, "asyncio": logging.WARNING}

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_configured: set[str] = set()
"""Loggers whose level an earlier :func:`setup_logging` set, reset on the next call."""


@dataclass
class LogLevels:
    """A parsed ``SSMD_LOG``/``RUST_LOG``: the default level, per-logger levels, and what was not understood."""

    default: int = logging.INFO
    targets: dict[str, int] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    variable: str = "RUST_LOG"


def levels_from_env(environ: Mapping[str, str] | None = None) -> LogLevels:
    """``SSMD_LOG`` if set and not blank (it wins, as it always has), else ``RUST_LOG``, else ``info``."""
    env = os.environ if environ is None else environ
    for variable in ("SSMD_LOG", "RUST_LOG"):
        raw = env.get(variable, "").strip()
        if raw:
            return parse_levels(raw, variable)
    return LogLevels()


def parse_levels(raw: str, variable: str = "RUST_LOG") -> LogLevels:
    """Parse EnvFilter-style directives (``info,ssmd_connector=debug,async_nats=warn``); later ones win."""
    out = LogLevels(variable=variable)
    for directive in (d.strip() for d in raw.split(",")):
        if not directive:
            continue
        target, sep, level_text = (part.strip() for part in directive.partition("="))
        if not sep and target.lower() in _LEVELS:
            out.default = _LEVELS[target.lower()]
            continue
        # `target` alone is tracing's "every level for this target".
        level = _LEVELS.get(level_text.lower()) if sep else logging.DEBUG
        loggers = _loggers_for(target)
        if level is None or not loggers:
            out.ignored.append(directive)
            continue
        for name in loggers:
            out.targets[name] = level
    return out


def _loggers_for(target: str) -> tuple[str, ...]:
    """Python loggers for one target: a Rust crate (``a::b`` paths apply to the whole crate) or a logger name."""
    if "[" in target or "{" in target or "/" in target:
        return ()  # span filters and regexes have no Python equivalent
    crate = target.split("::", 1)[0].lower()
    if crate in RUST_TARGETS:
        return RUST_TARGETS[crate]
    if "." in target or target in PYTHON_ROOTS:
        return (target,)
    return ()


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


def setup_logging(stream: TextIO | None = None, level: str | None = None, json: bool | None = None,
                  environ: Mapping[str, str] | None = None) -> None:
    """Configure logging once per process (idempotent: replaces earlier handlers and per-logger levels).

    ``level`` overrides the environment's default level; per-target levels from the environment still apply.
    """
    out = stream or sys.stderr
    use_json = (not out.isatty()) if json is None else json
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    levels = levels_from_env(environ)
    root.setLevel(level or levels.default)
    for name in _configured:
        logging.getLogger(name).setLevel(logging.NOTSET)
    wanted = {**QUIET_BY_DEFAULT, **levels.targets}
    for name, value in wanted.items():
        logging.getLogger(name).setLevel(value)
    _configured.clear()
    _configured.update(wanted)
    if levels.ignored:
        _warn_ignored(handler, levels)


def _warn_ignored(handler: logging.Handler, levels: LogLevels) -> None:
    """One line about what the operator's setting asked for and did not get; shown whatever the level."""
    logger = logging.getLogger(__name__)
    known = ", ".join(sorted(RUST_TARGETS))
    record = logger.makeRecord(
        logger.name, logging.WARNING, __file__, 0,
        "%s: ignored %s (unknown target or level; targets are %s or Python logger names like ssmd.connector; "
        "levels are trace, debug, info, warn, error, off)",
        (levels.variable, ", ".join(repr(d) for d in levels.ignored), known), None,
    )
    handler.handle(record)
