"""The deployment guide's own manifests, as printed, against our images and CLI (what a machine without a cluster
can run): schema-valid, their command lines accepted, the agent's pod spec run as a real process, and the one
manifest the API server would reject (the ConfigMap's keys) shown to be rejected, as docs/deployment.md says."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import click
import kubernetes_validate
import pytest
from _k8s_render import Obj, containers, load_documents, render

from ssmd.bus.embedded import free_port

HERE = Path(__file__).resolve().parent
GUIDE = load_documents(HERE / "data" / "deployment-guide-manifests.yaml")
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")  # the API server's rule for ConfigMap data keys
ENTRYPOINTS = {"ssmd-connector": "connector", "ssmd-archiver": "archiver", "ssmd-agent": "agent"}


def _by(kind: str, name: str) -> Obj:
    (obj,) = [o for o in GUIDE if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def _owner(obj: Any) -> Any:
    """The guide's `<owner>` placeholder, filled in as an operator would."""
    if isinstance(obj, dict):
        return {k: _owner(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_owner(v) for v in obj]
    return obj.replace("<owner>", "your-org") if isinstance(obj, str) else obj


def test_the_guide_has_the_objects_we_test() -> None:
    """Namespace, the two ConfigMaps, three Deployments, the PVC and the agent Service, in the guide's order."""
    assert [(o["kind"], o["metadata"]["name"]) for o in GUIDE] == [
        ("Namespace", "ssmd"), ("ConfigMap", "ssmd-nats-config"), ("Deployment", "ssmd-connector-nats"),
        ("ConfigMap", "ssmd-archiver-config"), ("Deployment", "ssmd-archiver"), ("PersistentVolumeClaim", "ssmd-data"),
        ("Deployment", "ssmd-agent"), ("Service", "ssmd-agent")]


@pytest.mark.parametrize("obj", GUIDE, ids=[f"{o['kind']}/{o['metadata']['name']}" for o in GUIDE])
def test_guide_object_is_schema_valid(obj: Obj) -> None:
    """Each of the guide's manifests validates strictly against the Kubernetes schemas."""
    kubernetes_validate.validate(_owner(obj), "1.33", strict=True)


def test_guide_configmap_keys_are_rejected_and_ours_are_not() -> None:
    """The guide's keys (`feeds/kalshi.yaml`) break the API server's key rule; the shipped ConfigMap's do not,
    and its volume `items` put the files back at the guide's paths."""
    assert [k for k in _by("ConfigMap", "ssmd-nats-config")["data"] if not CONFIGMAP_KEY.match(k)] == [
        "feeds/kalshi.yaml", "environments/prod-nats.yaml"]
    ours = render(HERE.parents[1] / "deploy" / "k8s" / "overlays" / "prod")
    for obj in ours:
        if obj["kind"] == "ConfigMap":
            assert all(CONFIGMAP_KEY.match(k) for k in obj["data"])


@pytest.mark.parametrize("name", ["ssmd-connector-nats", "ssmd-archiver", "ssmd-agent"])
def test_guide_command_line_parses_with_our_entrypoint(name: str) -> None:
    """The guide passes only `args:`: with our image's ENTRYPOINT they are accepted by the real CLI."""
    from ssmd.cli import cli

    (container,) = containers(_owner(_by("Deployment", name)))
    image = container["image"].rsplit("/", 1)[1].split(":")[0]
    command = cli.get_command(click.Context(cli), ENTRYPOINTS[image])
    assert command is not None
    args = list(container.get("args", []))
    if isinstance(command, click.Group):  # `ssmd agent` with no subcommand runs `run`
        command = command.commands["run"]
    with command.make_context(image, args, resilient_parsing=False) as ctx:
        assert ctx.params is not None


async def test_guide_agent_pod_runs_and_answers_its_probes() -> None:
    """The guide's agent container as a process: its image's entrypoint with exactly its env (PORT, moved to a free
    port so the test cannot collide): the liveness and readiness paths answer 200 and SIGTERM exits 0."""
    (container,) = containers(_by("Deployment", "ssmd-agent"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "NATS_SUBJECTS", "SSMD_SIGNALS")}
    env.update({e["name"]: e["value"] for e in container["env"]})
    assert env["PORT"] == str(container["ports"][0]["containerPort"])
    env["PORT"] = str(port)
    proc = _start("ssmd-agent", env)
    try:
        paths = {container["livenessProbe"]["httpGet"]["path"], container["readinessProbe"]["httpGet"]["path"]}
        for path in sorted(paths):
            status, body = await _poll(proc, f"http://127.0.0.1:{port}{path}")
            assert status == 200, (path, body)
        assert body == b'{"status":"ok"}'
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _start(script: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(Path(sys.executable).with_name(script))], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


async def _poll(proc: subprocess.Popen[bytes], url: str, timeout: float = 30.0) -> tuple[int, bytes]:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        assert proc.poll() is None, f"exited {proc.returncode}: {proc.stderr.read() if proc.stderr else b''!r}"
        try:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                return response.status, await response.read()
        except aiohttp.ClientConnectionError:
            if loop.time() > deadline:
                raise AssertionError(f"{url} did not answer within {timeout}s") from None
            await asyncio.sleep(0.1)
