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
from ssmd.config.messages import describe, describe_value, relevant, yaml_keys
from ssmd.errors import InputError

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


class ConfigError(InputError):
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
    """One YAML document; a stream of several is an error saying so (services read one file per config)."""
    documents = parse_yaml_documents(text, source)
    if len(documents) > 1:
        raise ConfigError(source, [Problem("(top level)", f"expected one YAML document, found {len(documents)} "
                                                          "(separated by ---)")])
    return documents[0] if documents else None


def parse_yaml_documents(text: str, source: str) -> list[Any]:
    """Every document of a YAML stream (``kubectl kustomize`` output); syntax errors name line and column."""
    try:
        return list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "yaml"
        raise ConfigError(source, [Problem(where, f"YAML syntax error: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, [Problem("yaml", f"YAML error: {exc}")]) from None


def build(model: type[M], data: Any, source: str) -> tuple[M, list[str]]:
    """Validate ``data`` into ``model``; return it with the paths of unknown keys (for warnings)."""
    if not isinstance(data, dict):
        raise ConfigError(source, [shape_problem(model, data)])
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(format_loc(err["loc"]), describe(err, model)) for err in relevant(exc.errors())]
        raise ConfigError(source, problems) from None
    return obj, list(unknown_keys(obj))


def shape_problem(model: type[BaseModel] | None, data: Any) -> Problem:
    """The whole file is not a mapping: empty, a list, a bare string."""
    want = f"a mapping with keys {', '.join(yaml_keys(model))}" if model is not None else "a mapping of keys"
    if data is None:
        return Problem("(top level)", f"the file is empty: expected {want}")
    return Problem("(top level)", f"expected {want}; got {describe_value(data)}")


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



OVERRIDES = {"NATS_URL": {"environment": "transport.url", "archiver": "nats.url"},
             "SSMD_DATA_DIR": {"environment": "storage.path", "archiver": "storage.path"}}
"""Operators' environment overrides, and the key each replaces in each kind of file."""


def apply_overrides(
    data: dict[str, Any], kind: Kind, environ: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Apply ``NATS_URL``/``SSMD_DATA_DIR``; return the data and which key paths came from which variable."""
    out = dict(data)
    applied: dict[str, str] = {}
    for variable, targets in OVERRIDES.items():
        value = environ.get(variable)
        path = targets.get(kind)
        if not value or path is None:
            continue
        section, key = path.split(".")
        if isinstance(out.get(section), dict):
            out[section] = {**out[section], key: value}
            applied[path] = variable
    return out, applied


def _load_with(model: type[M], kind: Kind, path: str | Path, environ: Mapping[str, str] | None) -> M:
    source = Path(path)
    data = read_yaml(source)
    applied: dict[str, str] = {}
    if environ is not None and isinstance(data, dict):
        data, applied = apply_overrides(data, kind, environ)
    try:
        obj, unknown = build(model, data, str(source))
    except ConfigError as exc:
        if not applied:
            raise
        # The value came from the environment, not the file: say so, or the operator edits the wrong thing.
        problems = [Problem(f"{p.where} (set by {applied[p.where]})", p.message) if p.where in applied else p
                    for p in exc.problems]
        raise ConfigError(exc.source, problems) from None
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
