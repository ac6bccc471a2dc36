"""deploy/k8s/overlays/redundant: the prod overlay with two connector instances (issue #14) renders, validates, and
keeps each instance apart (own key, own name, other zone) while running exactly the base connector's pod."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from _k8s_render import Obj, containers, pod_spec, render

K8S_VERSION = "1.33"
K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
REDUNDANT = render(K8S / "overlays" / "redundant")
PROD = render(K8S / "overlays" / "prod")
BASE = render(K8S / "base")
PAIR = ("ssmd-connector-a", "ssmd-connector-b")


def _by(objects: list[Obj], kind: str, name: str) -> Obj:
    (match,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return match


def _connectors(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] == "Deployment"
            and any(c["name"] == "connector" for c in containers(o))]


def _env(obj: Obj) -> dict[str, Any]:
    (container,) = containers(obj)
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("obj", REDUNDANT, ids=[f"{o['kind']}/{o['metadata']['name']}" for o in REDUNDANT])
def test_redundant_object_is_schema_valid(obj: Obj) -> None:
    """Every object of the rendered overlay validates strictly against the Kubernetes schemas."""
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_two_connector_deployments_replace_the_single_one() -> None:
    """Exactly the pair, one replica each, Recreate; everything else is prod's, unchanged."""
    assert sorted(o["metadata"]["name"] for o in _connectors(REDUNDANT)) == list(PAIR)
    for name in PAIR:
        deploy = _by(REDUNDANT, "Deployment", name)
        assert deploy["spec"]["replicas"] == 1 and deploy["spec"]["strategy"] == {"type": "Recreate"}
    def rest(objects: list[Obj]) -> list[Obj]:
        return sorted((o for o in objects if o not in _connectors(objects) and o["metadata"]["name"] not in
                       ("ssmd-connector-nats", "ssmd-connectors")), key=lambda o: (o["kind"], o["metadata"]["name"]))
    assert rest(REDUNDANT) == rest(PROD)


def test_each_instance_has_its_own_secret_and_name() -> None:
    """Distinct Secrets (same keys as the single connector's) and distinct fixed SSMD_INSTANCE names."""
    secrets, names = set(), set()
    for name in PAIR:
        env = _env(_by(REDUNDANT, "Deployment", name))
        refs = {(v["secretKeyRef"]["name"], v["secretKeyRef"]["key"])
                for k, v in env.items() if k.startswith("KALSHI_")}
        assert {key for _, key in refs} == {"api-key", "private-key"}
        (secret,) = {s for s, _ in refs}
        secrets.add(secret)
        names.add(env["SSMD_INSTANCE"])
    assert len(secrets) == 2 and "ssmd-kalshi-credentials" not in secrets
    assert names == {"connector-a", "connector-b"}


def test_instances_never_share_a_zone() -> None:
    """Required pod anti-affinity on the zone, selecting a label both instances carry (and only they)."""
    for name in PAIR:
        deploy = _by(REDUNDANT, "Deployment", name)
        spec = pod_spec(deploy)
        assert spec is not None
        (term,) = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "topology.kubernetes.io/zone"
        selected = term["labelSelector"]["matchLabels"].items()
        assert selected <= deploy["spec"]["template"]["metadata"]["labels"].items()
    others = [o for o in REDUNDANT if o["kind"] == "Deployment" and o["metadata"]["name"] not in PAIR]
    assert not [o for o in others if selected <= o["spec"]["template"]["metadata"]["labels"].items()]


def test_each_instance_runs_the_base_connectors_pod() -> None:
    """Apart from credentials, instance name and affinity, each pod is prod's single connector's pod, image
    included (copied from it): the shared pod patch cannot drift from the guide's connector, nor the release."""
    single = copy.deepcopy(pod_spec(_by(PROD, "Deployment", "ssmd-connector-nats")))
    assert single is not None
    (container,) = single["containers"]
    for name in PAIR:
        spec = copy.deepcopy(pod_spec(_by(REDUNDANT, "Deployment", name)))
        assert spec is not None
        spec.pop("affinity")
        (mine,) = spec["containers"]
        assert mine["env"][0]["name"] == "SSMD_INSTANCE"
        mine["env"] = [e for e in mine["env"] if e["name"] != "SSMD_INSTANCE"]
        for env in mine["env"]:
            if "valueFrom" in env:
                env["valueFrom"]["secretKeyRef"]["name"] = "ssmd-kalshi-credentials"
        assert spec == single, name
    assert container["image"].startswith("ghcr.io/")


def test_network_policy_selects_both_and_allows_only_nats_dns_exchange_and_metrics() -> None:
    """One policy selects both instances (and no other pod): egress NATS 4222, DNS 53, HTTPS 443 outside the
    cluster; ingress the health/metrics port from the monitoring namespace only."""
    selecting = [o for o in REDUNDANT if o["kind"] == "NetworkPolicy"
                 and all(o["spec"]["podSelector"]["matchLabels"].items()
                         <= _by(REDUNDANT, "Deployment", n)["spec"]["template"]["metadata"]["labels"].items()
                         for n in PAIR)]
    (policy,) = selecting
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    egress = {(p["protocol"], p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert egress == {("TCP", 4222), ("TCP", 443), ("UDP", 53), ("TCP", 53)}
    https = next(r for r in policy["spec"]["egress"] if r["ports"] == [{"protocol": "TCP", "port": 443}])
    (block,) = https["to"]
    assert block["ipBlock"]["cidr"] == "0.0.0.0/0" and "10.0.0.0/8" in block["ipBlock"]["except"]
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 8080}]
    assert ingress["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    for name in PAIR:
        (container,) = containers(_by(REDUNDANT, "Deployment", name))
        assert {"containerPort": 8080, "name": "health"} in container["ports"]
    selected = policy["spec"]["podSelector"]["matchLabels"].items()
    assert not [o for o in REDUNDANT if o["kind"] == "Deployment" and o["metadata"]["name"] not in PAIR
                and selected <= o["spec"]["template"]["metadata"]["labels"].items()]


def test_a_drain_never_evicts_both_instances() -> None:
    """The PodDisruptionBudget keeps one of the two available through voluntary evictions."""
    pdb = _by(REDUNDANT, "PodDisruptionBudget", "ssmd-connectors")
    assert pdb["spec"]["minAvailable"] == 1
    for name in PAIR:
        labels = _by(REDUNDANT, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_base_and_prod_keep_the_guides_single_connector() -> None:
    """The guide's interface stays: one ssmd-connector-nats on the shared Secret in base and prod."""
    for objects in (BASE, PROD):
        (single,) = _connectors(objects)
        assert single["metadata"]["name"] == "ssmd-connector-nats"
        assert "SSMD_INSTANCE" not in _env(single)
