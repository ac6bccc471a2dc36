"""Cluster tests reuse the agent's fire helpers (one home; the processes and the simulator are ssmd.testing's)."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parents[1]
for _helpers in (_TESTS / "agent",):
    if str(_helpers) not in sys.path:
        sys.path.append(str(_helpers))
