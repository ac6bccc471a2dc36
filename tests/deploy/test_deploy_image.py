"""Dockerfile, .dockerignore and the GitHub workflows, checked by parsing them (no container engine runs here)."""

from __future__ import annotations

import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"connector": "ssmd-connector", "archiver": "ssmd-archiver", "agent": "ssmd-agent"}
"""The guide's three service images: Dockerfile target -> image name (= its ENTRYPOINT console script)."""
IMAGES = {**TARGETS, "ssmd": "ssmd"}
"""Every image built and released: the services plus the `ssmd` CLI the stream Job and archive-sync CronJob run."""
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make|cc|rustc|cargo)\b")


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, keyword: str) -> list[str]:
        return [value for kw, value in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages with their instructions (continuation lines joined, comments dropped)."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    stages: list[Stage] = []
    args: dict[str, str] = {}
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, base))
        else:
            stages[-1].instructions.append((keyword, rest))
    return stages


def _chain(stages: list[Stage], stage: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, innermost last."""
    by_name = {s.name: s for s in stages}
    out = [stage]
    while out[-1].base in by_name:
        out.append(by_name[out[-1].base])
    return out


STAGES = parse_dockerfile((ROOT / "Dockerfile").read_text())
BY_NAME = {s.name: s for s in STAGES}


def test_parser_reads_stages_and_continuations() -> None:
    """The Dockerfile parser joins continuation lines and names stages, so the checks below see real content."""
    stages = parse_dockerfile("ARG V=3\nFROM python:${V}-slim AS a\nRUN x \\\n  && y\nFROM a AS b\nUSER 5\n")
    assert [(s.name, s.base) for s in stages] == [("a", "python:3-slim"), ("b", "a")]
    assert stages[0].values("RUN") == ["x  && y"]


def test_multi_stage_with_a_slim_python_311_base() -> None:
    """The build happens in its own stage; the runtime starts again from python:3.11-slim."""
    assert len(STAGES) >= 2
    assert BY_NAME["build"].base == BY_NAME["runtime"].base == "python:3.11-slim"
    assert any("--from=build" in v for v in BY_NAME["runtime"].values("COPY"))


@pytest.mark.parametrize("target", sorted(IMAGES))
def test_target_runs_its_service_as_non_root(target: str) -> None:
    """Each image target's ENTRYPOINT is its console script and the last USER in its chain is not root."""
    stage = BY_NAME[target]
    assert stage.values("ENTRYPOINT") == [f'["{IMAGES[target]}"]']
    users = [u for s in reversed(_chain(STAGES, stage)) for u in s.values("USER")]
    assert users, "no USER instruction"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_entrypoints_are_installed_console_scripts() -> None:
    """The entrypoints the image uses are the package's console scripts (pyproject [project.scripts])."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(IMAGES.values()) <= set(scripts)


def _default_stage_refusal() -> subprocess.CompletedProcess[str]:
    """Run the default (last) stage's RUN with /bin/sh, as `docker build .` would."""
    (run,) = STAGES[-1].values("RUN")
    return subprocess.run(["sh", "-c", run], capture_output=True, text=True, timeout=30, check=False)


def test_plain_build_fails_naming_the_target_to_use() -> None:
    """The guide's `docker build -t ssmd-connector:latest .` builds the default (last) stage: it must fail, saying
    which `--target` builds each image, never quietly tag another image (e.g. the CLI) as the connector."""
    default = STAGES[-1]
    assert default.name not in IMAGES
    assert not default.values("ENTRYPOINT") and not default.values("CMD") and not default.values("COPY")
    assert all(s.base != default.name for s in STAGES), "no image may be built FROM the refusing stage"
    result = _default_stage_refusal()
    assert result.returncode != 0
    for target, image in IMAGES.items():
        assert re.search(rf"docker build --target {target}\s+-t {image}:latest \.", result.stderr), result.stderr


def test_image_targets_do_not_depend_on_the_refusing_stage() -> None:
    """Each image's chain of stages stops at the runtime: a named --target never reaches the failing stage."""
    for target in IMAGES:
        assert STAGES[-1] not in _chain(STAGES, BY_NAME[target])
        assert STAGES.index(BY_NAME[target]) < len(STAGES) - 1


def test_runtime_has_the_guides_curl_and_netcat() -> None:
    """The guide runs `curl -s localhost:8080/health` and `nc -zv nats... 4222` in the pods: the runtime stage
    installs curl and a netcat, without recommends, and drops the apt lists in the same layer."""
    (install,) = [r for r in BY_NAME["runtime"].values("RUN") if "apt-get" in r]
    words = install.split()
    assert "curl" in words and any(w.startswith("netcat-") for w in words)
    assert "--no-install-recommends" in words
    assert "apt-get update" in install and "rm -rf /var/lib/apt/lists/*" in install
    assert install.index("apt-get update") < install.index("install") < install.index("rm -rf /var/lib/apt/lists/*")


@pytest.mark.parametrize("target", sorted(IMAGES))
def test_final_image_installs_no_compiler(target: str) -> None:
    """No stage of a final image's chain installs a compiler or build tool (the build stage is not in the chain)."""
    for stage in _chain(STAGES, BY_NAME[target]):
        assert stage.name != "build"
        for run in stage.values("RUN"):
            assert not COMPILERS.search(run), run


def test_healthcheck_is_a_python_one_liner_on_health() -> None:
    """HEALTHCHECK runs python (exec form, no shell needed) against /health on $PORT (8080 by default)."""
    (check,) = [h for s in STAGES for h in s.values("HEALTHCHECK")]
    cmd = check.split("CMD", 1)[1].strip()
    argv = yaml.safe_load(cmd)
    assert argv[:2] == ["python", "-c"]
    compile(argv[2], "<healthcheck>", "exec")
    assert "/health" in argv[2] and "PORT" in argv[2]
    assert "--timeout=" in check.split("CMD", 1)[0]


def test_dockerignore_keeps_the_context_small() -> None:
    """The build context is an allow-list: pyproject.toml, README.md (hatch needs it) and src/ only."""
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "**"
    assert {"!pyproject.toml", "!README.md", "!src/"} <= set(lines)
    copied = {w for s in STAGES for v in s.values("COPY") if "--from" not in v for w in v.split()[:-1]}
    assert copied <= {"pyproject.toml", "README.md", "src"}


def _workflow(name: str) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the bare key `on` as True
    return data


def test_ci_runs_the_readme_test_command_on_push() -> None:
    """CI runs `.ci/run` (= make test) on every push and pull request, and builds every image target."""
    ci = _workflow("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    jobs = ci["jobs"]
    assert isinstance(jobs, dict)
    runs = [step.get("run", "") for step in jobs["test"]["steps"]]
    assert "./.ci/run" in runs
    assert _matrix(jobs["image"]) == IMAGES
    build = next(s for s in jobs["image"]["steps"] if str(s.get("uses", "")).startswith("docker/build-push-action"))
    assert build["with"]["target"] == "${{ matrix.target }}" and build["with"]["tags"] == "${{ matrix.image }}:ci"
    assert (ROOT / ".ci" / "run").exists()


def _matrix(job: dict[str, Any]) -> dict[str, str]:
    """target -> image of a workflow job's matrix; every target must be a Dockerfile stage."""
    pairs = {row["target"]: row["image"] for row in job["strategy"]["matrix"]["include"]}
    assert set(pairs) <= set(BY_NAME)
    return pairs


def test_release_pushes_three_images_to_ghcr_on_v_tags() -> None:
    """A v* tag tests, then builds each Dockerfile target and pushes it as ghcr.io/<owner>/<image>."""
    rel = _workflow("release.yml")
    assert rel["on"] == {"push": {"tags": ["v*"]}}
    jobs = rel["jobs"]
    assert isinstance(jobs, dict)
    images = jobs["images"]
    assert images["needs"] == "test"
    assert images["permissions"]["packages"] == "write"
    assert _matrix(images) == IMAGES
    steps = {s.get("id") or s.get("name"): s for s in images["steps"]}
    assert "ghcr.io/" in steps["name"]["run"] and "/${{ matrix.image }}" in steps["name"]["run"]
    build = next(s for s in images["steps"] if str(s.get("uses", "")).startswith("docker/build-push-action"))
    assert build["with"]["push"] is True
    assert build["with"]["target"] == "${{ matrix.target }}"
    assert "type=semver,pattern={{version}}" in steps["meta"]["with"]["tags"]
