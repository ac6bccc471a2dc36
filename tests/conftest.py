from pathlib import Path

import pytest

pytest_plugins = ["ssmd.testing.pytest_plugin"]

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def samples_path() -> Path:
    """Genuine captured Kalshi frames: ../shared/samples, else the copy under tests/data."""
    shared = SHARED / "samples" / "kalshi-captured-frames.jsonl"
    return shared if shared.exists() else ROOT / "tests" / "data" / "kalshi-captured-frames.jsonl"
