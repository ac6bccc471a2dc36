"""``ssmd validate``: check config files one by one, then against each other.

Directories are walked; each YAML file's kind comes from its folder (``feeds/``, ``environments/``) or its
keys. A Kubernetes ConfigMap is opened and each embedded file checked, so manifests cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel

from ssmd.config.archiver import ArchiverConfig
from ssmd.config.environment import EnvironmentConfig
from ssmd.config.feed import FeedConfig
from ssmd.config.load import MODELS, ConfigError, Problem, build, detect_kind, parse_yaml

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class FileResult:
    """The verdict on one file (or one file inside a ConfigMap)."""

    source: str
    kind: str | None
    config: BaseModel | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
        else:
            yield path


def check_text(text: str, source: str, hint: Path | None) -> list[FileResult]:
    """Validate one YAML document (or the files inside a ConfigMap)."""
    try:
        data = parse_yaml(text, source)
    except ConfigError as exc:
        return [FileResult(source, None, errors=exc.problems)]
    if isinstance(data, dict) and data.get("kind") == "ConfigMap":
        return _check_configmap(data, source)
    kind = detect_kind(data, hint)
    if kind is None:
        return [FileResult(source, None)]
    result = FileResult(source, kind)
    try:
        result.config, result.warnings = build(MODELS[kind], data, source)
    except ConfigError as exc:
        result.errors = exc.problems
    return [result]


def _check_configmap(data: dict[str, Any], source: str) -> list[FileResult]:
    results: list[FileResult] = []
    for key, text in (data.get("data") or {}).items():
        if not str(key).endswith(YAML_SUFFIXES) or not isinstance(text, str):
            continue
        # The guide's keys carry a folder (feeds/kalshi.yaml); plain keys fall back to detection by content.
        results.extend(check_text(text, f"{source}[{key}]", Path(PurePosixPath(str(key)))))
    return results


def cross_check(results: list[FileResult]) -> None:
    """Checks across files: an environment's feed exists; an archiver filter lies under its environment."""
    feeds = {r.config.name for r in results if isinstance(r.config, FeedConfig)}
    envs = [r for r in results if isinstance(r.config, EnvironmentConfig)]
    for r in envs:
        assert isinstance(r.config, EnvironmentConfig)
        if feeds and r.config.feed not in feeds:
            known = ", ".join(sorted(feeds))
            r.errors.append(Problem("feed", f"feed {r.config.feed!r} is not defined (known feeds: {known})"))
        elif not feeds:
            r.errors.append(Problem("feed", f"feed {r.config.feed!r} is not defined: no feed file given"))
    for r in results:
        if not isinstance(r.config, ArchiverConfig):
            continue
        filt = r.config.nats.filter
        matching = [e for e in envs if isinstance(e.config, EnvironmentConfig) and _under(filt, e.config)]
        candidates = [e for e in envs if isinstance(e.config, EnvironmentConfig)
                      and e.config.stream_name == r.config.nats.stream]
        if candidates and not matching:
            env = candidates[0].config
            assert isinstance(env, EnvironmentConfig)
            r.errors.append(
                Problem("nats.filter", f"{filt!r} is not under environment {env.name!r}'s subjects "
                                       f"'{env.subject_prefix}.>': the archiver would receive nothing")
            )


def _under(filt: str, env: EnvironmentConfig) -> bool:
    prefix = env.subject_prefix.split(".")
    tokens = filt.split(".")
    for i, want in enumerate(prefix):
        if i >= len(tokens):
            return False
        if tokens[i] == ">":
            return True
        if tokens[i] not in (want, "*"):
            return False
    return True


def validate_paths(paths: Iterable[str | Path]) -> list[FileResult]:
    results: list[FileResult] = []
    for path in iter_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            results.append(FileResult(str(path), None, errors=[Problem("file", f"cannot read: {exc}")]))
            continue
        results.extend(check_text(text, str(path), path))
    cross_check([r for r in results if r.ok])
    return results
