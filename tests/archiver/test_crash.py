"""kill -9 at random moments while 100,000 messages flow: the archive still equals the stream, exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import deque
from pathlib import Path

import pytest
from archiver_helpers import StreamEnv, frame, manifests

from ssmd.testing import ArchiverProc, read_archive, wait_until

TOTAL = 100_000
KILLS = 20

pytestmark = pytest.mark.slow


class Trickle:
    """Publishes one cycle's messages in small pieces, about 1 s in all, so that they are still flowing when the
    kill comes. The last piece waits for the kill: `kill_after_burst` publishes the next piece and freezes the
    archiver at once, so that it dies with messages it has not acked, however fast the machine is."""

    def __init__(self, env: StreamEnv, payloads: list[bytes]) -> None:
        piece = max(1, len(payloads) // 20)
        self.env = env
        self.pending = deque(payloads[start : start + piece] for start in range(0, len(payloads), piece))
        self.lock = asyncio.Lock()  # one publisher at a time keeps the stream in payload order

    async def run(self) -> None:
        while len(self.pending) > 1:
            async with self.lock:
                await self.env.publish(self.pending.popleft())
            await asyncio.sleep(0.05)

    async def kill_after_burst(self, archiver: ArchiverProc) -> bool:
        """Publish the next piece, then SIGSTOP and SIGKILL the archiver: True when it died with published messages
        unacked. A stopped process never runs again, so the kill lands exactly where SIGSTOP froze it, and what the
        durable shows in between is what the crash left behind."""
        async with self.lock:
            if self.pending:
                await self.env.send(self.pending.popleft())
            os.kill(archiver.proc.pid, signal.SIGSTOP)
            await self.env.wait_stored()
            unacked = (await self.env.js.stream_info(self.env.stream)).state.last_seq > await self.env.ack_floor()
            assert await asyncio.to_thread(archiver.kill) == -9
            return unacked

    async def finish(self, running: asyncio.Task[None]) -> None:
        await running
        while self.pending:
            await self.env.publish(self.pending.popleft())


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
        archiver = ArchiverProc(config, tmp_path / "archiver.log")
        before = floor
        trickle = Trickle(stream_env, payloads[cycle * chunk : (cycle + 1) * chunk])
        publisher = asyncio.create_task(trickle.run())
        if cycle % 4:
            # three kills in four hit an archiver at work: started, and acking this cycle's messages
            await archiver.wait_ready()

            async def progressed(before: int = before) -> bool:
                return await stream_env.ack_floor() > before

            await wait_until(progressed, what="the archiver to ack some of this cycle's messages")
            await asyncio.sleep(rng.uniform(0, 0.2))
        else:  # one in four hits start-up and recovery
            await asyncio.sleep(rng.uniform(0.05, 0.5))
        unacked = await trickle.kill_after_burst(archiver)
        await trickle.finish(publisher)
        # the durable's ack floor (it is gone for a moment if the kill came while the archiver re-created it)
        floor = max(floor, await stream_env.ack_floor())
        mid_run_kills += unacked and floor > before
    final = ArchiverProc(config, tmp_path / "archiver.log")
    await final.wait_ready()

    async def all_acked() -> bool:
        return await stream_env.ack_floor() >= TOTAL

    await wait_until(all_acked, timeout=180, what=f"the durable to ack all {TOTAL} messages")
    assert await asyncio.to_thread(final.terminate) == 0, final.logs()[-3000:]
    assert not list(stream_env.feed_dir.rglob("*.tmp"))
    archived = read_archive(stream_env.feed_dir)
    assert len(archived) == TOTAL
    assert archived == payloads
    assert sum(f["records"] for m in manifests(stream_env.feed_dir) for f in m["files"]) == TOTAL
    assert mid_run_kills >= KILLS // 2, f"only {mid_run_kills} kills hit an archiver with messages in flight"
