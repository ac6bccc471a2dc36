from __future__ import annotations

from pathlib import Path

import pytest

from ssmd.testing import read_samples


@pytest.fixture(scope="session")
def samples(samples_path: Path) -> list[bytes]:
    """Every genuine captured frame, as raw bytes."""
    return read_samples(samples_path)
