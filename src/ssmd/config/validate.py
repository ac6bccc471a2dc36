"""``ssmd validate``: check config files one by one, then against each other.

Directories are walked; each YAML file's kind comes from its folder (``feeds/``, ``environments/``) or its
keys. Kubernetes manifests are understood too: a file may hold many documents (``kubectl kustomize`` output),
a ConfigMap's keys are checked against what the API server accepts, and each ssmd file embedded in a ConfigMap
is validated like a file on disk, so manifests cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel

from ssmd.config.archiver import ArchiverConfig
from ssmd.config.environment import EnvironmentConfig
from ssmd.config.feed import FeedConfig
from ssmd.config.load import (
    MODELS,
    ConfigError,
    Problem,
    build,
    detect_kind,
    parse_yaml_documents,
    shape_problem,
)

YAML_SUFFIXES = (".yaml", ".yml")
CONFIGMAP_KEY = re.compile(r"[-._a-zA-Z0-9]+")
"""What the Kubernetes API server accepts as a ConfigMap key (and at most 253 characters)."""


@dataclass
class FileResult:
    """The verdict on one file (or one document of it, or one file inside a ConfigMap)."""

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
    """Validate every document of one YAML file (or of one file inside a ConfigMap)."""
    try:
        documents = parse_yaml_documents(text, source)
    except ConfigError as exc:
        return [FileResult(source, None, errors=exc.problems)]
    present = [(index, doc) for index, doc in enumerate(documents, 1) if doc is not None]
    if not present:
        kind = detect_kind(None, hint)
        return [FileResult(source, kind, errors=[shape_problem(MODELS[kind] if kind else None, None)])]
    results: list[FileResult] = []
    for index, data in present:
        label = source
        if _is_k8s_object(data):
            label = f"{source} [{data['kind']} {_k8s_name(data)}]"
        elif len(present) > 1:
            label = f"{source} [document {index}]"
        results.extend(_check_document(data, source, label, hint))
    return results


def _check_document(data: Any, source: str, label: str, hint: Path | None) -> list[FileResult]:
    if _is_k8s_object(data):
        if data["kind"] == "ConfigMap":
            return _check_configmap(data, source, label)
        return [FileResult(label, None)]
    if _is_json_patch(data):
        return [FileResult(label, None)]  # a kustomize JSON6902 patch: list-shaped on purpose
    kind = detect_kind(data, hint)
    if not isinstance(data, dict):
        return [FileResult(label, kind, errors=[shape_problem(MODELS[kind] if kind else None, data)])]
    if kind is None:
        return [FileResult(label, None)]
    result = FileResult(label, kind)
    try:
        result.config, result.warnings = build(MODELS[kind], data, label)
    except ConfigError as exc:
        result.errors = exc.problems
    return [result]


def _check_configmap(data: dict[str, Any], source: str, label: str) -> list[FileResult]:
    name = _k8s_name(data)
    problems = [
        Problem(f'{section}["{key}"]', _bad_key_message(str(key)))
        for section in ("data", "binaryData")
        for key in (data.get(section) or {})
        if not CONFIGMAP_KEY.fullmatch(str(key)) or len(str(key)) > 253
    ]
    results = [FileResult(label, None, errors=problems)] if problems else []
    for key, text in (data.get("data") or {}).items():
        if not str(key).endswith(YAML_SUFFIXES) or not isinstance(text, str):
            continue
        # A key with a folder (feeds/kalshi.yaml) is refused above, but its folder still tells the file's kind;
        # flat keys fall back to detection by content.
        embedded = f"{source} [ConfigMap {name}, key {key}]"
        results.extend(check_text(text, embedded, Path(PurePosixPath(str(key)))))
    return results or [FileResult(label, None)]


def _bad_key_message(key: str) -> str:
    rule = f"{key!r} is not a valid ConfigMap key: the API server accepts only keys matching [-._a-zA-Z0-9]+"
    if len(key) > 253:
        return f"{rule}, at most 253 characters"
    if "/" in key:
        flat = PurePosixPath(key).name
        return f"{rule}; use a key like {flat} and mount it with items[].path: {key}"
    return f"{rule}; rename it (letters, digits, '-', '_' and '.')"


def _is_k8s_object(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("apiVersion"), str) and isinstance(data.get("kind"), str)


def _k8s_name(data: dict[str, Any]) -> str:
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return str(name) if name else "(no name)"


def _is_json_patch(data: Any) -> bool:
    return (isinstance(data, list) and bool(data)
            and all(isinstance(op, dict) and "op" in op and "path" in op for op in data))


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
