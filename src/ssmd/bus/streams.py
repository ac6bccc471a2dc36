"""The JetStream stream of the deployment guide, created or checked idempotently.

``nats stream add PROD_KALSHI --subjects "prod.kalshi.>" --retention limits --max-age 1h --storage file
--replicas 1 --discard old`` becomes ``ssmd stream ensure --env prod.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import NotFoundError

from ssmd.bus.subjects import filter_covers


class StreamConflict(Exception):
    """An existing stream differs from what ssmd needs in a way it must not silently change."""


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    max_age_s: int = 3600
    replicas: int = 1
    storage: Literal["file", "memory"] = "file"
    duplicate_window_s: int = 120

    @classmethod
    def for_prefix(cls, name: str, subject_prefix: str, **kw: object) -> StreamSpec:
        return cls(name=name, subjects=(f"{subject_prefix}.>",), **kw)  # type: ignore[arg-type]

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            retention=RetentionPolicy.LIMITS,
            max_age=float(self.max_age_s),
            storage=StorageType.FILE if self.storage == "file" else StorageType.MEMORY,
            num_replicas=self.replicas,
            discard=DiscardPolicy.OLD,
            # The duplicate window may not exceed max_age; the connector's retries rely on it.
            duplicate_window=float(min(self.duplicate_window_s, self.max_age_s)),
        )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> tuple[StreamInfo, str]:
    """Create the stream, or update its limits; return ``(info, "created"|"updated"|"unchanged")``.

    Conflicting subjects are an error that names the difference: changing them would silently move data.
    """
    want = spec.config()
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        return await js.add_stream(want), "created"
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
    changed = (
        have.max_age != want.max_age
        or have.num_replicas != want.num_replicas
        or have.discard != want.discard
        or have.duplicate_window != want.duplicate_window
    )
    if not changed:
        return info, "unchanged"
    return await js.update_stream(want), "updated"


async def check_capture(js: JetStreamContext, stream: str, subject_filter: str) -> StreamInfo:
    """Raise if ``stream`` is missing or does not capture ``subject_filter`` (a month of nothing, otherwise)."""
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        raise StreamConflict(f"stream {stream} does not exist") from None
    subjects = info.config.subjects or []
    if not any(filter_covers(s, subject_filter) for s in subjects):
        raise StreamConflict(
            f"stream {stream} captures {subjects}, which does not cover {subject_filter!r}"
        )
    return info
