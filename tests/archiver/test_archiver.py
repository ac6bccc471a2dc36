"""The archiver against a real nats-server: exactly the stream's messages, once, in order, acked after disk."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from archiver_helpers import Running, StreamEnv, frame, manifests
from nats.js.api import AckPolicy, ConsumerConfig

from ssmd.bus.streams import StreamConflict
from ssmd.testing import fill_disk, read_archive

Start = Callable[..., Running]


async def test_every_message_archived_once_in_order(stream_env: StreamEnv, start_archiver: Start) -> None:
    """N published frames -> lines that are exactly those payloads, once each, in stream order."""
    payloads = [frame(i) for i in range(1, 3001)]
    await stream_env.publish(payloads)
    run = start_archiver(stream_env.config())
    await run.archived(3000)
    await run.close()
    assert read_archive(stream_env.feed_dir) == payloads
    assert run.archiver.metrics.messages._value.get() == 3000


async def test_acknowledges_what_was_written(stream_env: StreamEnv, start_archiver: Start) -> None:
    """After a clean stop the consumer's ack floor is the last archived sequence: nothing is left pending."""
    await stream_env.publish([frame(i) for i in range(1, 501)])
    run = start_archiver(stream_env.config())
    await run.archived(500)
    await run.close()
    assert await stream_env.ack_floor() == 500


async def test_messages_published_while_running_are_archived(stream_env: StreamEnv, start_archiver: Start) -> None:
    """Live delivery: messages arriving after start are written as they come, with no timer tick needed."""
    run = start_archiver(stream_env.config())
    await run.until(lambda: run.archiver.ready() is None)
    for chunk in range(5):
        await stream_env.publish([frame(chunk * 100 + i) for i in range(100)])
        await run.archived((chunk + 1) * 100)
    await run.close()
    assert read_archive(stream_env.feed_dir) == [frame(i) for i in range(500)]


async def test_restart_same_day_lists_all_files(stream_env: StreamEnv, start_archiver: Start) -> None:
    """Two runs on one day: two files, both in the manifest, all messages once."""
    await stream_env.publish([frame(i) for i in range(1, 101)])
    run = start_archiver(stream_env.config())
    await run.archived(100)
    await run.close()
    await stream_env.publish([frame(i) for i in range(101, 201)])
    run = start_archiver(stream_env.config())
    await run.archived(200)
    await run.close()
    (manifest,) = manifests(stream_env.feed_dir)
    assert [(f["name"], f["nats_start_seq"], f["nats_end_seq"]) for f in manifest["files"]] == [
        ("0000.jsonl.gz", 1, 100), ("0000_1.jsonl.gz", 101, 200)]
    assert read_archive(stream_env.feed_dir) == [frame(i) for i in range(1, 201)]


async def test_gap_from_purge_while_down_is_recorded(whole_stream_env: StreamEnv, start_archiver: Start) -> None:
    """Messages the stream dropped while the archiver was down are recorded with their exact count."""
    stream_env = whole_stream_env
    await stream_env.publish([frame(i) for i in range(1, 101)])
    run = start_archiver(stream_env.config())
    await run.archived(100)
    await run.close()
    await stream_env.publish([frame(i) for i in range(101, 151)])
    await stream_env.js.purge_stream(stream_env.stream)
    await stream_env.publish([frame(i) for i in range(151, 171)])
    run = start_archiver(stream_env.config())
    await run.archived(170)
    await run.close()
    (manifest,) = manifests(stream_env.feed_dir)
    assert [(g["after_seq"], g["missing_count"]) for g in manifest["gaps"]] == [(100, 50)]
    assert manifest["has_gaps"] is True
    assert run.archiver.metrics.missing._value.get() == 50
    assert read_archive(stream_env.feed_dir) == [frame(i) for i in [*range(1, 101), *range(151, 171)]]


async def test_partial_filter_has_no_false_gaps(stream_env: StreamEnv, start_archiver: Start) -> None:
    """A filter covering part of the stream skips sequences by design: no gap is recorded."""
    for i in range(1, 201):
        await stream_env.nc.publish(f"{stream_env.prefix}.json.{'trade' if i % 3 == 0 else 'ticker'}.T", frame(i))
    stream_env.sent += 200
    await stream_env.publish([])
    config = stream_env.config(nats={"filter": f"{stream_env.prefix}.json.trade.>"})
    run = start_archiver(config)
    await run.archived(198)
    await run.close()
    (manifest,) = manifests(stream_env.feed_dir)
    assert manifest["gaps"] == [] and manifest["has_gaps"] is False
    assert read_archive(stream_env.feed_dir) == [frame(i) for i in range(3, 201, 3)]


async def test_partial_filter_purge_is_reported_as_possible_loss(
    stream_env: StreamEnv, start_archiver: Start
) -> None:
    """With a partial filter a discard cannot be counted: it is flagged (metric), not recorded as a gap."""
    config = stream_env.config(nats={"filter": f"{stream_env.prefix}.json.ticker.>"})
    await stream_env.publish([frame(i) for i in range(1, 11)])
    run = start_archiver(config)
    await run.archived(10)
    await run.close()
    await stream_env.publish([frame(i) for i in range(11, 21)])
    await stream_env.js.purge_stream(stream_env.stream)
    await stream_env.publish([frame(i) for i in range(21, 31)])
    run = start_archiver(config)
    await run.archived(30)
    await run.close()
    assert run.archiver.metrics.possible_gaps._value.get() == 1
    (manifest,) = manifests(stream_env.feed_dir)
    assert manifest["gaps"] == [] and manifest["has_gaps"] is False
    assert [(g["after_seq"], g["discarded_stream_seqs"]) for g in manifest["possible_gaps"]] == [(10, 10)]


async def test_durable_with_another_filter_is_an_error(stream_env: StreamEnv, start_archiver: Start) -> None:
    """An existing durable with a different filter stops start-up with both filters named."""
    other = f"{stream_env.prefix}.json.trade.>"
    await stream_env.js.add_consumer(stream_env.stream, ConsumerConfig(
        durable_name=f"arch-{stream_env.name}", filter_subject=other, ack_policy=AckPolicy.EXPLICIT))
    run = start_archiver(stream_env.config())
    with pytest.raises(StreamConflict) as err:
        await asyncio.wait_for(run.task, 20)
    assert other in str(err.value) and f"{stream_env.prefix}.json.>" in str(err.value)


async def test_filter_outside_the_stream_is_an_error(stream_env: StreamEnv, start_archiver: Start) -> None:
    """A filter the stream does not capture is an error at start-up, not a silent month of nothing."""
    run = start_archiver(stream_env.config(nats={"filter": "elsewhere.kalshi.json.>"}))
    with pytest.raises(StreamConflict, match="does not cover"):
        await asyncio.wait_for(run.task, 20)


async def test_rotation_closes_files_on_the_boundary_without_messages(
    stream_env: StreamEnv, start_archiver: Start
) -> None:
    """With an injected clock: at the window end the file is closed (no new message needed); next goes to 1215."""
    now = [dt.datetime(2026, 11, 25, 12, 14, 58, tzinfo=dt.UTC).timestamp()]
    run = start_archiver(stream_env.config(rotation={"interval": "15m"}), clock=lambda: now[0])
    await stream_env.publish([frame(i) for i in range(1, 11)])
    await run.archived(10)
    day = stream_env.feed_dir / "2026-11-25"
    assert (day / "1200.jsonl.gz.tmp").exists()
    now[0] += 5
    await run.until(lambda: (day / "manifest.json").exists())
    assert [f["name"] for f in manifests(stream_env.feed_dir)[0]["files"]] == ["1200.jsonl.gz"]
    await stream_env.publish([frame(i) for i in range(11, 21)])
    await run.archived(20)
    await run.close()
    files = manifests(stream_env.feed_dir)[0]["files"]
    assert [(f["name"], f["nats_start_seq"]) for f in files] == [("1200.jsonl.gz", 1), ("1215.jsonl.gz", 11)]


async def test_nats_restart_loses_and_duplicates_nothing(own_stream_env: StreamEnv, start_archiver: Start) -> None:
    """A NATS server restart mid-run: the archiver reconnects, re-creates its consumer, and the archive is exact."""
    env = own_stream_env
    await env.publish([frame(i) for i in range(1, 1001)])
    run = start_archiver(env.config())
    await run.archived(1000)
    await asyncio.to_thread(env.server.stop)
    await asyncio.to_thread(env.server.start)
    await run.until(lambda: run.archiver.ready() is None and run.archiver._nc is not None
                    and run.archiver._nc.is_connected)
    await env.nc.flush()
    for attempt in range(50):  # the test's own client reconnects too
        if env.nc.is_connected:
            break
        await asyncio.sleep(0.1 * attempt)
    await env.publish([frame(i) for i in range(1001, 2001)])
    await run.archived(2000)
    await run.close()
    assert read_archive(env.feed_dir) == [frame(i) for i in range(1, 2001)]



async def test_disk_full_stops_acking_and_resumes(
    stream_env: StreamEnv, start_archiver: Start, tiny_fs: Path
) -> None:
    """Full disk: not ready, nothing acknowledged that is not written, nothing lost; once space returns everything
    is archived."""
    config = stream_env.config(storage={"path": str(tiny_fs)}, compression={"level": 0})
    feed_dir = tiny_fs / "kalshi"
    run = start_archiver(config)
    await stream_env.publish([frame(i) for i in range(1, 101)])
    await run.archived(100)
    fill_disk(tiny_fs / "filler")
    bulky = [b'{"type":"ticker","pad":"%s"}' % os.urandom(200).hex().encode() for _ in range(2000)]
    await stream_env.publish(bulky)
    await run.until(lambda: (run.archiver.ready() or "").startswith("cannot write"))
    assert run.archiver.metrics.write_errors._value.get() >= 1
    # the open file may still take a few lines into its last page: those are written, so they may be acked
    assert 100 <= await stream_env.ack_floor() <= run.archiver.writer.last_seq < 2100
    (tiny_fs / "filler").unlink()
    await run.archived(2100)
    await run.until(lambda: run.archiver.ready() is None)
    await run.close()
    assert read_archive(feed_dir) == [frame(i) for i in range(1, 101)] + bulky


async def test_unusable_storage_path_is_not_ready_then_resumes(
    stream_env: StreamEnv, start_archiver: Start, tmp_path: Path
) -> None:
    """A storage path that cannot hold directories: not ready, nothing acked; fixed -> everything archived."""
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the archive directory should be")
    run = start_archiver(stream_env.config(storage={"path": str(blocker)}))
    await stream_env.publish([frame(i) for i in range(1, 51)])
    await run.until(lambda: (run.archiver.ready() or "").startswith("cannot write"))
    assert await stream_env.ack_floor() == 0
    blocker.unlink()
    await run.archived(50)
    await run.close()
    assert read_archive(blocker / "kalshi") == [frame(i) for i in range(1, 51)]


async def test_file_closed_during_disk_full_retry_is_counted_once(
    stream_env: StreamEnv, start_archiver: Start, tiny_fs: Path
) -> None:
    """A window ends while the disk is full: the file is closed but its manifest entry cannot be saved. Once
    space returns, ssmd_archiver_files_total counts that file and the next one, each exactly once."""
    now = [dt.datetime(2026, 11, 25, 12, 14, 50, tzinfo=dt.UTC).timestamp()]
    config = stream_env.config(storage={"path": str(tiny_fs)}, rotation={"interval": "15m"},
                               compression={"level": 0})
    run = start_archiver(config, clock=lambda: now[0])
    await stream_env.publish([frame(i) for i in range(1, 101)])
    await run.archived(100)
    fill_disk(tiny_fs / "filler")
    now[0] += 15  # 12:15:05: the 1200 window is over; closing it needs a manifest write on a full disk
    await run.until(lambda: (run.archiver.ready() or "").startswith("cannot write"), limit=20)
    await stream_env.publish([frame(i) for i in range(101, 201)])
    (tiny_fs / "filler").unlink()
    await run.archived(200, limit=30)
    await run.close()
    files = [f["name"] for m in manifests(tiny_fs / "kalshi") for f in m["files"]]
    assert files == ["1200.jsonl.gz", "1215.jsonl.gz"]
    assert read_archive(tiny_fs / "kalshi") == [frame(i) for i in range(1, 201)]
    assert run.archiver.metrics.files._value.get() == len(files)
