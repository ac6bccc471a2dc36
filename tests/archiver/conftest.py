"""Fixtures for the archiver tests: a stream of each test's own, in-process archivers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from archiver_helpers import Running, StreamEnv

from ssmd.archiver.service import Archiver
from ssmd.bus.embedded import EmbeddedNats
from ssmd.config.archiver import ArchiverConfig


async def _env(server: EmbeddedNats, name: str, root: Path, json_only: bool = False) -> AsyncIterator[StreamEnv]:
    env = StreamEnv(server, name, root, json_only=json_only)
    await env.connect()
    try:
        yield env
    finally:
        await env.nc.close()


@pytest.fixture
async def stream_env(nats_server: EmbeddedNats, unique_name: str, tmp_path: Path) -> AsyncIterator[StreamEnv]:
    """A stream of this test's own on the session server."""
    async for env in _env(nats_server, unique_name, tmp_path / "data"):
        yield env


@pytest.fixture
async def whole_stream_env(nats_server: EmbeddedNats, unique_name: str, tmp_path: Path) -> AsyncIterator[StreamEnv]:
    """A stream capturing only ``{prefix}.json.>``, so the archiver's default filter covers all of it."""
    async for env in _env(nats_server, unique_name, tmp_path / "data", json_only=True):
        yield env


@pytest.fixture
async def own_stream_env(own_nats: EmbeddedNats, unique_name: str, tmp_path: Path) -> AsyncIterator[StreamEnv]:
    """A stream on a server of this test's own (for tests that stop or restart NATS)."""
    async for env in _env(own_nats, unique_name, tmp_path / "data"):
        yield env


@pytest.fixture
async def start_archiver() -> AsyncIterator[Callable[..., Running]]:
    """Start in-process archivers; any still running at the end are stopped and awaited."""
    running: list[Running] = []

    def start(config: ArchiverConfig, **kw: Any) -> Running:
        r = Running(Archiver(config, **kw))
        running.append(r)
        return r

    yield start
    for r in running:
        if not r.task.done():
            await r.close()


