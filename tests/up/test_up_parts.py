"""`ssmd up`'s pure parts: reading /metrics, the status line, the generated configs, the CLI's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from ssmd.config import load_archiver, load_environment, load_feed
from ssmd.config.validate import validate_paths
from ssmd.runtime.http import metric_total
from ssmd.up import pipeline, status
from ssmd.up.cli import up


def _exposition() -> str:
    """What a service's /metrics serves (prometheus_client's own output, ``_created`` samples included)."""
    registry = CollectorRegistry()
    received = Counter("ssmd_connector_frames_received", "Frames", ["type"], registry=registry)
    received.labels("ticker").inc(10)
    received.labels("trade").inc(5)
    Gauge("ssmd_connector_last_frame_age_seconds", "Age", registry=registry).set(float("nan"))
    Gauge("ssmd_archiver_consumer_lag", "Lag", ["note"], registry=registry).labels('a "quoted" } label').set(3)
    return generate_latest(registry).decode()


def test_metric_totals_sum_labelled_samples() -> None:
    """A counter's labelled samples add up (with or without ``_total`` in the name), labels can narrow it down;
    ``_created`` samples, NaN samples and comments are not values; an absent metric is ``None``."""
    text = _exposition()
    assert "ssmd_connector_frames_received_created" in text
    assert metric_total(text, "ssmd_connector_frames_received") == 15.0
    assert metric_total(text, "ssmd_connector_frames_received_total") == 15.0
    assert metric_total(text, "ssmd_connector_frames_received", type="trade") == 5.0
    assert metric_total(text, "ssmd_connector_frames_received", type="lifecycle") is None
    assert metric_total(text, "ssmd_connector_last_frame_age_seconds") is None
    assert metric_total(text, "ssmd_archiver_consumer_lag") == 3.0
    assert metric_total(text, "nope") is None


def test_status_line_shows_rate_and_counts() -> None:
    """The status line gives frames/s from two snapshots and every counter; missing services are named."""
    prev = status.Snapshot(at=10.0, received=100.0)
    cur = status.Snapshot(at=12.0, received=500.0, sent=520.0, published=480.0, archived=470.0, lag=10.0,
                          fires=3.0, files=2, errors={"agent": "no /metrics"})
    text = status.line(prev, cur, 65.0, restarts=1)
    assert text.startswith("[01:05] in 200/s | sent 520 | published 480 | archived 470 | lag 10 | fires 3 | files 2")
    assert "restarts 1" in text and "down: agent" in text


def test_line_counter_counts_only_new_lines(tmp_path: Path) -> None:
    """The sent-log counter reads incrementally: appended lines are added, nothing is counted twice."""
    log = tmp_path / "sent.jsonl"
    counter = status.LineCounter(log)
    assert counter.count() == 0
    log.write_bytes(b"a\nb\n")
    assert counter.count() == 2
    with log.open("ab") as fh:
        fh.write(b"c\n")
    assert counter.count() == 3


def test_generated_configs_load_and_agree(tmp_path: Path) -> None:
    """The feed, environment and archiver files `ssmd up` writes load, validate together and point at one NATS."""
    plan = pipeline.build(pipeline.Options(data_dir=tmp_path, rotation="1m"))
    feed = load_feed(plan.config_dir / "feeds" / "kalshi.yaml")
    env = load_environment(plan.config_dir / "environments" / "demo.yaml")
    archiver = load_archiver(plan.config_dir / "archiver.yaml")
    assert (feed.name, env.stream_name, env.subject_prefix) == ("kalshi", plan.stream, plan.subject_prefix)
    assert archiver.nats.url == env.transport.url == plan.nats_url
    assert archiver.rotation.seconds == 60 and Path(archiver.storage.path) == plan.archive_root
    assert all(r.ok for r in validate_paths([plan.config_dir]))
    assert "orderbook_delta" in env.capture.channels and env.capture.markets.discover is not None


def test_live_plan_keeps_the_guides_global_channels(tmp_path: Path) -> None:
    """--live subscribes to the guide's default channels only (no orderbooks for every market of the exchange)."""
    plan = pipeline.build(pipeline.Options(data_dir=tmp_path, live=True))
    env = load_environment(plan.config_dir / "environments" / "live.yaml")
    assert env.capture.channels == ("ticker", "trade", "market_lifecycle_v2")


def test_live_plan_has_no_simulator(tmp_path: Path) -> None:
    """--live connects to the feed's real endpoint: no simulator, no --ws-url, a separate `live` stream."""
    plan = pipeline.build(pipeline.Options(data_dir=tmp_path, live=True))
    assert plan.sim is None and plan.keygen is None and plan.stream == "LIVE_KALSHI"
    assert "--ws-url" not in plan.connector.argv


def test_children_do_not_inherit_redirecting_settings(tmp_path: Path) -> None:
    """A NATS_URL or demo credentials in the user's shell never reach the demo's children; the marker does."""
    env = pipeline.base_env(tmp_path, live=False, environ={"NATS_URL": "nats://elsewhere:4222", "HOME": "/h",
                                                           "KALSHI_API_KEY": "real", "SSMD_SIGNALS": "x"})
    assert env == {"HOME": "/h", pipeline.MARKER_ENV: str(tmp_path), "SSMD_LOG": "info"}
    live = pipeline.base_env(tmp_path, live=True, environ={"KALSHI_API_KEY": "real"})
    assert live["KALSHI_API_KEY"] == "real"


def test_live_without_credentials_exits_2(tmp_path: Path) -> None:
    """`ssmd up --live` without KALSHI_API_KEY/KALSHI_PRIVATE_KEY says what to set and exits 2, starting nothing."""
    result = CliRunner().invoke(up, ["--live", "--data-dir", str(tmp_path / "d")],
                                env={"KALSHI_API_KEY": "", "KALSHI_PRIVATE_KEY": ""})
    assert result.exit_code == 2
    assert "KALSHI_API_KEY and KALSHI_PRIVATE_KEY" in result.output
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(("option", "value"), [("--duration", "soon"), ("--rotation", "0m")])
def test_bad_durations_are_usage_errors(tmp_path: Path, option: str, value: str) -> None:
    """A malformed --duration or --rotation is a usage error (exit 2) naming the option."""
    result = CliRunner().invoke(up, [option, value, "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert option in result.output


def test_the_feed_decides_the_simulator_and_its_sign_in(tmp_path: Path) -> None:
    """--feed kalshi: the feed's simulator command and path, its keygen, and the key the connector reads."""
    plan = pipeline.build(pipeline.Options(data_dir=tmp_path, feed="kalshi"))
    assert plan.sim is not None and plan.keygen is not None and plan.sim_ws_url is not None
    assert plan.sim.argv[3:5] == ("sim", "kalshi") and plan.sim_ws_url.endswith("/trade-api/ws/v2")
    assert plan.connector.argv[-1] == plan.sim_ws_url and "--no-auth" not in plan.connector.argv
    assert plan.keys_dir is not None
    plan.keys_dir.mkdir()
    (plan.keys_dir / "kalshi-private.pem").write_text("PEM")
    env = pipeline.with_demo_credentials(plan).connector.env
    assert env == {"KALSHI_API_KEY": pipeline.DEMO_KEY_ID, "KALSHI_PRIVATE_KEY": "PEM"}


def test_an_unknown_feed_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(up, ["--feed", "nope", "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and "--feed" in result.output and "kalshi" in result.output
    assert not (tmp_path / "d").exists()
