"""docs/deployment.md stays true to the code: metric names exist, the guide's failures are all covered."""

from __future__ import annotations

import re
from pathlib import Path

from _metrics import ANNOUNCED_METRICS, NATS_EXPORTER_METRICS, ssmd_metric_names

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "deployment.md").read_text()


def _defined_metrics() -> set[str]:
    """Metric names the services register, with and without the suffixes Prometheus adds when exposing them."""
    names = set(ssmd_metric_names() | ANNOUNCED_METRICS)
    return names | {re.sub(r"_(total|bucket|count|sum|created)$", "", n) for n in names}


def test_every_metric_in_the_docs_exists() -> None:
    """Each ssmd_* metric the deployment doc names is registered by a service, each nats_stream/consumer/server_*
    one is exported by the NATS chart's exporter."""
    defined = _defined_metrics()
    mentioned = set(re.findall(r"\b(ssmd_[a-z_]+[a-z])\b", DOC))
    missing = {name for name in mentioned if name not in defined}
    assert mentioned and not missing, f"documented but not defined: {sorted(missing)}"
    nats = set(re.findall(r"\b(nats_(?:stream|consumer|server|account)_[a-z_]+[a-z])\b", DOC))
    assert nats and nats <= NATS_EXPORTER_METRICS, sorted(nats - NATS_EXPORTER_METRICS)


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
    assert {"connector", "archiver", "agent", "ssmd"} <= set(targets)
    for target in targets:
        image = "ssmd" if target == "ssmd" else f"ssmd-{target}"
        assert re.search(rf"docker build --target {target}\s+-t {image}:", DOC), target


def test_doc_lists_each_guide_step_that_does_not_work_as_written() -> None:
    """Section 7 exists and marks the guide's steps that fail verbatim (builds, ConfigMap keys, file mode, subject)."""
    section = DOC.split("## 7. The guide, step by step", 1)[1]
    for text in ("docker build -t ssmd-connector:latest .", "feeds/kalshi.yaml", "ssmd-connector-file",
                 '"prod.kalshi.trade.>"', "fsGroup", "ImagePullBackOff"):
        assert text in section, text


def test_sizing_frame_sizes_and_arithmetic_hold() -> None:
    """The sizing section's frame sizes are the captured frames' averages, and its example adds up."""
    import json
    from collections import defaultdict

    sizes: dict[str, list[int]] = defaultdict(list)
    for line in (ROOT / "tests" / "data" / "kalshi-captured-frames.jsonl").read_bytes().splitlines():
        if line.strip():
            sizes[json.loads(line)["type"]].append(len(line))
    average = {t: round(sum(v) / len(v)) for t, v in sizes.items()}
    assert (average["ticker"], average["trade"], average["market_lifecycle_v2"]) == (469, 286, 179)
    section = DOC.split("## 4. Sizing the stream", 1)[1].split("\n## ", 1)[0]
    for kind, size in (("`ticker`", 469), ("`trade`", 286), ("`market_lifecycle_v2`", 179)):
        assert f"{kind} {size}" in section
    overhead = 280
    base = 150 * (469 + overhead) + 50 * (286 + overhead) + 5 * (179 + overhead)
    books = 1_000 * (240 + overhead)
    assert f"{base:,} B/s" in section and f"{books:,} B/s" in section
    day = 86_400
    assert f"{base * day / 1e9:.1f} GB/day" in section and f"{books * day / 1e9:.1f} GB/day" in section
    assert f"{(base + books) * day / 1e9:.1f} GB/day per server" in section
    assert f"{(base + books) * day / 1e9 * 6 / 24:.1f} GB per server" in section
