"""docs/deployment.md stays true to the code: metric names exist, the guide's failures are all covered."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "deployment.md").read_text()
SOURCE = "\n".join(p.read_text() for p in (ROOT / "src" / "ssmd").rglob("*.py"))


def _defined_metrics() -> set[str]:
    """Metric names the services register (prometheus_client adds `_total` to counters when exposing them)."""
    names = set(re.findall(r'"(ssmd_[a-z_]+)"', SOURCE))
    for match in re.finditer(r'f"\{p\}([a-z_]+)"', SOURCE):
        names.add("ssmd_archiver_" + match.group(1))
    return names


def test_every_metric_in_the_docs_exists() -> None:
    """Each ssmd_* metric the deployment doc (and its alerts) names is registered by a service."""
    defined = _defined_metrics()
    mentioned = set(re.findall(r"\b(ssmd_[a-z_]+[a-z])\b", DOC))
    missing = set()
    for name in mentioned:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        if base.endswith("_"):  # a family shorthand such as `..._frames_published_total` is checked below
            continue
        if base not in defined and name not in defined:
            missing.add(name)
    assert mentioned and not missing, f"documented but not defined: {sorted(missing)}"


def test_metric_shorthands_in_the_docs_exist() -> None:
    """`..._name` shorthands in the metrics table resolve to a metric of the same service."""
    defined = _defined_metrics()
    for row in re.findall(r"^\|.*$", DOC, re.M):
        service = re.search(r"`(ssmd_(connector|archiver|agent)_)", row)
        if service is None:
            continue
        for short in re.findall(r"`\.\.\._([a-z_]+)`", row):
            base = re.sub(r"_total$", "", short)
            assert service.group(1) + base in defined, f"{service.group(1)}{short} is not defined"


def test_every_failure_the_guide_lists_has_a_troubleshooting_section() -> None:
    """The guide's troubleshooting headings each have a section with commands in the doc."""
    for heading in ("Connector not starting", "NATS connection issues", "No data publishing",
                    "File output not appearing"):
        section = DOC.split(f"### {heading}", 1)
        assert len(section) == 2, heading
        assert "```bash" in section[1].split("\n### ", 1)[0], f"{heading}: no commands"


def test_doc_names_the_build_command_for_each_target() -> None:
    """The doc gives the `docker build --target` command of every image target in the Dockerfile."""
    targets = re.findall(r"^FROM runtime AS (\w+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert {"connector", "archiver", "agent"} <= set(targets)
    for target in ("connector", "archiver", "agent"):
        assert re.search(rf"docker build --target {target}\s+-t ssmd-{target}:", DOC), target
