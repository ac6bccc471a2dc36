"""deploy/k8s/nats/values.yaml: only keys the official NATS chart has, and the cluster ssmd needs.

The chart is not vendored (it is not ours to ship). CHART_KEYS lists the value paths this file may use, each checked
by hand against helm/charts/nats/values.yaml of nats-io/k8s at chart 2.14.2 (commit 957650f); a new key must be
checked the same way and added here, so a typo or an invented key fails instead of being silently ignored by Helm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

K8S_VERSION = "1.33"
VALUES = yaml.safe_load((Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "nats" / "values.yaml").read_text())

CHART_KEYS = {
    "config.cluster.enabled", "config.cluster.replicas",
    "config.jetstream.enabled", "config.jetstream.fileStore.enabled", "config.jetstream.fileStore.dir",
    "config.jetstream.fileStore.pvc.enabled", "config.jetstream.fileStore.pvc.size",
    "config.jetstream.fileStore.pvc.storageClassName",
    "config.monitor.enabled",
    "promExporter.enabled", "promExporter.podMonitor.enabled",
    "podDisruptionBudget.enabled",
}
FREE_FORM = {
    "config.jetstream.merge",  # merged into the server's jetstream {} block (nats-server config keys)
    "container.env",           # map of env var name -> value
    "container.resources",     # a Kubernetes ResourceRequirements
    "podTemplate.merge",       # merged into the StatefulSet's pod template
    "statefulSet.merge",       # merged into the StatefulSet
}
SELECTOR_LABELS = {  # the chart's nats.selectorLabels (templates/_helpers.tpl) for release `nats`
    "app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "nats", "app.kubernetes.io/component": "nats",
}


def _paths(tree: dict[str, Any], prefix: str = "") -> list[str]:
    """Every key path, stopping at free-form subtrees."""
    out = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in FREE_FORM:
            out.extend(_paths(value, path + "."))
        else:
            out.append(path)
    return out


def test_every_key_is_one_the_chart_has() -> None:
    """Each value path is in the documented list of chart keys (or is a free-form hook the chart merges)."""
    unknown = [p for p in _paths(VALUES) if p not in CHART_KEYS | FREE_FORM]
    assert not unknown, f"not checked against the chart's values.yaml: {unknown}"


def test_key_check_catches_an_invented_key() -> None:
    """A misspelt key is reported (Helm itself would ignore it silently)."""
    bad = {"config": {"jetstream": {"fileStore": {"pvcs": {"size": "1Gi"}}}}}
    assert _paths(bad) == ["config.jetstream.fileStore.pvcs.size"]
    assert "config.jetstream.fileStore.pvcs.size" not in CHART_KEYS | FREE_FORM


def test_three_servers_with_jetstream_on_volumes_and_fsync_always() -> None:
    """3 clustered servers, JetStream file storage on a PVC per server, and an fsync before every ack."""
    config = VALUES["config"]
    assert config["cluster"] == {"enabled": True, "replicas": 3}
    store = config["jetstream"]["fileStore"]
    assert config["jetstream"]["enabled"] and store["enabled"] and store["pvc"]["enabled"]
    assert store["pvc"]["size"].endswith("Gi")
    assert config["jetstream"]["merge"] == {"sync_interval": "always"}


def test_one_server_per_zone() -> None:
    """Required pod anti-affinity on topology.kubernetes.io/zone, selecting exactly the chart's nats pods."""
    terms = VALUES["podTemplate"]["merge"]["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == [{"topologyKey": "topology.kubernetes.io/zone",
                      "labelSelector": {"matchLabels": SELECTOR_LABELS}}]


def test_metrics_scraped_and_upgrades_one_pod_at_a_time() -> None:
    """The exporter sidecar with its PodMonitor is on; the StatefulSet restarts pods only when an operator deletes
    them (OnDelete); the disruption budget stays on."""
    assert VALUES["promExporter"] == {"enabled": True, "podMonitor": {"enabled": True}}
    assert VALUES["statefulSet"]["merge"]["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert VALUES["podDisruptionBudget"]["enabled"] is True


def test_kubernetes_fragments_are_schema_valid() -> None:
    """The free-form Kubernetes fragments, placed where the chart merges them, validate strictly."""
    container = {"name": "nats", "image": "nats:2.14.2-alpine", "resources": VALUES["container"]["resources"],
                 "env": [{"name": k, "value": str(v)} for k, v in VALUES["container"]["env"].items()]}
    pod_spec = {"containers": [container], **VALUES["podTemplate"]["merge"]["spec"]}
    statefulset = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "nats", "namespace": "nats"},
        "spec": {"selector": {"matchLabels": SELECTOR_LABELS}, "serviceName": "nats-headless",
                 "template": {"metadata": {"labels": SELECTOR_LABELS}, "spec": pod_spec},
                 **VALUES["statefulSet"]["merge"]["spec"]},
    }
    kubernetes_validate.validate(statefulset, K8S_VERSION, strict=True)
