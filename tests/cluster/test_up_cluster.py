"""`ssmd up --cluster 3`: the whole demo on a local 3-node JetStream cluster, stream at R3."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import psutil
import pytest

from ssmd.config import load_archiver, load_environment
from ssmd.testing import archived_lines
from ssmd.up import pipeline


def test_cluster_plan_points_everything_at_every_node(tmp_path: Path) -> None:
    """Three nats-server children with their own configs (fsync on every write), all three URLs in the
    environment file, the archiver config and the agent's NATS_URL, and the stream ensured at R3."""
    plan = pipeline.build(pipeline.Options(data_dir=tmp_path, cluster=3))
    assert [n.name for n in plan.nats] == ["nats-n1", "nats-n2", "nats-n3"]
    urls = plan.nats_url.split(",")
    assert len(set(urls)) == 3
    env = load_environment(plan.config_dir / "environments" / "demo.yaml")
    assert env.transport.url == load_archiver(plan.config_dir / "archiver.yaml").nats.url == plan.nats_url
    assert plan.agent.env["NATS_URL"] == plan.nats_url
    assert plan.stream_ensure.argv[-2:] == ("--replicas", "3")
    for node in plan.nats:
        config = Path(node.argv[node.argv.index("-c") + 1]).read_text()
        assert "sync_interval: always" in config and config.count("nats-route://") == 2


@pytest.mark.slow
def test_up_cluster_runs_the_demo_and_archives_every_frame(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "ssmd", "up", "--cluster", "3", "--duration", "5s", "--data-dir",
                          str(data), "--rate", "150", "--status-every", "2"], capture_output=True, text=True,
                         timeout=180, check=False)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "3 replica(s)" in out and "3-node cluster" in out and "leader n" in out
    assert "restarts: none" in out and ": OK" in out, out
    sent = Counter((data / "sim-sent.jsonl").read_bytes().splitlines())
    assert sum(sent.values()) > 200 and archived_lines(data / "archive") == sent
    leftovers = [p for p in psutil.process_iter(["environ"])
                 if (p.info.get("environ") or {}).get(pipeline.MARKER_ENV) == str(data.resolve())]
    assert leftovers == []
