"""deploy/k8s/monitoring: the Grafana dashboard and the alert rules use metrics that exist, and the kustomization
renders objects that validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from _k8s_render import Obj, render
from _metrics import referenced_metrics, ssmd_metric_names, unknown_metrics

K8S_VERSION = "1.33"
MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "monitoring"
DASHBOARD: dict[str, Any] = json.loads((MONITORING / "grafana-dashboard-ssmd.json").read_text())
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
RULES = yaml.safe_load((MONITORING / "prometheusrule-ssmd.yaml").read_text())
KUBE_STATE_METRICS = frozenset({"kube_deployment_status_replicas_available"})


def _exprs(panels: list[dict[str, Any]]) -> list[str]:
    return [t["expr"] for p in panels for t in p["targets"]]


def _rule_exprs() -> list[str]:
    return [r["expr"] for g in RULES["spec"]["groups"] for r in g["rules"]]


def test_every_dashboard_metric_exists() -> None:
    """Each ssmd_* series a panel queries is registered by a service; each nats_* one is the NATS exporter's."""
    missing = {name for expr in _exprs(PANELS) for name in unknown_metrics(expr)}
    assert not missing, f"the dashboard queries metrics nobody exports: {sorted(missing)}"


def test_metric_check_rejects_an_unknown_name() -> None:
    """The check above can fail: a misspelt metric is reported, a real one is not."""
    assert unknown_metrics("rate(ssmd_connector_frames_recieved_total[5m])") == {"ssmd_connector_frames_recieved_total"}
    assert unknown_metrics("rate(ssmd_connector_frames_received_total[5m]) + nats_stream_last_seq") == set()
    assert "ssmd_archiver_consumer_lag" in ssmd_metric_names()


def test_dashboard_shows_what_operators_need() -> None:
    """Frames in and acked per instance, consumer lag, gaps and seconds uncovered, stream and replica state."""
    used = {name for expr in _exprs(PANELS) for name in referenced_metrics(expr)}
    assert {"ssmd_connector_frames_received_total", "ssmd_connector_frames_published_total",
            "ssmd_archiver_messages_total", "ssmd_archiver_consumer_lag", "ssmd_agent_lag_messages",
            "nats_consumer_num_pending", "ssmd_connector_seq_gaps_total", "ssmd_archiver_gaps_total",
            "ssmd_archiver_missing_messages_total", "ssmd_connector_connected", "nats_stream_total_messages",
            "nats_stream_last_seq", "nats_server_max_storage"} <= used
    per_instance = [e for e in _exprs(PANELS) if "frames_received_total" in e or "frames_published_total" in e]
    assert per_instance and all("by (instance)" in e or "by (pod" in e for e in per_instance)
    titles = " ".join(p["title"].lower() for p in PANELS)
    assert "seconds uncovered" in titles and "replica" in titles and "lag" in titles


def test_dashboard_shows_coverage_and_each_connector_instance() -> None:
    """Redundancy: a panel for the ledger's seconds with no instance subscribed (per feed and channel), and panels
    per connector pod (the label Prometheus adds; it names the Deployment, ssmd-connector-a-... / -b-...)."""
    uncovered = [p for p in PANELS if any("ssmd_coverage_uncovered_seconds_total" in e for e in _exprs([p]))]
    assert uncovered, "no panel shows ssmd_coverage_uncovered_seconds_total"
    assert any("no instance subscribed" in p["title"].lower() for p in uncovered)
    assert all("by (feed, channel)" in e for e in _exprs(uncovered))
    per_pod = {name for e in _exprs(PANELS) if "by (pod" in e for name in referenced_metrics(e)}
    assert {"ssmd_connector_connected", "ssmd_connector_frames_received_total",
            "ssmd_connector_reconnects_total"} <= per_pod


def test_dashboard_is_well_formed() -> None:
    """Unique panel ids, every panel on the ${datasource} variable with lettered targets, inside the 24-column grid."""
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus" and "stream" in variables
    for panel in PANELS:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert [t["refId"] for t in panel["targets"]] == [chr(65 + i) for i in range(len(panel["targets"]))]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["w"] > 0 and grid["h"] > 0


def test_every_alert_metric_exists() -> None:
    """The alert rules use only metrics the services, the NATS exporter or kube-state-metrics export, and alert on
    NATS quorum loss."""
    missing = {name for expr in _rule_exprs() for name in unknown_metrics(expr, KUBE_STATE_METRICS)}
    assert not missing, f"alerts on metrics nobody exports: {sorted(missing)}"
    alerts = {r["alert"]: r for g in RULES["spec"]["groups"] for r in g["rules"]}
    assert 'is_stream_leader="true"' in alerts["NatsStreamQuorumLost"]["expr"]
    assert alerts["NatsStreamQuorumLost"]["labels"]["severity"] == "page"


def test_alert_on_seconds_with_no_instance_subscribed() -> None:
    """A page when the coverage ledger counts uncovered seconds (a gap in the merged data), and a ticket when one of
    the redundant pair has been down for a while."""
    alerts = {r["alert"]: r for g in RULES["spec"]["groups"] for r in g["rules"]}
    rule = alerts["SsmdNoInstanceSubscribed"]
    assert rule["expr"] == "sum by (feed, channel) (increase(ssmd_coverage_uncovered_seconds_total[5m])) > 0"
    assert rule["labels"]["severity"] == "page"
    assert 'pod=~"ssmd-connector-[ab]-.+"' in alerts["SsmdRedundancyLost"]["expr"]


def test_alerts_in_the_docs_are_the_shipped_rules() -> None:
    """docs/deployment.md names every shipped alert (one home: the rules file; the doc explains them)."""
    doc = (MONITORING.parents[2] / "docs" / "deployment.md").read_text()
    for group in RULES["spec"]["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] in doc, rule["alert"]


# The fields deploy/k8s/monitoring uses, from the Prometheus Operator's v1 API reference
# (https://prometheus-operator.dev/docs/api-reference/api/): PodMonitorSpec, PodMetricsEndpoint, PrometheusRuleSpec,
# RuleGroup, Rule. kubernetes-validate has no schemas for these CRDs; unknown fields are rejected like strict mode.
_META = {"type": "object", "required": ["name", "namespace"]}
_OPERATOR_SCHEMAS: dict[str, dict[str, Any]] = {
    "PodMonitor": {
        "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "PodMonitor"}, "metadata": _META,
            "spec": {"type": "object", "additionalProperties": False, "required": ["selector", "podMetricsEndpoints"],
                     "properties": {
                         "selector": {"type": "object", "properties": {"matchLabels": {"type": "object"}},
                                      "additionalProperties": False},
                         "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": {
                             "type": "object", "additionalProperties": False,
                             "properties": {"port": {"type": "string"}, "path": {"type": "string"},
                                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"}}}}}},
        },
    },
    "PrometheusRule": {
        "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "PrometheusRule"},
            "metadata": _META,
            "spec": {"type": "object", "additionalProperties": False, "required": ["groups"], "properties": {
                "groups": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False, "required": ["name", "rules"],
                    "properties": {"name": {"type": "string"}, "rules": {"type": "array", "items": {
                        "type": "object", "additionalProperties": False, "required": ["alert", "expr"],
                        "properties": {"alert": {"type": "string"}, "expr": {"type": "string"},
                                       "for": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                                       "labels": {"type": "object"}, "annotations": {"type": "object"}}}}}}}}},
        },
    },
}

RENDERED = render(MONITORING)


@pytest.mark.parametrize("obj", RENDERED, ids=[f"{o['kind']}/{o['metadata']['name']}" for o in RENDERED])
def test_monitoring_object_validates(obj: Obj) -> None:
    """Core objects validate strictly against the Kubernetes schemas; the operator's against its API fields."""
    if obj["kind"] in _OPERATOR_SCHEMAS:
        jsonschema.validate(obj, _OPERATOR_SCHEMAS[obj["kind"]])
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_operator_schema_rejects_an_unknown_field() -> None:
    """The operator-object check is strict: a misspelt field fails."""
    bad = next(o for o in RENDERED if o["kind"] == "PodMonitor")
    bad = {**bad, "spec": {**bad["spec"], "podMetricEndpoints": []}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, _OPERATOR_SCHEMAS["PodMonitor"])


def test_dashboard_configmap_carries_the_dashboard_for_grafanas_sidecar() -> None:
    """The generated ConfigMap holds the dashboard file unchanged, with the label Grafana's sidecar watches, and
    the PodMonitor scrapes the port every ssmd Deployment names `health`."""
    (cm,) = [o for o in RENDERED if o["kind"] == "ConfigMap"]
    assert json.loads(cm["data"]["ssmd.json"]) == DASHBOARD
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    (monitor,) = [o for o in RENDERED if o["kind"] == "PodMonitor"]
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "health"
