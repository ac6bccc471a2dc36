"""kill -9 at random moments while 100,000 messages flow: the archive still equals the stream, exactly once."""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path

from archiver_helpers import Spawned, StreamEnv, frame, manifests, read_archive
from nats.js.errors import NotFoundError

TOTAL = 100_000
KILLS = 20


async def trickle(env: StreamEnv, payloads: list[bytes]) -> None:
    """Publish in small pieces so that messages are still flowing when the kill comes."""
    piece = max(1, len(payloads) // 20)
    for start in range(0, len(payloads), piece):
        await env.publish(payloads[start : start + piece])
        await asyncio.sleep(0.02)


async def ack_floor(env: StreamEnv, previous: int = 0) -> int:
    """The durable's ack floor; ``previous`` if the kill landed while the archiver was re-creating its durable."""
    try:
        info = await env.js.consumer_info(env.stream, f"arch-{env.name}")
    except NotFoundError:
        return previous
    return int(info.ack_floor.stream_seq) if info.ack_floor is not None else 0


async def test_kill_9_twenty_times_during_100k_messages(tmp_path: Path, stream_env: StreamEnv) -> None:
    """20 SIGKILLs at random points (start-up, recovery, mid-batch, mid-rotation) -> every message once, in
    order, every file a valid gzip listed in its manifest, no .tmp left after a clean stop."""
    rng = random.Random(6)
    config = stream_env.write_config(tmp_path / "a.yaml", batch={"max_messages": 500, "max_ack_pending": 2000},
                                     rotation={"interval": "2s"})
    payloads = [frame(i) for i in range(1, TOTAL + 1)]
    chunk = TOTAL // KILLS
    mid_run_kills = 0
    floor = 0
    for cycle in range(KILLS):
        archiver = Spawned(config, tmp_path / "archiver.log")
        if cycle % 4:  # three kills in four hit a running archiver, one hits start-up and recovery
            await archiver.wait_ready()
        publisher = asyncio.create_task(trickle(stream_env, payloads[cycle * chunk : (cycle + 1) * chunk]))
        await asyncio.sleep(rng.uniform(0.05, 0.5))
        flowing = not publisher.done()
        assert await asyncio.to_thread(archiver.signal, signal.SIGKILL) == -signal.SIGKILL
        await publisher
        before, floor = floor, await ack_floor(stream_env, floor)
        mid_run_kills += flowing and floor > before
    final = Spawned(config, tmp_path / "archiver.log")
    await final.wait_ready()
    for _ in range(1200):
        if await ack_floor(stream_env) >= TOTAL:
            break
        await asyncio.sleep(0.05)
    assert await asyncio.to_thread(final.signal, signal.SIGTERM) == 0, final.stderr()[-3000:]
    assert not list(stream_env.feed_dir.rglob("*.tmp"))
    archived = read_archive(stream_env.feed_dir)
    assert len(archived) == TOTAL
    assert archived == payloads
    assert sum(f["records"] for m in manifests(stream_env.feed_dir) for f in m["files"]) == TOTAL
    assert mid_run_kills >= KILLS // 2, f"only {mid_run_kills} kills hit an archiver while messages flowed"
