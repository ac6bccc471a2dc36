"""A small, strict kustomize renderer for the subset deploy/k8s uses.

Why not the real kustomize: it is a Go binary, not installable from PyPI, and CI must validate manifests offline.
Anything this renderer does not understand raises instead of being silently ignored, so it cannot pass a
kustomization that real kustomize would render differently.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

SUPPORTED_KEYS = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}


class RenderError(Exception):
    """The kustomization uses something this renderer does not support, or a patch has no target."""


def load_documents(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def render(directory: Path) -> list[Obj]:
    """Render ``directory/kustomization.yaml``: resources (files or bases), then patches, images, namespace."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(spec) - SUPPORTED_KEYS
    if unknown:
        raise RenderError(f"{directory}: unsupported kustomization keys {sorted(unknown)}")
    objects: list[Obj] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects.extend(render(path))
        elif path.is_file():
            objects.extend(load_documents(path))
        else:
            raise RenderError(f"{directory}: resource {entry} does not exist")
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise RenderError(f"{directory}: only `patches: - path: FILE` (strategic merge) is supported")
        for doc in load_documents(directory / patch["path"]):
            merge(find(objects, doc["kind"], doc["metadata"]["name"]), doc)
    for image in spec.get("images", []):
        set_image(objects, image)
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    return objects


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise RenderError(f"patch target {kind}/{name} not found")


def merge(target: Obj, patch: Obj) -> None:
    """Strategic merge as kustomize does it for our fields: maps merge, named lists merge by name, others replace."""
    for key, value in patch.items():
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merge(current, value)
        elif isinstance(current, list) and _named_list(value) and _named_list(current):
            by_name = {item["name"]: item for item in current}
            for item in value:
                if item["name"] in by_name:
                    merge(by_name[item["name"]], item)
                else:
                    current.append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and "name" in i for i in value)


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


def set_image(objects: list[Obj], image: Obj) -> None:
    for obj in objects:
        for container in containers(obj):
            name, _, _ = container["image"].partition(":")
            if name == image["name"]:
                new = image.get("newName", name)
                container["image"] = f"{new}:{image['newTag']}" if "newTag" in image else new
