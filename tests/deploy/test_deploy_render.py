"""The test renderer itself: it must fail loudly where real kustomize would do something else."""

from __future__ import annotations

from pathlib import Path

import pytest
from _k8s_render import RenderError, render


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1', b: '2'}\n"
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      containers:
        - {name: main, image: "img:1", args: ["--x"]}
        - {name: side, image: other}
"""


def test_patch_merges_maps_and_named_lists(tmp_path: Path) -> None:
    """A strategic-merge patch updates map keys and merges containers by name, leaving the rest untouched."""
    _write(tmp_path / "base", "kustomization.yaml", "resources: [cm.yaml, d.yaml]\n")
    _write(tmp_path / "base", "cm.yaml", CM)
    _write(tmp_path / "base", "d.yaml", DEPLOY)
    _write(tmp_path / "o", "kustomization.yaml", "resources: [../base]\npatches: [{path: p.yaml}, {path: q.yaml}]\n")
    _write(tmp_path / "o", "p.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {b: '3'}\n")
    _write(tmp_path / "o", "q.yaml", "kind: Deployment\nmetadata: {name: d}\n"
           "spec: {template: {spec: {containers: [{name: main, args: ['--y']}]}}}\n")
    cm, deploy = render(tmp_path / "o")
    assert cm["data"] == {"a": "1", "b": "3"}
    main, side = deploy["spec"]["template"]["spec"]["containers"]
    assert (main["args"], main["image"], side["name"]) == (["--y"], "img:1", "side")


def test_images_and_namespace_are_applied(tmp_path: Path) -> None:
    """`images` rewrites matching container images (name and tag) and `namespace` sets every namespaced object's."""
    _write(tmp_path, "kustomization.yaml",
           "namespace: n\nresources: [d.yaml]\nimages: [{name: img, newName: ghcr.io/o/img, newTag: '2'}]\n")
    _write(tmp_path, "d.yaml", DEPLOY)
    (deploy,) = render(tmp_path)
    images = [c["image"] for c in deploy["spec"]["template"]["spec"]["containers"]]
    assert images == ["ghcr.io/o/img:2", "other"]
    assert deploy["metadata"]["namespace"] == "n"


def test_patch_without_target_fails(tmp_path: Path) -> None:
    """A patch whose target does not exist is an error, not a no-op (a typo must not pass CI)."""
    _write(tmp_path, "kustomization.yaml", "resources: [cm.yaml]\npatches: [{path: p.yaml}]\n")
    _write(tmp_path, "cm.yaml", CM)
    _write(tmp_path, "p.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndata: {b: '3'}\n")
    with pytest.raises(RenderError, match="ConfigMap/typo"):
        render(tmp_path)


def test_unsupported_feature_fails(tmp_path: Path) -> None:
    """A kustomization feature the renderer does not implement (e.g. configMapGenerator) is refused."""
    _write(tmp_path, "kustomization.yaml", "resources: []\nconfigMapGenerator: [{name: x}]\n")
    with pytest.raises(RenderError, match="configMapGenerator"):
        render(tmp_path)
