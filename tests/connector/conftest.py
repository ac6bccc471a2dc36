"""Fixtures for connector tests: a private nats-server with the stream, and the simulator as a process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ssmd.bus.embedded import EmbeddedNats
from ssmd.testing import Setup, Sim, make_stream, write_env


@pytest.fixture
def setup(own_nats: EmbeddedNats, unique_name: str, tmp_path: Path) -> Iterator[Setup]:
    """A private NATS (tests may restart it) with the stream, and an environment file for it."""
    env_path = write_env(tmp_path / f"{unique_name}.yaml", unique_name, own_nats.url,
                         {"dead_after": 3, "ping_interval": 1, "publish_timeout": 2})
    s = Setup(own_nats, unique_name, env_path, tmp_path)
    yield s


@pytest.fixture
async def stream(setup: Setup) -> AsyncIterator[Setup]:
    await make_stream(setup.nats.url, setup.stream, setup.prefix)
    yield setup


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = Sim(tmp_path, "--no-auth", "--rate", "300", "--seed", "7", "--markets", "30", "--ping-interval", "1")
    try:
        yield s
    finally:
        s.stop()
