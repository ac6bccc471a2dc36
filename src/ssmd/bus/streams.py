"""The JetStream stream of the deployment guide, created or checked idempotently, on one server or a cluster.

``nats stream add PROD_KALSHI --subjects "prod.kalshi.>" --retention limits --max-age 1h --storage file
--replicas 1 --discard old`` becomes ``ssmd stream ensure --env prod.yaml`` (``--replicas 3`` on a cluster).

On a cluster a stream answers only once it has a leader, and the server lowers a stream's replicas without a word
when asked to: :func:`ensure_stream` waits for the leader and refuses to drop replicas unless told to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

from ssmd.errors import InputError
from ssmd.naming import capture_filter, filter_covers
from ssmd.runtime.backoff import Backoff

T = TypeVar("T")

TRANSIENT: tuple[type[Exception], ...] = (
    nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError, ServiceUnavailableError, TimeoutError,
)
"""What a JetStream API call raises while a cluster elects a leader or the client fails over: try again."""

LEADER_TIMEOUT_S = 30.0
"""How long to wait for a stream leader or an answer: a cluster elects one within ~10 s after losing a node."""


class StreamConflict(InputError):
    """An existing stream differs from what ssmd needs in a way it must not silently change."""


class StreamUnavailable(InputError):
    """JetStream did not answer, or the stream had no leader, within the time allowed."""


async def retry_transient(call: Callable[[], Awaitable[T]], what: str, limit_s: float = LEADER_TIMEOUT_S) -> T:
    """``await call()``, again while it fails with a :data:`TRANSIENT` error, for at most ``limit_s`` seconds."""
    deadline = time.monotonic() + limit_s
    backoff = Backoff(0.1, 1.0)
    while True:
        try:
            return await call()
        except TRANSIENT as exc:
            delay = backoff.next_delay()
            if time.monotonic() + delay > deadline:
                raise StreamUnavailable(f"{what}: no answer from JetStream within {limit_s:.0f}s "
                                        f"({type(exc).__name__}: {exc})") from None
        await asyncio.sleep(delay)


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    max_age_s: int = 3600
    replicas: int | None = None
    """``None``: 1 for a new stream, an existing stream keeps its own."""
    storage: Literal["file", "memory"] = "file"
    duplicate_window_s: int = 120

    @classmethod
    def for_prefix(cls, name: str, subject_prefix: str, **kw: object) -> StreamSpec:
        return cls(name=name, subjects=(capture_filter(subject_prefix),), **kw)  # type: ignore[arg-type]

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            retention=RetentionPolicy.LIMITS,
            max_age=float(self.max_age_s),
            storage=StorageType.FILE if self.storage == "file" else StorageType.MEMORY,
            num_replicas=self.replicas or 1,
            discard=DiscardPolicy.OLD,
            # The duplicate window may not exceed max_age; the connector's retries rely on it.
            duplicate_window=float(min(self.duplicate_window_s, self.max_age_s)),
        )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, allow_fewer_replicas: bool = False,
                        leader_timeout: float = LEADER_TIMEOUT_S) -> tuple[StreamInfo, str]:
    """Create the stream, or update its limits; return ``(info, "created"|"updated"|"unchanged")``.

    Returns once the stream has a leader (a cluster elects one after creating or moving a stream). Conflicting
    subjects are an error that names the difference: changing them would silently move data. So is asking for
    fewer replicas than the stream has, unless ``allow_fewer_replicas``: each dropped replica is a copy lost.
    """
    want = spec.config()
    try:
        info = await retry_transient(lambda: js.stream_info(spec.name), f"stream {spec.name}", leader_timeout)
    except NotFoundError:
        await _apply(lambda: js.add_stream(want), spec, "create")
        return await wait_for_leader(js, spec.name, leader_timeout), "created"
    have = info.config
    if sorted(have.subjects or []) != sorted(want.subjects or []):
        raise StreamConflict(
            f"stream {spec.name} exists with subjects {have.subjects}, ssmd needs {want.subjects}; "
            f"delete it or fix the environment file"
        )
    if have.storage != want.storage:
        raise StreamConflict(
            f"stream {spec.name} uses {have.storage.value if have.storage else '?'} storage, asked for "
            f"{spec.storage}: storage cannot be changed in place"
        )
    have_replicas = have.num_replicas or 1
    if spec.replicas is None:
        want.num_replicas = have_replicas
    elif spec.replicas < have_replicas and not allow_fewer_replicas:
        raise StreamConflict(
            f"stream {spec.name} has {have_replicas} replicas, asked for {spec.replicas}: lowering replicas drops "
            f"copies of every message and the stream's tolerance of a dead node; leave --replicas out to keep "
            f"{have_replicas}, or add --allow-fewer-replicas to lower it on purpose"
        )
    changed = (
        have.max_age != want.max_age
        or have_replicas != want.num_replicas
        or have.discard != want.discard
        or have.duplicate_window != want.duplicate_window
    )
    if not changed:
        return await wait_for_leader(js, spec.name, leader_timeout), "unchanged"
    await _apply(lambda: js.update_stream(want), spec, "update")
    return await wait_for_leader(js, spec.name, leader_timeout), "updated"


async def _apply(call: Callable[[], Awaitable[Any]], spec: StreamSpec, verb: str) -> None:
    """Create or update, turning the server's refusal into one line that says what to do.

    "No suitable peers" is retried for a while too: a cluster that is still forming (or has a node restarting)
    places the stream once its peers have met.
    """
    deadline = time.monotonic() + LEADER_TIMEOUT_S
    backoff = Backoff(0.5, 2.0)
    while True:
        try:
            await retry_transient(call, f"{verb} stream {spec.name}")
            return
        except APIError as exc:
            if exc.err_code != 10005 or time.monotonic() > deadline:
                raise StreamConflict(_refusal(exc, spec, verb)) from None
        await backoff.wait()


def _refusal(exc: APIError, spec: StreamSpec, verb: str) -> str:
    """The server's reason, and what to do about the two refusals a cluster set-up meets."""
    hint = ""
    if exc.err_code == 10074:  # replicas > 1 not supported in non-clustered mode
        hint = ": this NATS is a single server; use --replicas 1, or a cluster (ssmd nats serve --cluster 3)"
    elif exc.err_code == 10005:  # no suitable peers for placement
        hint = f": the cluster has fewer than {spec.replicas} JetStream servers up"
    return f"cannot {verb} stream {spec.name}: {exc.description or exc}{hint}"


async def wait_for_leader(js: JetStreamContext, name: str, limit_s: float = LEADER_TIMEOUT_S) -> StreamInfo:
    """Stream info once the stream has a leader (at once on a single server, which reports no cluster)."""
    deadline = time.monotonic() + limit_s
    while True:
        left = max(0.1, deadline - time.monotonic())
        info = await retry_transient(lambda: js.stream_info(name), f"stream {name}", left)
        if info.cluster is None or info.cluster.leader:
            return info
        if time.monotonic() > deadline:
            raise StreamUnavailable(f"stream {name} has no leader after {limit_s:.0f}s: fewer than a quorum of its "
                                    f"{info.config.num_replicas} replicas are up")
        await asyncio.sleep(0.1)


def placement(info: StreamInfo) -> dict[str, Any]:
    """Where the stream's replicas sit: ``{"cluster", "leader", "replicas": [{"name", "current", "lag", ...}]}``.

    The leader is listed first; on a single server (no cluster info) the stream has one copy and no peers.
    """
    cluster = info.cluster
    if cluster is None:
        return {"cluster": None, "leader": None, "replicas": []}
    peers = [{"name": cluster.leader, "leader": True, "current": True}] if cluster.leader else []
    for peer in cluster.replicas or []:
        row: dict[str, Any] = {"name": peer.name, "leader": False, "current": bool(peer.current)}
        if peer.offline:
            row["offline"] = True
        if peer.lag:
            row["lag"] = peer.lag
        if peer.active is not None:
            row["last_seen_s"] = round(peer.active / 1e9, 3)
        peers.append(row)
    return {"cluster": cluster.name, "leader": cluster.leader, "replicas": peers}


async def check_capture(js: JetStreamContext, stream: str, subject_filter: str) -> StreamInfo:
    """Raise if ``stream`` is missing or does not capture ``subject_filter`` (a month of nothing, otherwise)."""
    try:
        info = await retry_transient(lambda: js.stream_info(stream), f"stream {stream}")
    except NotFoundError:
        raise StreamConflict(f"stream {stream} does not exist") from None
    subjects = info.config.subjects or []
    if not any(filter_covers(s, subject_filter) for s in subjects):
        raise StreamConflict(
            f"stream {stream} captures {subjects}, which does not cover {subject_filter!r}"
        )
    return info
