"""Per-line origin (docs/archive-format.md, subfield ``SO``): which connector instance and connection published each
archived line, durable with the line, across ``kill -9``; lines and archive bytes unchanged without it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from archiver_helpers import StreamEnv, frame

from ssmd.archive._bulk import read_batches
from ssmd.archive_format.days import find_days
from ssmd.archive_format.lines import FileLines
from ssmd.archive_format.members import Origin, compressor, decode_origins, encode_member, scan_members
from ssmd.archive_format.problems import Problems
from ssmd.archive_format.writer import ArchiveWriter, Record
from ssmd.bus.headers import CONNECTION, INSTANCE
from ssmd.kalshi import frames as kalshi_frames
from ssmd.testing import ArchiverProc, read_archive, wait_until

ORIGINS = [Origin("zone-a", "c1"), Origin("zone-b", "c7"), None]
"""Two redundant connectors, and a message without the headers (an older connector, a replay)."""


def origin_of(i: int) -> Origin | None:
    return ORIGINS[i % 3] if i % 11 else ORIGINS[(i // 11) % 2]


def lines_with_origins(feed_dir: Path) -> list[tuple[bytes, Origin | None]]:
    problems = Problems()
    out = []
    for day in find_days(feed_dir):
        _manifest, entries = day.listing(problems.add)
        for _name, path in day.files(entries):
            assert path is not None
            lines = FileLines(path, day.where(path.name), "jsonl", problems.add)
            out.extend((raw, origin) for _n, raw, _seq, origin in lines.with_origins())
    assert not problems, list(problems)
    return out


async def publish(env: StreamEnv, first: int, last: int) -> None:
    for i in range(first, last + 1):
        origin = origin_of(i)
        headers = {INSTANCE: origin.instance or "", CONNECTION: origin.connection or ""} if origin else None
        await env.nc.publish(f"{env.prefix}.json.ticker.T{i % 7}", frame(i), headers=headers)
    env.sent = last
    await env.nc.flush()

    async def stored() -> bool:
        return bool((await env.js.stream_info(env.stream)).state.last_seq >= last)

    await wait_until(stored, what="the stream to store the published messages", interval=0.02)


async def test_archiver_keeps_each_lines_origin_across_kill_9(tmp_path: Path, stream_env: StreamEnv) -> None:
    """Messages from two instances/connections (and some with no origin headers) through the real archiver, which
    is killed with -9 mid-stream and restarted: every line once, in order, with the origin it was published with."""
    total = 6000
    config = stream_env.write_config(tmp_path / "a.yaml", batch={"max_messages": 200, "max_ack_pending": 1000})
    first = ArchiverProc(config, tmp_path / "archiver.log")
    await first.wait_ready()
    await publish(stream_env, 1, total // 2)

    async def some_acked() -> bool:
        return await stream_env.ack_floor() > 500

    await wait_until(some_acked, what="the archiver to ack some messages")
    assert await asyncio.to_thread(first.kill) == -9
    await publish(stream_env, total // 2 + 1, total)
    second = ArchiverProc(config, tmp_path / "archiver.log")
    await second.wait_ready()

    async def all_acked() -> bool:
        return await stream_env.ack_floor() >= total

    await wait_until(all_acked, timeout=120, what="the archiver to ack every message")
    assert await asyncio.to_thread(second.terminate) == 0, second.logs()[-3000:]
    assert read_archive(stream_env.feed_dir) == [frame(i) for i in range(1, total + 1)]  # lines: the exchange's
    assert lines_with_origins(stream_env.feed_dir) == [(frame(i), origin_of(i)) for i in range(1, total + 1)]


async def test_origins_split_a_batch_that_outgrows_fextra_and_old_members_have_none(tmp_path: Path) -> None:
    """A batch with more origin data than FEXTRA holds becomes several members (each line keeps its origin); a member
    written without origins (before they existed) is byte for byte what it was, and reads as origin None."""
    many = [Origin(f"instance-{i:04d}-" + "x" * 100, f"connection-{i}") for i in range(2000)]
    writer = ArchiveWriter(tmp_path, "kalshi", 86400, "1d", clock=lambda: 1764072000.0, facts=kalshi_frames)
    await writer.write_batch([Record(frame(i), i, "p.json.ticker.T", 0, many[i - 1]) for i in range(1, 2001)])
    await writer.write_batch([Record(frame(i), i, "p.json.ticker.T", 0) for i in range(2001, 2101)])
    await writer.close()
    feed_dir = tmp_path / "kalshi"
    path = next(feed_dir.rglob("*.jsonl.gz"))
    data = path.read_bytes()
    assert sum(batch.frames.num_rows for batch in read_batches(path, "jsonl", ["market_ticker"])) == 2100
    members = list(scan_members(data))
    assert len(members) > 2 and members[-1][0].origin_field is None
    assert [i.records for i, _ in members[:-1]] != [2000]
    assert decode_origins(members[-1][0].origin_field, 100) == [None] * 100
    plain = encode_member(members[-1][1], 2001, 2100, 100, compressor("isal", 3))
    assert data.endswith(plain)
    assert lines_with_origins(feed_dir) == [(frame(i), many[i - 1]) for i in range(1, 2001)] + [
        (frame(i), None) for i in range(2001, 2101)]
