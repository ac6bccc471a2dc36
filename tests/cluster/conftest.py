"""Cluster tests reuse the connector's simulator harness and the agent's fire helpers (one home each)."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parents[1]
for _helpers in (_TESTS / "connector", _TESTS / "agent"):
    if str(_helpers) not in sys.path:
        sys.path.append(str(_helpers))
