"""pytest fixtures over real servers, never mocks: ``pytest_plugins = ["ssmd.testing.pytest_plugin"]`` in a
``conftest.py`` gives them to any project that builds on ssmd, not only to ssmd's own tests.

This is the only module of :mod:`ssmd.testing` that imports pytest (a test dependency, not a runtime one).
Under pytest-xdist every worker has its own session server.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ssmd.bus.cluster import EmbeddedCluster
from ssmd.bus.embedded import EmbeddedNats
from ssmd.testing._disk import tmpfs

_names = itertools.count(1)


def _running(store_dir: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(store_dir=store_dir)
    server.start(timeout=60)  # a loaded machine can take a while to start a process
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """One real nats-server with JetStream for the whole test session (free port, temp store)."""
    yield from _running(tmp_path_factory.mktemp("nats-store"))


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of this test's own, for tests that stop, kill or restart it."""
    yield from _running(tmp_path / "nats-store")


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs: a disk that fills up (fill it with :func:`ssmd.testing.fill_disk`)."""
    with tmpfs(tmp_path / "tiny") as mount:
        yield mount


@pytest.fixture
def unique_name() -> str:
    """A name no other test in this session uses: for streams, consumers and environments on the shared server."""
    return f"t{next(_names)}"


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[object]:
    """A connected nats-py client on the session server."""
    import nats

    client = await nats.connect(nats_server.url)
    try:
        yield client
    finally:
        await client.close()


# --- JetStream cluster (issue 15, helper "cluster"): keep this block together when testing.py becomes a package ---


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[EmbeddedCluster]:
    """Three real nats-servers in one JetStream cluster (``sync_interval: always``), of this test's own: tests
    kill (``kill(i)``) and restart (``restart(i)``) nodes. ``url`` is the comma-separated list of all three."""
    cluster = EmbeddedCluster(3, store_dir=tmp_path / "nats-cluster")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.cleanup()
