from pathlib import Path

import pytest

pytest_plugins = ["ssmd.testing.pytest_plugin"]

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` first (otherwise in the usual order): with pytest-xdist the longest ones then start at
    once on every worker, instead of ending the run on one worker while the others idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def samples_path() -> Path:
    """Genuine captured Kalshi frames: ../shared/samples, else the copy under tests/data."""
    shared = SHARED / "samples" / "kalshi-captured-frames.jsonl"
    return shared if shared.exists() else ROOT / "tests" / "data" / "kalshi-captured-frames.jsonl"
