"""deploy/k8s: schema-valid, faithful to the deployment guide, hardened, and wired to configs that load."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import click
import kubernetes_validate
import pytest
import yaml
from _k8s_render import Obj, containers, load_documents, pod_spec, render
from click.testing import CliRunner
from test_deploy_image import IMAGES

from ssmd.config import load_archiver, load_environment, load_feed

K8S_VERSION = "1.33"  # a recent release most managed clusters run; the schemas ship with kubernetes-validate
K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def _objects(folder: str) -> list[Obj]:
    return render(K8S / folder)


def _by(objects: list[Obj], kind: str, name: str) -> Obj:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected exactly one {kind}/{name}, found {len(matches)}"
    return matches[0]


def _ids(objects: list[Obj]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objects]


BASE = _objects("base")
PROD = _objects("overlays/prod")
SECRETS = [doc for p in sorted((K8S / "secrets").glob("*.yaml")) for doc in load_documents(p)]


@pytest.mark.parametrize("obj", BASE, ids=_ids(BASE))
def test_base_object_is_schema_valid(obj: Obj) -> None:
    """Every object of the base validates (strictly: no unknown fields) against the Kubernetes schemas."""
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.parametrize("obj", PROD, ids=_ids(PROD))
def test_prod_object_is_schema_valid(obj: Obj) -> None:
    """Every object of the rendered prod overlay validates strictly against the Kubernetes schemas."""
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_schema_validation_catches_a_bad_field() -> None:
    """The validator used above rejects a misspelt field, so the tests above can fail."""
    bad = yaml.safe_load((K8S / "base" / "pvc-data.yaml").read_text())
    bad["spec"]["accesModes"] = bad["spec"].pop("accessModes")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_secret_template_is_schema_valid_and_holds_no_real_key() -> None:
    """The Secret template validates and carries placeholders only (no loadable private key)."""
    from ssmd.kalshi.auth import load_private_key

    secret = next(d for d in SECRETS if d["kind"] == "Secret")
    kubernetes_validate.validate(secret, K8S_VERSION, strict=True)
    assert "REPLACE" in secret["stringData"]["api-key"]
    with pytest.raises(Exception):  # noqa: B017 - any failure to parse proves it is not a key
        load_private_key(secret["stringData"]["private-key"])


def test_secret_and_sealed_secret_provide_what_the_connector_reads() -> None:
    """The template and the Sealed Secret example define the secret name and keys the connector's env refers to."""
    wanted = {
        (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for c in containers(_by(PROD, "Deployment", "ssmd-connector-nats"))
        for e in c["env"] if "valueFrom" in e
    }
    secret = next(d for d in SECRETS if d["kind"] == "Secret")
    sealed = next(d for d in SECRETS if d["kind"] == "SealedSecret")
    assert sealed["apiVersion"] == "bitnami.com/v1alpha1"
    assert sealed["spec"]["template"]["metadata"]["name"] == sealed["metadata"]["name"]
    for doc, keys in ((secret, secret["stringData"]), (sealed, sealed["spec"]["encryptedData"])):
        assert {(doc["metadata"]["name"], k) for k in keys} == wanted


def test_secrets_are_not_applied_by_kustomize() -> None:
    """`kubectl apply -k` never ships or overwrites credentials: no Secret is part of the rendered output."""
    assert not [o for o in PROD if o["kind"] in ("Secret", "SealedSecret")]


def test_every_base_manifest_is_listed_in_the_kustomization() -> None:
    """No manifest in base/ is forgotten by kustomization.yaml (it would silently never be applied)."""
    listed = set(yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in (K8S / "base").glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk == listed


def test_issue_objects_are_all_present() -> None:
    """Namespace, ConfigMaps, three Deployments, PVC, agent Service, NetworkPolicies, Job and CronJob all render."""
    kinds = {(o["kind"], o["metadata"]["name"]) for o in PROD}
    assert {
        ("Namespace", "ssmd"),
        ("ConfigMap", "ssmd-nats-config"),
        ("ConfigMap", "ssmd-archiver-config"),
        ("Deployment", "ssmd-connector-nats"),
        ("Deployment", "ssmd-archiver"),
        ("Deployment", "ssmd-agent"),
        ("PersistentVolumeClaim", "ssmd-data"),
        ("Service", "ssmd-agent"),
        ("Job", "ssmd-stream-ensure"),
        ("CronJob", "ssmd-archive-sync"),
    } <= kinds
    assert all(o["metadata"].get("namespace") == "ssmd" for o in PROD if o["kind"] != "Namespace")


# The guide's values (DEPLOYMENT.md), per Deployment: container, args it must pass, env names, resources.
GUIDE: dict[str, dict[str, Any]] = {
    "ssmd-connector-nats": {
        "image": "ssmd-connector",
        "args": ["--feed", "/config/feeds/kalshi.yaml", "--env", "/config/environments/prod-nats.yaml"],
        "env": {"KALSHI_API_KEY", "KALSHI_PRIVATE_KEY", "RUST_LOG"},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
    },
    "ssmd-archiver": {
        "image": "ssmd-archiver",
        "args": ["--config", "/config/archiver.yaml"],
        "env": {"RUST_LOG"},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}},
    },
    "ssmd-agent": {
        "image": "ssmd-agent",
        "args": [],
        "env": {"PORT", "NATS_URL", "NATS_SUBJECTS"},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}},
    },
}


@pytest.mark.parametrize("name", sorted(GUIDE))
def test_deployment_matches_the_guide(name: str) -> None:
    """Each Deployment passes the guide's args (in order), sets its env vars and its exact requests/limits."""
    want = GUIDE[name]
    (container,) = containers(_by(PROD, "Deployment", name))
    args = container.get("args", [])
    assert args[: len(want["args"])] == want["args"]
    assert want["env"] <= {e["name"] for e in container["env"]}
    assert container["resources"] == want["resources"]
    assert container["image"].startswith(f"ghcr.io/your-org/{want['image']}:")


@pytest.mark.parametrize("name", sorted(GUIDE))
def test_probes_are_health_and_ready_on_the_health_port(name: str) -> None:
    """Liveness probes /health, readiness probes /ready, both on the container's named `health` port (8080)."""
    (container,) = containers(_by(PROD, "Deployment", name))
    assert {"name": "health", "containerPort": 8080} in container["ports"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "health"}


def _workloads(objects: list[Obj] | None = None) -> list[Obj]:
    return [o for o in (PROD if objects is None else objects) if pod_spec(o) is not None]


@pytest.mark.parametrize("obj", _workloads(), ids=_ids(_workloads()))
def test_workload_is_locked_down(obj: Obj) -> None:
    """Every pod runs non-root with seccomp, read-only root filesystem, no privilege escalation, no capabilities."""
    spec = pod_spec(obj)
    assert spec is not None
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in containers(obj):
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert "limits" in container["resources"]


@pytest.mark.parametrize("obj", _workloads(), ids=_ids(_workloads()))
def test_every_volume_and_claim_exists(obj: Obj) -> None:
    """Every mount names a pod volume, and every ConfigMap/PVC a volume names is rendered too."""
    spec = pod_spec(obj)
    assert spec is not None
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for container in containers(obj):
        for mount in container.get("volumeMounts", []):
            assert mount["name"] in volumes
    for volume in volumes.values():
        if "configMap" in volume:
            cm = _by(PROD, "ConfigMap", volume["configMap"]["name"])
            for item in volume["configMap"].get("items", []):
                assert item["key"] in cm["data"]
        if "persistentVolumeClaim" in volume:
            _by(PROD, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])


def _mount_configs(obj: Obj, root: Path) -> dict[str, Path]:
    """Materialise the pod's ConfigMap volumes under ``root`` as the kubelet would; map mountPath -> folder."""
    spec = pod_spec(obj)
    assert spec is not None
    volumes = {v["name"]: v for v in spec.get("volumes", []) if "configMap" in v}
    out: dict[str, Path] = {}
    for container in containers(obj):
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                continue
            source = volumes[mount["name"]]["configMap"]
            data = _by(PROD, "ConfigMap", source["name"])["data"]
            items = source.get("items") or [{"key": k, "path": k} for k in data]
            folder = root / mount["name"]
            for item in items:
                target = folder / PurePosixPath(item["path"])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(data[item["key"]])
            out[mount["mountPath"]] = folder
    return out


def _local(path: str, mounts: dict[str, Path]) -> Path:
    for mount_path, folder in mounts.items():
        if path.startswith(mount_path + "/"):
            return folder / path[len(mount_path) + 1:]
    raise AssertionError(f"{path} is not under any mounted ConfigMap ({sorted(mounts)})")


def _flag(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_connector_config_files_load_where_its_args_point(tmp_path: Path) -> None:
    """--feed and --env point at files the mounted ConfigMap really contains, and both load with ssmd's loaders."""
    deploy = _by(PROD, "Deployment", "ssmd-connector-nats")
    mounts = _mount_configs(deploy, tmp_path)
    (container,) = containers(deploy)
    feed = load_feed(_local(_flag(container["args"], "--feed"), mounts))
    env = load_environment(_local(_flag(container["args"], "--env"), mounts))
    assert (feed.name, env.feed, env.subject_prefix, env.stream_name) == ("kalshi", "kalshi", "prod.kalshi",
                                                                         "PROD_KALSHI")


def test_shipped_feed_dials_kalshis_current_production_host(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The shipped feed file names Kalshi's current production host (not the guide's legacy trading-api host), so
    the connector dials it without the legacy-host warning; the legacy host appears only in a comment."""
    from ssmd.connector.endpoint import resolve_ws_url
    from ssmd.feed import get_feed
    from ssmd.kalshi.feed import LEGACY_HOSTS, PROD_WS_URL

    for objects in (BASE, PROD):
        text = _by(objects, "ConfigMap", "ssmd-nats-config")["data"]["kalshi.yaml"]
        (tmp_path / "kalshi.yaml").write_text(text)
        with caplog.at_level("WARNING"):
            assert resolve_ws_url(get_feed("kalshi"), load_feed(tmp_path / "kalshi.yaml"), {}) == PROD_WS_URL
        assert "legacy" not in caplog.text
        for line in text.splitlines():
            if any(host in line for host in LEGACY_HOSTS):
                assert line.strip().startswith("#"), line


def test_archiver_config_loads_and_reads_what_the_connector_writes(tmp_path: Path) -> None:
    """The archiver's mounted file loads, drains the connector's stream, and stores on the PVC mount."""
    archiver = _by(PROD, "Deployment", "ssmd-archiver")
    (container,) = containers(archiver)
    cfg = load_archiver(_local(_flag(container["args"], "--config"), _mount_configs(archiver, tmp_path)))
    connector = _by(PROD, "Deployment", "ssmd-connector-nats")
    (cc,) = containers(connector)
    env = load_environment(_local(_flag(cc["args"], "--env"), _mount_configs(connector, tmp_path / "c")))
    assert cfg.nats.stream == env.stream_name
    assert cfg.nats.filter.startswith(env.subject_prefix + ".")
    assert cfg.nats.url == env.transport.url
    data_mounts = [m["mountPath"] for m in container["volumeMounts"] if m["name"] == "data"]
    assert data_mounts == [cfg.storage.path]


def test_prod_overlay_rotates_hourly_and_base_keeps_the_guide_value(tmp_path: Path) -> None:
    """The guide says 15m for testing, 1h or 1d for production: base keeps 15m, the prod overlay sets 1h."""
    (tmp_path / "b.yaml").write_text(_by(BASE, "ConfigMap", "ssmd-archiver-config")["data"]["archiver.yaml"])
    (tmp_path / "p.yaml").write_text(_by(PROD, "ConfigMap", "ssmd-archiver-config")["data"]["archiver.yaml"])
    assert load_archiver(tmp_path / "b.yaml").rotation.seconds == 15 * 60
    assert load_archiver(tmp_path / "p.yaml").rotation.seconds == 3600


def test_agent_subscribes_under_the_environment_prefix() -> None:
    """The agent's NATS_SUBJECTS and NATS_URL agree with the connector's environment file."""
    (container,) = containers(_by(PROD, "Deployment", "ssmd-agent"))
    env = {e["name"]: e.get("value") for e in container["env"]}
    nats_cm = _by(PROD, "ConfigMap", "ssmd-nats-config")["data"]["prod-nats.yaml"]
    assert env["NATS_URL"] == yaml.safe_load(nats_cm)["transport"]["url"]
    assert all(s.startswith("prod.kalshi.") for s in env["NATS_SUBJECTS"].split(","))


def test_agent_signals_load() -> None:
    """SSMD_SIGNALS in the agent's Deployment names signals the runtime loads (without it the pod exits 2)."""
    from ssmd.agent.loader import load_signals, split_specs

    (container,) = containers(_by(PROD, "Deployment", "ssmd-agent"))
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert len(load_signals(split_specs(env["SSMD_SIGNALS"]))) == 5


def test_base_images_are_the_dockerfile_targets_and_prod_maps_every_one() -> None:
    """Base containers use the bare image names the Dockerfile/release build (an overlay's `images:` maps them);
    the prod overlay maps every one to a registry and tag, so no bare name is left to ImagePullBackOff; a container
    that runs its own `command:` uses the `ssmd` CLI image, every other one the image of its service."""
    for obj in _workloads(BASE):
        for container in containers(obj):
            assert container["image"] in IMAGES.values(), container["image"]
            wanted = "ssmd" if "command" in container else GUIDE_IMAGE[obj["metadata"]["name"]]
            assert container["image"] == wanted, obj["metadata"]["name"]
    for obj in _workloads():
        for container in containers(obj):
            name, _, tag = container["image"].rpartition(":")
            assert name.startswith("ghcr.io/your-org/") and name.rsplit("/", 1)[1] in IMAGES.values() and tag


GUIDE_IMAGE = {name: want["image"] for name, want in GUIDE.items()}


def test_stream_job_runs_a_valid_ssmd_stream_ensure(tmp_path: Path) -> None:
    """The Job's command is `ssmd stream ensure` with options the real CLI accepts, on the mounted env file."""
    from ssmd.bus.cli import stream_group

    job = _by(PROD, "Job", "ssmd-stream-ensure")
    mounts = _mount_configs(job, tmp_path)
    (container,) = containers(job)
    argv = container["command"]
    assert argv[:3] == ["ssmd", "stream", "ensure"]
    args = [str(_local(a, mounts)) if a.startswith("/config/") else a for a in argv[3:]]
    ctx = stream_group.commands["ensure"].make_context("ensure", args)
    assert load_environment(ctx.params["env_path"]).stream_name == "PROD_KALSHI"
    assert container["image"].startswith("ghcr.io/your-org/")


def test_archive_sync_cronjob_reads_the_archive_on_the_archivers_node() -> None:
    """The CronJob runs `ssmd archive sync` over the PVC read-only, on the archiver's node (RWO volume)."""
    cron = _by(PROD, "CronJob", "ssmd-archive-sync")
    spec = pod_spec(cron)
    assert spec is not None
    (container,) = containers(cron)
    assert container["command"][:4] == ["ssmd", "archive", "sync", "/data/ssmd"]
    assert container["command"][4].startswith(("gs://", "s3://"))
    assert {"name": "data", "mountPath": "/data/ssmd", "readOnly": True} in container["volumeMounts"]
    term = spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term == {"labelSelector": {"matchLabels": {"app": "ssmd-archiver"}}, "topologyKey": "kubernetes.io/hostname"}
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_single_writer_deployments_use_recreate() -> None:
    """Connector, archiver and agent never run two pods at once (RWO volume, one WebSocket per key, one evaluator
    per durable consumer)."""
    for name in ("ssmd-connector-nats", "ssmd-archiver", "ssmd-agent"):
        assert _by(PROD, "Deployment", name)["spec"]["strategy"] == {"type": "Recreate"}


def test_agent_service_targets_the_agent_pods() -> None:
    """The guide's Service selects the agent pods and targets their named `health` port."""
    service = _by(PROD, "Service", "ssmd-agent")
    deploy = _by(PROD, "Deployment", "ssmd-agent")
    assert service["spec"]["selector"].items() <= deploy["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["ports"] == [{"port": 8080, "targetPort": "health", "name": "http"}]


def _egress_ports(policy: Obj) -> set[int]:
    return {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}


@pytest.mark.parametrize(
    ("app", "ports"),
    [
        ("ssmd-connector-nats", {4222, 443, 53}),
        ("ssmd-archiver", {4222, 53}),
        ("ssmd-agent", {4222, 443, 53}),
        ("ssmd-stream-ensure", {4222, 53}),
    ],
)
def test_network_policy_allows_exactly_the_guides_egress(app: str, ports: set[int]) -> None:
    """Each component's NetworkPolicy allows the guide's egress (NATS 4222, external 443, DNS 53) and nothing else."""
    policies = [o for o in PROD if o["kind"] == "NetworkPolicy"
                and o["spec"]["podSelector"]["matchLabels"] == {"app": app}]
    assert len(policies) == 1
    assert policies[0]["spec"]["policyTypes"] == ["Egress"]
    assert _egress_ports(policies[0]) == ports


def test_every_workload_has_a_network_policy() -> None:
    """No pod escapes the egress rules: every workload's `app` label is selected by one NetworkPolicy."""
    selected = {o["spec"]["podSelector"]["matchLabels"]["app"] for o in PROD if o["kind"] == "NetworkPolicy"}
    apps = set()
    for obj in _workloads():
        spec_parent = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
        apps.add(spec_parent["template"]["metadata"]["labels"]["app"])
    assert apps == selected


def test_ssmd_validate_accepts_deploy_folder() -> None:
    """`ssmd validate deploy/k8s` (what CI runs) checks the ConfigMaps' files and exits 0."""
    from ssmd.config.cli import validate

    result = CliRunner().invoke(validate, [str(K8S)])
    assert result.exit_code == 0, result.output
    assert "(archiver)" in result.output and "(feed)" in result.output and "(environment)" in result.output


def _cli(name: str) -> click.Command:
    """The click command behind an image entrypoint or `ssmd <name>`, resolved as the CLI does."""
    from ssmd.cli import cli

    command = cli.get_command(click.Context(cli), name)
    assert command is not None, f"ssmd {name} is not available"
    return command


# (kind, name) -> the `ssmd` subcommand its image entrypoint or `command:` runs.
_ENTRYPOINTS = {"ssmd-connector": "connector", "ssmd-archiver": "archiver", "ssmd-agent": "agent"}


@pytest.mark.parametrize("obj", _workloads(), ids=_ids(_workloads()))
def test_workload_command_line_parses_with_the_real_cli(obj: Obj, tmp_path: Path) -> None:
    """Every container's args (with its image's entrypoint) or `command:` is accepted by the real ssmd CLI."""
    mounts = _mount_configs(obj, tmp_path)
    (container,) = containers(obj)
    if "command" in container:
        argv = list(container["command"])
        assert argv[0] == "ssmd"
        argv = argv[1:]
    else:
        image = container["image"].rsplit("/", 1)[-1].split(":")[0]
        argv = [_ENTRYPOINTS[image], *container.get("args", [])]
    argv = [str(_local(a, mounts)) if a.startswith("/config/") else a for a in argv]
    command: click.Command = _cli(argv[0])
    rest = argv[1:]
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command, rest = command.commands[rest[0]], rest[1:]
    with command.make_context(argv[0], rest, resilient_parsing=False) as ctx:
        assert ctx.params is not None


def test_archive_sync_reaches_the_gke_metadata_server_on_either_dataplane() -> None:
    """Workload Identity tokens come from the GKE metadata server: 169.254.169.254:80 (Dataplane V2 evaluates policy
    before NAT) and 169.254.169.252:988 (the gke-metadata-server the other dataplane redirects to), besides object
    storage on 443 and DNS; and the policy names its source (the GKE network-policy docs)."""
    (policy,) = [o for o in PROD if o["kind"] == "NetworkPolicy"
                 and o["spec"]["podSelector"]["matchLabels"] == {"app": "ssmd-archive-sync"}]
    pairs = {(peer["ipBlock"]["cidr"], port["port"]) for rule in policy["spec"]["egress"]
             for peer in rule.get("to", []) if "ipBlock" in peer for port in rule["ports"]}
    assert pairs == {("169.254.169.254/32", 80), ("169.254.169.252/32", 988)}
    assert _egress_ports(policy) == {443, 80, 988, 53}
    source = (K8S / "base" / "networkpolicy-archive-sync.yaml").read_text()
    assert "https://cloud.google.com/kubernetes-engine/docs/how-to/network-policy" in source


NATS_VALUES = yaml.safe_load((K8S / "nats" / "values.yaml").read_text())
NATS_RELEASE, NATS_NAMESPACE = "nats", "nats"  # as in the helm command of values.yaml and docs/deployment.md


def _nats_pod_urls() -> list[str]:
    """The client URL of every server of the chart's StatefulSet: {release}-{i}.{release}-headless.{namespace}."""
    replicas = NATS_VALUES["config"]["cluster"]["replicas"]
    return [f"nats://{NATS_RELEASE}-{i}.{NATS_RELEASE}-headless.{NATS_NAMESPACE}.svc.cluster.local:4222"
            for i in range(replicas)]


def _service_nats_urls(objects: list[Obj], tmp_path: Path) -> dict[str, str]:
    """The NATS URL each service is configured with (connector/stream env file, archiver file, agent env)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = _by(objects, "ConfigMap", "ssmd-nats-config")["data"]
    (tmp_path / "env.yaml").write_text(data["prod-nats.yaml"])
    (tmp_path / "archiver.yaml").write_text(_by(objects, "ConfigMap", "ssmd-archiver-config")["data"]["archiver.yaml"])
    (agent,) = containers(_by(objects, "Deployment", "ssmd-agent"))
    url = load_environment(tmp_path / "env.yaml").transport.url
    assert url is not None
    return {"connector": url, "archiver": load_archiver(tmp_path / "archiver.yaml").nats.url,
            "agent": next(e["value"] for e in agent["env"] if e["name"] == "NATS_URL")}


def test_prod_services_name_every_server_of_the_nats_cluster(tmp_path: Path) -> None:
    """In prod every service gets all the chart's servers, comma-separated, in pod order (three of them); the base
    keeps the guide's single service address."""
    urls = _nats_pod_urls()
    assert len(urls) == 3
    assert set(_service_nats_urls(PROD, tmp_path).values()) == {",".join(urls)}
    assert set(_service_nats_urls(BASE, tmp_path / "b").values()) == {"nats://nats.nats.svc.cluster.local:4222"}


def test_prod_stream_is_replicated_on_three_servers() -> None:
    """The prod stream-ensure Job asks for --replicas 3 (one copy per server) with file storage; base keeps the
    guide's 1 replica."""
    for objects, replicas in ((PROD, "3"), (BASE, "1")):
        (job,) = containers(_by(objects, "Job", "ssmd-stream-ensure"))
        assert _flag(job["command"], "--replicas") == replicas
        assert _flag(job["command"], "--storage") == "file"
    assert int(_flag(containers(_by(PROD, "Job", "ssmd-stream-ensure"))[0]["command"], "--replicas")) == \
        NATS_VALUES["config"]["cluster"]["replicas"]
