"""ssmd archive replay: frames go back into JetStream, acked, on the live subject mapping, paced on request."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import nats
import orjson
import pytest
from _archive_factory import ticker

from ssmd.bus.embedded import EmbeddedNats, free_port
from ssmd.bus.subjects import subject_for, unparsed_subject
from ssmd.testing import ArchiverProc, run_ssmd, write_day, write_env

T0 = 1_770_897_976


def env_file(tmp_path: Path, name: str, url: str) -> Path:
    return write_env(tmp_path / f"{name}.yaml", name, url, storage_path=str(tmp_path))


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return run_ssmd("archive", "replay", *args)


async def _stream_messages(url: str, stream: str) -> list[tuple[str, bytes]]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        out: list[tuple[str, bytes]] = []
        if not info.state.messages:
            return out
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            out.append((msg.subject or "", msg.data or b""))
        return out
    finally:
        await nc.close()


async def test_replay_publishes_every_frame_on_the_live_subjects(
    tmp_path: Path, samples: list[bytes], nats_server: EmbeddedNats, unique_name: str
) -> None:
    """Every frame, byte for byte and in order, lands in the environment's stream under {env}.kalshi.json.{type}.
    {ticker} (dots sanitised); a non-JSON frame goes to the unparsed subject."""
    frames = [*samples, b"not json at all"]
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", frames[:9]), ("1215.jsonl.gz", frames[9:])])
    env = env_file(tmp_path, unique_name, nats_server.url)
    proc = await asyncio.to_thread(replay, str(tmp_path / "arc"), "--env", str(env))
    assert proc.returncode == 0, proc.stderr
    summary = orjson.loads(proc.stdout)
    assert summary["published"] == len(frames) and summary["failed"] == 0
    got = await _stream_messages(nats_server.url, unique_name.upper() + "_KALSHI")
    prefix = f"{unique_name}.kalshi"
    expected = []
    for raw in frames:
        try:
            data = orjson.loads(raw)
            expected.append((subject_for(prefix, data["type"], data["msg"].get("market_ticker")), raw))
        except orjson.JSONDecodeError:
            expected.append((unparsed_subject(prefix), raw))
    assert got == expected
    assert f"{prefix}.json.trade.KXBTCD-26FEB1217-T67749_99" in {s for s, _ in got}


async def test_subject_prefix_replays_into_its_own_stream(
    tmp_path: Path, samples: list[bytes], nats_server: EmbeddedNats, unique_name: str
) -> None:
    """--subject-prefix publishes under that prefix into a stream named after it, created if missing."""
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", samples[:5])])
    env = env_file(tmp_path, unique_name, nats_server.url)
    proc = await asyncio.to_thread(replay, str(tmp_path / "arc"), "--env", str(env), "--subject-prefix",
                                   f"replay{unique_name}")
    assert proc.returncode == 0, proc.stderr
    got = await _stream_messages(nats_server.url, f"REPLAY{unique_name.upper()}")
    assert [d for _, d in got] == samples[:5]
    assert all(s.startswith(f"replay{unique_name}.json.ticker.") for s, _ in got)


def test_speed_paces_by_frame_time(tmp_path: Path, nats_server: EmbeddedNats, unique_name: str) -> None:
    """--speed 2 spreads frames 2 s apart in exchange time over at least ~1 s of wall time."""
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", [ticker(T0), ticker(T0 + 1), ticker(T0 + 2)])])
    env = env_file(tmp_path, unique_name, nats_server.url)
    proc = replay(str(tmp_path / "arc"), "--env", str(env), "--speed", "2")
    assert proc.returncode == 0, proc.stderr
    summary = orjson.loads(proc.stdout)
    assert summary["published"] == 3
    assert summary["seconds"] >= 0.9


def test_unreachable_nats_is_exit_2(tmp_path: Path, samples: list[bytes], unique_name: str) -> None:
    """With no NATS at the URL the command exits 2 and names the URL."""
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", samples[:2])])
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    proc = replay(str(tmp_path / "arc"), "--env", str(env_file(tmp_path, unique_name, url)))
    assert proc.returncode == 2 and url in proc.stderr
    assert time.monotonic() - started < 60


async def test_a_stream_capturing_other_subjects_is_refused(
    tmp_path: Path, samples: list[bytes], nats_server: EmbeddedNats, unique_name: str
) -> None:
    """Replaying into an existing stream that does not capture the prefix is an error (exit 1), nothing sent."""
    nc = await nats.connect(nats_server.url)
    try:
        await nc.jetstream().add_stream(name=f"OTHER{unique_name.upper()}", subjects=[f"other{unique_name}.>"])
    finally:
        await nc.close()
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", samples[:2])])
    env = env_file(tmp_path, unique_name, nats_server.url)
    proc = await asyncio.to_thread(replay, str(tmp_path / "arc"), "--env", str(env), "--stream",
                                   f"OTHER{unique_name.upper()}")
    assert proc.returncode == 1 and "does not cover" in proc.stderr
    assert (await _stream_messages(nats_server.url, f"OTHER{unique_name.upper()}")) == []


def test_bad_speed_is_a_usage_error(tmp_path: Path, samples: list[bytes], unique_name: str) -> None:
    """--speed 0 is refused with exit 2 before connecting."""
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", samples[:2])])
    env = env_file(tmp_path, unique_name, "nats://127.0.0.1:4222")
    proc = replay(str(tmp_path / "arc"), "--env", str(env), "--speed", "0")
    assert proc.returncode == 2 and "--speed" in proc.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "envelope"])
async def test_replay_into_a_fresh_stream_and_rearchive_gives_identical_lines(
    tmp_path: Path, samples: list[bytes], nats_server: EmbeddedNats, unique_name: str, fmt: str
) -> None:
    """Archive -> replay into a new stream -> the real ssmd-archiver -> the same lines, byte for byte, in order,
    and the archiver's output passes verify."""
    frames = [*samples, b"not json at all"]
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", frames[:13]), ("1215.jsonl.gz", frames[13:])])
    env = env_file(tmp_path, unique_name, nats_server.url)
    assert (await asyncio.to_thread(replay, str(tmp_path / "arc"), "--env", str(env))).returncode == 0
    stream = f"{unique_name.upper()}_KALSHI"
    config = tmp_path / "archiver.yaml"
    config.write_text(
        f"nats:\n  url: {nats_server.url}\n  stream: {stream}\n  consumer: rearchive\n"
        f"  filter: {unique_name}.kalshi.>\nstorage:\n  path: {tmp_path / 'again'}\nfeed: kalshi\nformat: {fmt}\n")
    archiver = ArchiverProc(config, tmp_path / "archiver.log")
    try:
        await archiver.wait_archived(len(frames))
    finally:
        assert archiver.terminate() == 0, archiver.logs()
    import ssmd.archive
    from ssmd.archive.verify import verify

    again = list(ssmd.archive.open(tmp_path / "again"))
    assert [f.raw for f in again] == frames
    if fmt == "envelope":
        assert [f.seq for f in again] == list(range(1, len(frames) + 1))
    report = verify(tmp_path / "again", show_progress=False)
    assert report.ok, report.to_json()
    assert report.totals()["records"] == len(frames)


async def test_rejected_publishes_are_counted_and_exit_1(
    tmp_path: Path, samples: list[bytes], nats_server: EmbeddedNats, unique_name: str
) -> None:
    """When the stream refuses messages (full, discard=new) the refusals are counted, reported and exit 1."""
    from nats.js.api import DiscardPolicy, StreamConfig

    nc = await nats.connect(nats_server.url)
    try:
        config = StreamConfig(name=f"FULL{unique_name.upper()}", subjects=[f"full{unique_name}.>"], max_msgs=3,
                              discard=DiscardPolicy.NEW)
        await nc.jetstream().add_stream(config)
    finally:
        await nc.close()
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", samples[:5])])
    env = env_file(tmp_path, unique_name, nats_server.url)
    proc = await asyncio.to_thread(replay, str(tmp_path / "arc"), "--env", str(env), "--subject-prefix",
                                   f"full{unique_name}", "--stream", f"FULL{unique_name.upper()}")
    assert proc.returncode == 1, proc.stderr
    summary = orjson.loads(proc.stdout)
    assert (summary["published"], summary["failed"]) == (3, 2)
    assert "maximum messages" in summary["first_error"]


async def test_replay_publishes_what_is_readable_and_names_the_rest(
    tmp_path: Path, samples: list[bytes], nats_server: EmbeddedNats, unique_name: str
) -> None:
    """A zero-byte file is named on stderr as bad_gzip; the other frames are published, and the exit code is 1,
    or 0 with --ignore-problems (then the frames are published again, as asked)."""
    day = write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", samples[:9]), ("1215.jsonl.gz", samples[9:])])
    (day / "1215.jsonl.gz").write_bytes(b"")
    env = env_file(tmp_path, unique_name, nats_server.url)
    proc = await asyncio.to_thread(replay, str(tmp_path / "arc"), "--env", str(env))
    assert proc.returncode == 1, proc.stderr
    assert "problem: kalshi/2026-02-12/1215.jsonl.gz: bad_gzip: " in proc.stderr
    summary = orjson.loads(proc.stdout)
    assert (summary["published"], summary["problems"]) == (9, {"bad_gzip": 1})
    accepted = await asyncio.to_thread(replay, str(tmp_path / "arc"), "--env", str(env), "--ignore-problems")
    assert accepted.returncode == 0, accepted.stderr
    got = await _stream_messages(nats_server.url, unique_name.upper() + "_KALSHI")
    assert [raw for _, raw in got] == samples[:9] * 2


async def test_a_frame_over_max_payload_is_a_named_failure_and_the_rest_is_published(
    tmp_path: Path, samples: list[bytes], nats_server: EmbeddedNats, unique_name: str
) -> None:
    """NATS closes a connection that sends more than max_payload: the frame is counted as failed with the reason,
    never sent, and the frames around it are published on the same connection."""
    big = b'{"type":"trade","sid":1,"msg":{"market_ticker":"BIG","pad":"' + b"x" * 1_100_000 + b'"}}'
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", [*samples[:3], big, *samples[3:6]])])
    env = env_file(tmp_path, unique_name, nats_server.url)
    proc = await asyncio.to_thread(replay, str(tmp_path / "arc"), "--env", str(env))
    assert proc.returncode == 1, proc.stderr
    summary = orjson.loads(proc.stdout)
    assert (summary["published"], summary["failed"]) == (6, 1)
    assert "max_payload" in summary["first_error"]
    assert "Traceback" not in proc.stderr
