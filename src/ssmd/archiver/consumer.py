"""The archiver's durable consumer: checked at start, (re)created from the archive's own last sequence.

Why push + AckAll instead of a pull consumer: nats-py's ``fetch`` tops out near 30,000 msg/s on our machines,
while a push consumer read through a plain core subscription, acknowledged once per batch with AckAll,
reaches several times that. The archive on disk is the source of truth for where to resume (see
docs/archiver.md), so the consumer is re-created at ``last_seq + 1`` on start and whenever the delivered
sequence shows that something went missing in transit; the durable name keeps progress visible to operators
(``nats consumer info``) and the ack floor serves as a lower bound if the archive directory is empty.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy, StreamInfo
from nats.js.errors import NotFoundError

from ssmd.bus.streams import StreamConflict, retry_transient
from ssmd.naming import filter_covers


@dataclass(frozen=True)
class ConsumerSettings:
    stream: str
    durable: str
    filter: str
    max_ack_pending: int
    ack_wait_s: float
    idle_heartbeat_s: float = 5.0
    replicas: int = 0
    """The consumer's own replicas: the stream's (set at start), so its state survives the nodes the stream does."""


async def existing_durable(js: JetStreamContext, settings: ConsumerSettings) -> ConsumerInfo | None:
    """The durable if it exists; raise if it filters something else or another archiver is bound to it."""
    try:
        info: ConsumerInfo = await retry_transient(lambda: js.consumer_info(settings.stream, settings.durable),
                                                   f"consumer {settings.durable} on stream {settings.stream}")
    except NotFoundError:
        return None
    have = info.config.filter_subject or ""
    filters = [f for f in (info.config.filter_subjects or []) if f]
    if filters and not have:
        have = ",".join(filters)
    if have != settings.filter:
        raise StreamConflict(
            f"consumer {settings.durable} on stream {settings.stream} exists with filter {have!r}, "
            f"the config asks for {settings.filter!r}; delete the consumer or choose another consumer name"
        )
    if info.push_bound:
        raise StreamConflict(
            f"consumer {settings.durable} on stream {settings.stream} is in use by another process "
            f"(another archiver?); two archivers must not write the same archive"
        )
    return info


def covers_whole_stream(stream: StreamInfo, subject_filter: str) -> bool:
    """True if every message of the stream passes the filter: then a jump in stream sequence is loss."""
    subjects = stream.config.subjects or []
    return bool(subjects) and all(filter_covers(subject_filter, s) for s in subjects)


async def recreate(js: JetStreamContext, settings: ConsumerSettings, deliver_subject: str, start_seq: int) -> None:
    """Replace the durable with one that delivers from ``start_seq`` to ``deliver_subject``.

    A fresh deliver subject per incarnation means messages still in flight for the old one cannot be
    mistaken for the new one's.
    """
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(settings.stream, settings.durable)
    config = ConsumerConfig(
        durable_name=settings.durable,
        deliver_subject=deliver_subject,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start_seq > 1 else DeliverPolicy.ALL,
        opt_start_seq=start_seq if start_seq > 1 else None,
        ack_policy=AckPolicy.ALL,
        ack_wait=settings.ack_wait_s,
        max_ack_pending=settings.max_ack_pending,
        max_deliver=-1,
        filter_subject=settings.filter,
        flow_control=True,
        idle_heartbeat=settings.idle_heartbeat_s,
        num_replicas=settings.replicas or None,
    )
    await js.add_consumer(settings.stream, config)
