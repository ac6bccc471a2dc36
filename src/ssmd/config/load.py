"""Reading config files: YAML errors with line and column, validation errors with field paths.

Every service calls one of the ``load_*`` functions at start-up; after that, code trusts the objects.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ssmd.config.archiver import ArchiverConfig
from ssmd.config.base import format_loc, unknown_keys
from ssmd.config.environment import EnvironmentConfig
from ssmd.config.feed import FeedConfig

log = logging.getLogger(__name__)

Kind = Literal["feed", "environment", "archiver"]
MODELS: dict[Kind, type[BaseModel]] = {
    "feed": FeedConfig,
    "environment": EnvironmentConfig,
    "archiver": ArchiverConfig,
}
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file: where (field path or line:col) and what was expected."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ConfigError(Exception):
    """A config file that cannot be used. ``str()`` names the file and every problem in it."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def read_yaml(path: Path) -> Any:
    """Parse ``path``; a syntax error becomes a :class:`ConfigError` that names line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [Problem("file", f"cannot read: {exc.strerror or exc}")]) from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "yaml"
        raise ConfigError(source, [Problem(where, f"YAML syntax error: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, [Problem("yaml", f"YAML error: {exc}")]) from None


def build(model: type[M], data: Any, source: str) -> tuple[M, list[str]]:
    """Validate ``data`` into ``model``; return it with the paths of unknown keys (for warnings)."""
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise ConfigError(source, [Problem("(top level)", f"expected a mapping of keys, got {got}")])
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(format_loc(err["loc"]), _message(err)) for err in exc.errors()]
        raise ConfigError(source, problems) from None
    return obj, list(unknown_keys(obj))


def _message(err: Any) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        return "required field is missing"
    return msg


def detect_kind(data: Any, path: Path | None = None) -> Kind | None:
    """Which kind of file this is: by its folder (``feeds/``, ``environments/``), else by its keys."""
    if path is not None:
        parent = path.parent.name
        if parent == "feeds":
            return "feed"
        if parent == "environments":
            return "environment"
    if not isinstance(data, dict):
        return None
    if "versions" in data:
        return "feed"
    if "transport" in data or ("feed" in data and "storage" in data and "nats" not in data):
        return "environment"
    if "nats" in data and ("rotation" in data or "storage" in data):
        return "archiver"
    return None



def apply_overrides(data: dict[str, Any], kind: Kind, environ: Mapping[str, str]) -> dict[str, Any]:
    """Operators' env overrides: ``NATS_URL`` for the NATS URL, ``SSMD_DATA_DIR`` for the storage path."""
    out = dict(data)
    nats_url = environ.get("NATS_URL")
    data_dir = environ.get("SSMD_DATA_DIR")
    section = {"environment": "transport", "archiver": "nats"}.get(kind)
    if nats_url and section and isinstance(out.get(section), dict):
        out[section] = {**out[section], "url": nats_url}
    if data_dir and kind in ("environment", "archiver") and isinstance(out.get("storage"), dict):
        out["storage"] = {**out["storage"], "path": data_dir}
    return out


def _load_with(model: type[M], kind: Kind, path: str | Path, environ: Mapping[str, str] | None) -> M:
    source = Path(path)
    data = read_yaml(source)
    if environ is not None and isinstance(data, dict):
        data = apply_overrides(data, kind, environ)
    obj, unknown = build(model, data, str(source))
    for key in unknown:
        log.warning("unknown config key ignored: %s in %s", key, source)
    return obj


def load_feed(path: str | Path) -> FeedConfig:
    return _load_with(FeedConfig, "feed", path, None)


def load_environment(path: str | Path, environ: Mapping[str, str] | None = None) -> EnvironmentConfig:
    """Load an environment file; pass ``os.environ`` to apply ``NATS_URL``/``SSMD_DATA_DIR``."""
    return _load_with(EnvironmentConfig, "environment", path, environ)


def load_archiver(path: str | Path, environ: Mapping[str, str] | None = None) -> ArchiverConfig:
    """Load an archiver file; pass ``os.environ`` to apply ``NATS_URL``/``SSMD_DATA_DIR``."""
    return _load_with(ArchiverConfig, "archiver", path, environ)
