"""``ssmd archive coverage`` and verify's coverage summary on archives holding coverage events among real frames:
staggered outages of two instances, one both-down window made by a ``kill -9`` (heartbeats stop) and a
disconnect, and the report names exactly that window."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson
import pytest
from _scenario import GAP, T0_MS, payloads, write_scenario

from ssmd.coverage import CoverageRecorder, build, uncovered_seconds
from ssmd.coverage.events import decode
from ssmd.testing import read_samples, run_ssmd, wait_until, write_day


@pytest.fixture
def archive(tmp_path: Path, samples_path: Path) -> Path:
    return write_scenario(tmp_path / "arc", read_samples(samples_path), fmt="envelope")


def test_json_names_exactly_the_both_down_window_and_exits_1(archive: Path) -> None:
    proc = run_ssmd("archive", "coverage", archive, "--json")
    assert proc.returncode == 1, proc.stderr
    report = orjson.loads(proc.stdout)
    assert [(g["start"], g["end"]) for g in report["gaps"]] == [GAP]
    gap = report["gaps"][0]
    assert {(c["instance"], c["event"]) for c in gap["causes"]} == {("a", "silent"), ("b", "disconnected")}
    assert [(r["channel"], r["count"], r["complete"]) for r in gap["recovered"]] == [("trade", 5, True)]
    assert {u["channel"] for u in gap["unrecovered"]} == {"ticker", "orderbook_delta"}
    assert report["uncovered_seconds"] == 30.0
    trade_a = report["instances"]["a"]["windows"]["kalshi/trade"]
    assert [(w["start"][11:19], w["end"][11:19]) for w in trade_a] == [
        ("12:00:00", "12:01:40"), ("12:02:10", "12:05:10"), ("12:06:00", "12:10:00")]
    assert report["instances"]["a"]["runs"] == 2


def test_text_report_and_a_range_without_gaps_exits_0(archive: Path) -> None:
    text = run_ssmd("archive", "coverage", archive)
    assert text.returncode == 1, text.stderr
    assert f"{GAP[0]} .. {GAP[1]} (30 s): not captured" in text.stdout
    assert "cannot be recovered: kalshi/orderbook_delta, kalshi/ticker" in text.stdout
    after = run_ssmd("archive", "coverage", archive, "--start", "2026-02-12T12:05:40Z", "--json")
    assert after.returncode == 0, after.stderr
    assert orjson.loads(after.stdout)["gaps"] == []


def test_html_is_one_self_contained_page(archive: Path, tmp_path: Path) -> None:
    page = tmp_path / "coverage.html"
    proc = run_ssmd("archive", "coverage", archive, "--html", page)
    assert proc.returncode == 1, proc.stderr
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<style>" in html
    assert len(re.findall(r'<rect class="gap"', html)) == 1
    assert len(re.findall(r'<rect class="backfill"', html)) == 2  # a's and b's, each on its own trade row
    assert not re.search(r"<script|<link|src=|href=|url\(|https?://", html)


def test_verify_summary_reports_the_gap_without_failing(archive: Path) -> None:
    proc = run_ssmd("archive", "verify", archive)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "coverage: 1 gap(s) with no instance subscribed, 30 s in all" in proc.stdout
    assert f"{GAP[0]} .. {GAP[1]}" in proc.stdout
    report = orjson.loads(run_ssmd("archive", "verify", archive, "--json").stdout)
    assert [(g["start"], g["end"]) for g in report["coverage"]["gaps"]] == [GAP]


def test_coverage_lines_are_counted_by_stats_and_export_and_skipped_by_cat_types(archive: Path,
                                                                                 tmp_path: Path) -> None:
    stats = orjson.loads(run_ssmd("archive", "stats", archive, "--json", "--raw").stdout)
    assert stats["by_type"]["ssmd_coverage"] == len(payloads())
    merged = orjson.loads(run_ssmd("archive", "stats", archive, "--json").stdout)  # the merged view: data only
    assert "ssmd_coverage" not in merged["by_type"] and merged["frames"] == stats["frames"] - len(payloads())
    export = run_ssmd("archive", "export", archive, "--to", "csv", tmp_path / "out")
    assert export.returncode == 0, export.stderr
    summary = orjson.loads(export.stdout)
    assert summary["not_exported"] == len(payloads()) and summary["rows"]["trades"] > 0
    trades = run_ssmd("archive", "cat", archive, "--types", "trade").stdout.splitlines()
    assert trades and not any(line.startswith('{"ssmd_coverage"') for line in trades)


def test_bad_input_is_a_clear_error(archive: Path, tmp_path: Path, samples_path: Path) -> None:
    cases = [
        (["--start", "noon"], "error: --start: not a date or time: 'noon'"),
        (["--end", "2026-02-12T12:00:00Z", "--start", "2026-02-12T12:05:00Z"], "must be after --start"),
        (["--html", tmp_path / "no" / "such" / "dir.html"], "error: --html "),
    ]
    for extra, message in cases:
        proc = run_ssmd("archive", "coverage", archive, *extra)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "no").exists()
    feed = run_ssmd("archive", "coverage", archive, "--feed", "polymarket")
    assert feed.returncode == 2 and "polymarket" in feed.stderr and "Traceback" not in feed.stderr
    missing = run_ssmd("archive", "coverage", tmp_path / "nothing")
    assert missing.returncode == 2 and "nothing" in missing.stderr and "Traceback" not in missing.stderr
    write_day(tmp_path / "plain", "2026-02-12", [("1200.jsonl.gz", read_samples(samples_path)[:5])])
    plain = run_ssmd("archive", "coverage", tmp_path / "plain")
    assert plain.returncode == 2 and "no coverage events" in plain.stderr


def test_a_damaged_coverage_line_is_a_problem(tmp_path: Path) -> None:
    lines = [*payloads(), b'{"ssmd_coverage":1,"event":"subscribed"}']
    write_day(tmp_path / "arc", "2026-02-12", [("1200.jsonl.gz", lines)])
    proc = run_ssmd("archive", "coverage", tmp_path / "arc", "--json")
    assert proc.returncode == 1
    assert "problem: kalshi/2026-02-12/1200.jsonl.gz:141: bad_coverage_event: feed: expected" in proc.stderr
    assert orjson.loads(proc.stdout)["problems"] == {"bad_coverage_event": 1}
    verify = run_ssmd("archive", "verify", tmp_path / "arc")
    assert verify.returncode == 1 and "bad_coverage_event" in verify.stdout


def _events(script: list[tuple[int, str, tuple[object, ...]]], instances: tuple[str, ...] = ("a",)) -> list[bytes]:
    """Run ``(second, instance.method, args)`` through real recorders; every instance beats every 10 s to 120."""
    out: list[bytes] = []
    now = [0]
    recs = {name: CoverageRecorder(lambda _s, p: out.append(p), env="prod", feed="kalshi", instance=name,
                                   clock=lambda: T0_MS + now[0] * 1000) for name in instances}
    todo = sorted(script, key=lambda s: s[0])
    for second in range(121):
        now[0] = second
        for _t, call, args in [s for s in todo if s[0] == second]:
            name, method = call.split(".")
            getattr(recs[name], method)(*args)
        if second % 10 == 0:
            for rec in recs.values():
                rec.heartbeat()
    return out


def test_market_level_seq_gap_and_deliberate_unsubscribe() -> None:
    """One instance: a seq gap on M1 is a gap of M1's book until the re-snapshot; dropping M2 on purpose is not."""
    raw = _events([(0, "a.subscribed", ("book", ["M1", "M2"], 0)), (30, "a.seq_gap", ("book", "M1", "seq 9", 0)),
                   (42, "a.resnapshot", ("book", "M1", 0)), (60, "a.unsubscribed", ("book", ["M2"], 0))])
    report = build([decode(r) for r in raw])
    assert [(g.start_ms - T0_MS, g.end_ms - T0_MS) for g in report.gaps] == [(30_000, 42_000)]
    assert report.gaps[0].channels[0].markets.to_json() == ["M1"]
    assert uncovered_seconds(report) == 12.0 == uncovered_seconds(report, ("kalshi", "book"))


def test_a_subscription_the_exchange_dropped_is_a_gap_until_subscribed_again_unless_another_instance_has_it(
) -> None:
    """Alone, a dropped ticker subscription is a gap (cause: the exchange's error) until the resubscribe; the other
    channels of the connection stay covered. With a second instance subscribed meanwhile there is no gap."""
    script = [(0, "a.subscribed", ("ticker", "all", 0)), (0, "a.subscribed", ("trade", "all", 0)),
              (30, "a.dropped", ("ticker", "all", "error 17: Internal error", 0)),
              (31, "a.subscribed", ("ticker", "all", 0))]
    report = build([decode(r) for r in _events(script)])
    assert [(g.start_ms - T0_MS, g.end_ms - T0_MS) for g in report.gaps] == [(30_000, 31_000)]
    assert [c.unit for c in report.gaps[0].channels] == [("kalshi", "ticker")]
    assert [(c.event, c.cause) for c in report.gaps[0].causes] == [("dropped", "error 17: Internal error")]
    both = _events([*script, (0, "b.subscribed", ("ticker", "all", 0))], instances=("a", "b"))
    assert build([decode(r) for r in both]).gaps == []


def test_an_instance_alone_killed_leaves_a_gap_until_the_end_asked_for() -> None:
    raw = _events([(0, "a.subscribed", ("trade", "all"))])
    events = [decode(r) for r in raw if decode(r).ts_ms <= T0_MS + 50_000]  # kill -9 after the beat at 50 s
    report = build(events, end_ms=T0_MS + 120_000)
    assert [(g.start_ms - T0_MS, g.end_ms - T0_MS) for g in report.gaps] == [(70_000, 120_000)]
    assert build(events).gaps == []  # the archive's own range ends at the last event: nothing asked beyond it


def test_grace_moves_the_start_of_a_kill_9_gap(archive: Path) -> None:
    """The gap begins when A's grace after its last heartbeat (12:04:50) runs out: 20 s by default, 15 s asked."""
    proc = run_ssmd("archive", "coverage", archive, "--json", "--grace", "15")
    assert [(g["start"], g["end"]) for g in orjson.loads(proc.stdout)["gaps"]] == [
        ("2026-02-12T12:05:05.000Z", GAP[1])]


async def test_recorder_refuses_bad_arguments_and_heartbeats_survive_a_failed_publish() -> None:
    with pytest.raises(ValueError, match="markets: expected \"all\""):
        CoverageRecorder(lambda _s, _p: None, env="prod", feed="kalshi", instance="a").subscribed("trade", "some")
    with pytest.raises(ValueError, match="heartbeat_every_s"):
        CoverageRecorder(lambda _s, _p: None, env="prod", feed="kalshi", instance="a", heartbeat_every_s=0)
    sent: list[bytes] = []
    calls = [0]

    async def publish(_subject: str, payload: bytes) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise ConnectionError("nats down")
        sent.append(payload)

    rec = CoverageRecorder(publish, env="prod", feed="kalshi", instance="a", heartbeat_every_s=0.05)
    beats = asyncio.create_task(rec.heartbeats())
    try:
        await wait_until(lambda: len(sent) >= 2, 30, "heartbeats after a failed one")
    finally:
        beats.cancel()
        await asyncio.gather(beats, return_exceptions=True)
    assert all(decode(p).event == "heartbeat" for p in sent)
