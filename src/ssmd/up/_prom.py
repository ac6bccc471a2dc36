"""Just enough of the Prometheus text format to read a few counters for the status line."""

from __future__ import annotations

import math
import re

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse(text: str) -> dict[str, float]:
    """Sum every sample per metric name (labels folded): ``{"ssmd_connector_frames_received_total": 123.0}``."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        if math.isnan(value):
            continue
        name = match.group(1)
        out[name] = out.get(name, 0.0) + value
    return out


def pick(samples: dict[str, float], *patterns: str) -> float | None:
    """The sum of the first pattern (a full-match regex on the metric name) that matches anything."""
    for pattern in patterns:
        regex = re.compile(pattern)
        hits = [v for k, v in samples.items() if regex.fullmatch(k)]
        if hits:
            return sum(hits)
    return None
