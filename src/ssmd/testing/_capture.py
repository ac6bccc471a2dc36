"""What the connector captured, checked against what the exchange sent: environment files, the capture stream,
and the simulator's sent-log as the oracle."""

from __future__ import annotations

import asyncio
import importlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ssmd import naming
from ssmd.bus.embedded import EmbeddedNats
from ssmd.bus.headers import BACKFILL
from ssmd.bus.streams import StreamSpec, ensure_stream
from ssmd.coverage.events import TYPE as COVERAGE_TYPE
from ssmd.coverage.events import is_coverage

if TYPE_CHECKING:
    from ssmd.testing._processes import Sim


@dataclass
class Setup:
    """A NATS server, an environment named ``name`` for ``feed`` (stream ``{NAME}_{FEED}``, subjects
    ``{name}.{feed}.>``), its environment file and a work directory."""

    nats: EmbeddedNats
    name: str
    env_path: Path
    workdir: Path
    feed: str = "kalshi"
    stream: str = field(init=False)
    prefix: str = field(init=False)

    def __post_init__(self) -> None:
        self.stream = naming.stream_name(self.name, self.feed)
        self.prefix = naming.prefix(self.name, self.feed)


def write_env(path: Path, name: str, nats_url: str, capture: dict[str, Any] | None = None,
              transport: str = "nats", storage_path: str | None = None, feed: str = "kalshi") -> Path:
    """An environment file for ``feed``: ``transport`` nats (at ``nats_url``), memory or file; ``capture``
    settings as given."""
    body: dict[str, Any] = {
        "name": name, "feed": feed,
        "transport": {"type": transport, **({"url": nats_url} if transport == "nats" else {})},
        "storage": {"type": "local", "path": storage_path or str(path.parent / "data")},
    }
    if capture:
        body["capture"] = capture
    path.write_text(yaml.safe_dump(body))
    return path


async def make_stream(url: str, name: str, prefix: str) -> None:
    """The capture stream ``name`` for subjects ``{prefix}.>`` (what ``ssmd stream ensure`` creates)."""
    import nats

    nc = await nats.connect(url)
    try:
        await ensure_stream(nc.jetstream(), StreamSpec.for_prefix(name, prefix))
    finally:
        await nc.close()


async def stream_messages(url: str | list[str], stream: str, subject: str, expect: int | None = None,
                          within: float = 60.0) -> list[Any]:
    """Every message of ``stream`` in stream order (an ordered consumer), first waiting (up to ``within`` s)
    until it holds ``expect`` messages. ``url``: a server, or every node of a cluster (to fail over)."""
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + within
        total = (await js.stream_info(stream)).state.messages
        while expect is not None and total < expect and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            total = (await js.stream_info(stream)).state.messages
        sub = await js.subscribe(subject, ordered_consumer=True, stream=stream)
        out: list[Any] = []
        while len(out) < total:
            out.append(await sub.next_msg(timeout=30))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


async def _settled_sent(sim: Sim, setup: Setup, within: float) -> list[bytes]:
    """The sent-log once the stream holds as many messages as it lists and it has stopped growing (a paused
    simulator still answers commands, e.g. a resubscribe's snapshot). After ``within`` s, whatever it lists."""
    import nats

    nc = await nats.connect(setup.nats.url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + within
        while True:
            sent = sim.sent()
            stored = await stream_frames(js, setup.stream, setup.prefix)
            if stored >= len(sent) and len(sim.sent()) == len(sent):  # backfilled frames do not count
                live = [m for m in await stream_messages(setup.nats.url, setup.stream,
                                                         naming.capture_filter(setup.prefix))
                        if not is_backfill(m) and not is_coverage(m.data)]
                stored = len(live)
            if (stored >= len(sent) and len(sim.sent()) == len(sent)) or time.monotonic() > deadline:
                return sent
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


async def stream_frames(js: Any, stream: str, prefix: str) -> int:
    """Messages in ``stream`` that are frames: the connectors' coverage events (docs/coverage.md) are not."""
    total = (await js.stream_info(stream)).state.messages
    info = await js.stream_info(stream, subjects_filter=coverage_filter(prefix))
    return int(total - sum((info.state.subjects or {}).values()))


def coverage_filter(prefix: str) -> str:
    """Every coverage event of every instance under ``prefix``."""
    return f"{prefix}.{naming.JSON}.{COVERAGE_TYPE}.*"


def is_backfill(msg: Any) -> bool:
    """A frame the connector fetched again over REST after an outage (not in the simulator's sent-log)."""
    return bool(msg.headers and BACKFILL in msg.headers)


async def drain_and_compare(sim: Sim, setup: Setup, settle: float = 60.0, ordered: bool = True) -> list[Any]:
    """Pause the exchange, wait until the stream holds what was sent, then compare message by message:
    same bytes, same order (``ordered``: one connection; several interleave freely), each exactly once,
    on the right subject. The connector's coverage events are left out (checked by their own tests), and so are
    backfilled frames (what the exchange did *not* send on the socket; tests of backfill read them with
    :func:`stream_messages`). Returns the stream's WebSocket frames."""
    await sim.pause()
    sent = await _settled_sent(sim, setup, settle)
    assert sent, "the simulator sent nothing"
    await asyncio.sleep(0.5)  # a late duplicate would show up now
    msgs = [m for m in await stream_messages(setup.nats.url, setup.stream, naming.capture_filter(setup.prefix))
            if not is_coverage(m.data) and not is_backfill(m)]
    payloads = [m.data for m in msgs]
    missing = len(set(sent) - set(payloads))
    assert len(payloads) == len(sent), f"stream: {len(payloads)} messages, sent: {len(sent)} ({missing} missing)"
    if ordered and payloads != sent:
        first = next(i for i, (a, b) in enumerate(zip(payloads, sent, strict=True)) if a != b)
        where = {bytes(p): i for i, p in enumerate(payloads)}
        around = [(i, where.get(sent[i]), msgs[where[sent[i]]].headers.get("Nats-Msg-Id"))
                  for i in range(max(0, first - 2), min(len(sent), first + 6)) if sent[i] in where]
        raise AssertionError(f"order differs from sent index {first}: (sent index, stream index, msg-id) {around}")
    assert Counter(payloads) == Counter(sent)
    for m in msgs:
        assert m.subject == expected_subject(setup.prefix, m.data, setup.feed), (m.subject, m.data[:120])
    return msgs


def expected_subject(prefix: str, raw: bytes, feed: str | None = None) -> str:
    """The subject rule written out independently of ssmd.bus.subjects and the feed's router (so a test can
    catch a mistake there): each feed's oracle is ``expected_subject`` in ``ssmd.<feed>.testing``. ``feed``
    defaults to the last token of ``prefix`` (``prod.kalshi``)."""
    module = importlib.import_module(f"ssmd.{feed or prefix.rsplit('.', 1)[-1]}.testing")
    subject: str = module.expected_subject(prefix, raw)
    return subject
