"""Every config error names the file and the key (or the flag) in the user's words; no traceback, no secret.

Table-driven over many broken variants, through ``ssmd validate`` and through the services that load the files
(``ssmd connector``, ``ssmd archiver``), so the message an operator reads at start-up is checked too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ssmd.bus.embedded import free_port
from ssmd.cli import cli
from ssmd.config import load_archiver, load_environment
from ssmd.config.validate import validate_paths
from ssmd.testing import UNREACHABLE_NATS_ENV

FEED = """\
name: kalshi
feed_type: websocket
versions:
  - version: "1.0"
    endpoint: wss://api.elections.kalshi.com/trade-api/ws/v2
    protocol:
      transport: websocket
      message: json
"""
ENV = """\
name: prod
feed: kalshi
schema: "trade:v1"
transport:
  transport_type: nats
  url: nats://127.0.0.1:1
storage:
  storage_type: local
"""
ARCHIVER = """\
nats:
  url: nats://127.0.0.1:1
  stream: PROD_KALSHI
  consumer: archiver-kalshi
  filter: "prod.kalshi.json.>"
storage:
  path: /data/ssmd
rotation:
  interval: 15m
"""
SECRET = "hunter2-s3cret"
RAW_PYDANTIC = ("Input should", "valid dictionary", "instance of", "String should", "errors.pydantic.dev")

# (file kind, broken content, key path the error must name, fragment of what was expected)
BROKEN: list[tuple[str, str, str, str]] = [
    # pydantic's type errors, in YAML terms
    ("archiver", ARCHIVER.replace("nats:\n  url: nats://127.0.0.1:1\n  stream: PROD_KALSHI\n"
                                  "  consumer: archiver-kalshi\n  filter: \"prod.kalshi.json.>\"\n",
                                  "nats: nats://127.0.0.1:4222\n"),
     "nats", "expected a mapping with keys url, stream, consumer, filter; got a string"),
    ("archiver", ARCHIVER.replace("rotation:\n  interval: 15m\n", "rotation: 15m\n"),
     "rotation", "expected a mapping with key interval; got a string"),
    ("archiver", ARCHIVER.replace("storage:\n  path: /data/ssmd\n", "storage: [/data/ssmd]\n"),
     "storage", "expected a mapping with key path; got a list"),
    ("archiver", ARCHIVER + "batch:\n  max_messages: lots\n", "batch.max_messages", "expected a whole number"),
    ("archiver", ARCHIVER + "batch:\n  max_messages: 0\n", "batch.max_messages", "at least 1"),
    ("archiver", ARCHIVER + "batch:\n  max_messages: 2000000\n", "batch.max_messages", "at most 1000000"),
    ("archiver", ARCHIVER + "compression:\n  codec: zstd\n", "compression.codec",
     "expected one of isal, zlib; got 'zstd'"),
    ("archiver", ARCHIVER + "compression:\n  codec: isal\n  level: 7\n", "compression", "0..3"),
    ("archiver", ARCHIVER + "feed: kal.shi\n", "feed", "letters, digits"),
    ("archiver", ARCHIVER + "format: xml\n", "format", "jsonl, envelope"),
    ("archiver", ARCHIVER.replace("stream: PROD_KALSHI", "stream: PROD.KALSHI"), "nats.stream", "'.'"),
    ("archiver", ARCHIVER.replace("  stream: PROD_KALSHI\n", ""), "nats.stream", "required"),
    ("archiver", ARCHIVER.replace('filter: "prod.kalshi.json.>"', 'filter: "prod.>.x"'), "nats.filter", ">"),
    ("archiver", ARCHIVER.replace("interval: 15m", "interval: 2d"), "rotation.interval", "1d"),
    ("archiver", ARCHIVER.replace("interval: 15m", "interval: soon"), "rotation.interval", "like 30s"),
    ("archiver", ARCHIVER.replace("nats://127.0.0.1:1", "nats://127.0.0.1:1,redis://b:6379"), "nats.url",
     "nats://"),
    ("archiver", ARCHIVER.replace("storage:\n  path: /data/ssmd\n", ""), "storage", "required"),
    ("environment", ENV.replace("name: prod\n", "name: [prod]\n"), "name", "expected text; got a list"),
    ("environment", ENV.replace("transport_type: nats", "transport_type: carrier"), "transport.transport_type",
     "expected one of nats, file, memory"),
    ("environment", ENV.replace("  url: nats://127.0.0.1:1\n", ""), "transport.url", "needs a url"),
    ("environment", ENV.replace("nats://127.0.0.1:1", "http://127.0.0.1:1"), "transport.url", "nats://"),
    ("environment", ENV.replace("nats://127.0.0.1:1", "nats://a:4222,,nats://b:4222"), "transport.url",
     "nats://"),
    ("environment", ENV.replace("storage_type: local", "storage_type: s3"), "storage", "bucket"),
    ("environment", ENV.replace('schema: "trade:v1"', 'schema: "trade"'), "schema", "NAME:VERSION"),
    ("environment", ENV.replace("name: prod\n", "name: prod.eu\n"), "name", "letters, digits"),
    ("environment", ENV + "keys: [kalshi]\n", "keys", "expected a mapping; got a list"),
    ("environment", ENV + "keys:\n  k: {type: api_key, fields: [a], source: 'file:/x'}\n", "keys.k.source", "env:"),
    ("environment", ENV + "capture:\n  channels: ticker\n", "capture.channels", "expected a list; got a string"),
    ("environment", ENV + "capture:\n  channels: []\n", "capture.channels", "at least 1"),
    ("environment", ENV + "capture:\n  publish_timeout: 0\n", "capture.publish_timeout", "greater than 0"),
    ("environment", ENV + "capture:\n  markets:\n    discover: yes\n", "capture.markets.discover",
     "expected a mapping with keys status, series_ticker"),
    ("environment", ENV + "capture:\n  markets:\n    discover: {refresh: 0m}\n", "capture.markets.discover.refresh",
     "positive"),
    ("environment", ENV + "schedule:\n  auto_roll: maybe\n", "schedule.auto_roll", "expected true or false"),
    ("environment", ENV + "capture:\n  markets: {tickers: ['']}\n", "capture.markets.tickers", "must not be blank"),
    ("feed", FEED.replace("name: kalshi\n", ""), "name", "required"),
    ("feed", FEED.replace("feed_type: websocket", "feed_type: carrier-pigeon"), "feed_type", "websocket"),
    ("feed", FEED.replace("wss://", "https://"), "versions[0]", "wss://"),
    ("feed", FEED.replace("transport: websocket", "transport: pigeon"), "versions[0].protocol.transport",
     "websocket"),
    ("feed", FEED.replace("message: json", "message: itch"), "versions[0].protocol.message", "not supported"),
    ("feed", FEED.replace("transport: websocket", "transport: multicast"), "versions[0].protocol.transport",
     "not supported"),
    ("feed", "name: kalshi\nfeed_type: websocket\nversions: {version: 1}\n", "versions",
     "expected a list; got a mapping"),
    ("feed", "name: kalshi\nfeed_type: websocket\nversions: []\n", "versions", "at least 1"),
    ("feed", FEED.replace('version: "1.0"', 'version: "1.0"\n    effective_from: "yesterday"'),
     "versions[0].effective_from", "a date like 2026-01-31"),
    ("feed", FEED.replace("    protocol:\n      transport: websocket\n      message: json\n",
                          "    protocol: websocket\n"),
     "versions[0].protocol", "expected a mapping with keys transport, message"),
    ("feed", "", "(top level)", "empty"),
    ("feed", "- name: kalshi\n", "(top level)", "got a list"),
]
PATHS = {"feed": "feeds/kalshi.yaml", "environment": "environments/prod.yaml", "archiver": "archiver.yaml"}
IDS = [f"{kind}-{where}-{i}" for i, (kind, _, where, _) in enumerate(BROKEN)]


def write(tmp_path: Path, rel: str, text: str) -> Path:
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def assert_user_error(result: Result, path: Path | str, key: str, exit_code: int) -> None:
    """The shared contract: exit code, file and key named, no traceback, no pydantic jargon."""
    out = result.output
    assert result.exit_code == exit_code, out
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in out
    assert str(path) in out, out
    assert key in out, out
    for phrase in RAW_PYDANTIC:
        assert phrase not in out, out


@pytest.fixture(autouse=True)
def _keep_root_logger() -> Iterator[None]:
    """The services' CLIs install their own log handler: restore the root logger after each invocation."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env={"SSMD_LOG": "error", "NATS_URL": "", "SSMD_DATA_DIR": "",
                                             **(env or {})})


@pytest.mark.parametrize(("kind", "text", "where", "fragment"), BROKEN, ids=IDS)
def test_validate_names_file_key_and_expectation(
    tmp_path: Path, kind: str, text: str, where: str, fragment: str
) -> None:
    """`ssmd validate` on each broken variant: exit 1, the file, the key path and what was expected."""
    path = write(tmp_path, PATHS[kind], text)
    [result] = validate_paths([path])
    assert any(p.where == where and fragment in p.message for p in result.errors), result.errors
    assert_user_error(invoke(["validate", str(path)]), path, where, 1)


@pytest.mark.parametrize(("kind", "text", "where", "fragment"), BROKEN, ids=IDS)
def test_services_name_file_key_and_expectation(
    tmp_path: Path, kind: str, text: str, where: str, fragment: str
) -> None:
    """The service that loads the file refuses it at start-up: exit 2, the same file, key and expectation."""
    path = write(tmp_path, PATHS[kind], text)
    if kind == "archiver":
        args = ["archiver", "-c", str(path), "--health-addr", "127.0.0.1:0"]
    else:
        feed = path if kind == "feed" else write(tmp_path, PATHS["feed"], FEED)
        env = path if kind == "environment" else write(tmp_path, PATHS["environment"], ENV)
        args = ["connector", "-f", str(feed), "-e", str(env), "--no-auth", "--health-addr", "127.0.0.1:0"]
    result = invoke(args)
    assert_user_error(result, path, where, 2)
    assert fragment in result.output


FLAGS: list[tuple[list[str], str, str]] = [
    (["--rotation", "0s"], "--rotation", "positive duration"),
    (["--rotation", "fortnight"], "--rotation", "like 30s"),
    (["--health-addr", "localhost:http"], "--health-addr", "HOST:PORT"),
    (["--health-addr", "127.0.0.1:70000"], "--health-addr", "port"),
]


@pytest.mark.parametrize(("flags", "flag", "fragment"), FLAGS)
def test_connector_flag_errors_name_the_flag(tmp_path: Path, flags: list[str], flag: str, fragment: str) -> None:
    """`--rotation 0s` said only "expected a positive duration": now the flag is named, exit 2."""
    feed = write(tmp_path, PATHS["feed"], FEED)
    env = write(tmp_path, PATHS["environment"], ENV)
    result = invoke(["connector", "-f", str(feed), "-e", str(env), "--no-auth", "--health-addr", "127.0.0.1:0",
                     *flags])
    assert_user_error(result, flag, fragment, 2)


def test_archiver_health_addr_flag_is_named(tmp_path: Path) -> None:
    """The archiver's --health-addr error names the flag."""
    path = write(tmp_path, PATHS["archiver"], ARCHIVER)
    assert_user_error(invoke(["archiver", "-c", str(path), "--health-addr", "nowhere"]), "--health-addr",
                      "HOST:PORT", 2)


def test_feed_mismatch_names_both_files_and_keys(tmp_path: Path) -> None:
    """An environment for another feed names the environment's `feed` and the feed file's `name`."""
    feed = write(tmp_path, PATHS["feed"], FEED)
    env = write(tmp_path, PATHS["environment"], ENV.replace("feed: kalshi", "feed: polymarket"))
    result = invoke(["connector", "-f", str(feed), "-e", str(env), "--no-auth"])
    assert_user_error(result, env, "feed", 2)
    assert str(feed) in result.output and "name" in result.output


class TestSecrets:
    @pytest.mark.parametrize(("kind", "text", "where"), [
        ("archiver", ARCHIVER.replace("nats://127.0.0.1:1", f"redis://ssmd:{SECRET}@nats:4222"), "nats.url"),
        ("environment", ENV.replace("nats://127.0.0.1:1", f"http://ssmd:{SECRET}@nats:4222"), "transport.url"),
        ("environment", ENV.replace("nats://127.0.0.1:1", f"nats://a:4222,tcp://ssmd:{SECRET}@b:4222"),
         "transport.url"),
        ("feed", FEED.replace("wss://api.elections.kalshi.com/trade-api/ws/v2",
                              f"https://api.elections.kalshi.com/ws?token={SECRET}"), "versions[0]"),
    ])
    def test_url_passwords_and_tokens_are_not_echoed(self, tmp_path: Path, kind: str, text: str, where: str) -> None:
        """A rejected URL is shown without its password or query string, through validate and the service."""
        path = write(tmp_path, PATHS[kind], text)
        result = invoke(["validate", str(path)])
        assert_user_error(result, path, where, 1)
        assert SECRET not in result.output
        if kind == "archiver":
            service = invoke(["archiver", "-c", str(path)])
        else:
            feed = path if kind == "feed" else write(tmp_path, PATHS["feed"], FEED)
            env = path if kind == "environment" else write(tmp_path, PATHS["environment"], ENV)
            service = invoke(["connector", "-f", str(feed), "-e", str(env), "--no-auth"])
        assert_user_error(service, path, where, 2)
        assert SECRET not in service.output

    def test_private_key_and_api_key_are_not_echoed(self, tmp_path: Path) -> None:
        """A malformed KALSHI_PRIVATE_KEY is named, never shown; nor is the API key."""
        feed = write(tmp_path, PATHS["feed"], FEED)
        env = write(tmp_path, PATHS["environment"], ENV)
        pem = f"-----BEGIN PRIVATE KEY-----\n{SECRET}AAAA\n-----END PRIVATE KEY-----\n"
        result = invoke(["connector", "-f", str(feed), "-e", str(env)],
                        env={"KALSHI_API_KEY": f"key-{SECRET}", "KALSHI_PRIVATE_KEY": pem})
        assert_user_error(result, "KALSHI_PRIVATE_KEY", "PEM", 2)
        assert SECRET not in result.output

    def test_nats_override_is_named_and_redacted(self, tmp_path: Path) -> None:
        """A bad NATS_URL is reported as the file's key set by NATS_URL, without the password."""
        path = write(tmp_path, PATHS["archiver"], ARCHIVER)
        result = invoke(["archiver", "-c", str(path)], env={"NATS_URL": f"redis://u:{SECRET}@h:1"})
        assert_user_error(result, path, "nats.url", 2)
        assert "NATS_URL" in result.output and SECRET not in result.output


class TestNatsUrlLists:
    def test_comma_separated_nats_urls_are_accepted(self, tmp_path: Path) -> None:
        """`nats://a:4222,nats://b:4222` (a cluster's seed list) is valid for transport.url and nats.url."""
        urls = "nats://a:4222,nats://b:4222, tls://c:4222"
        env = write(tmp_path, PATHS["environment"], ENV.replace("nats://127.0.0.1:1", urls))
        arch = write(tmp_path, PATHS["archiver"], ARCHIVER.replace("nats://127.0.0.1:1", urls))
        tidy = "nats://a:4222,nats://b:4222,tls://c:4222"
        assert load_environment(env).transport.url == tidy
        assert load_archiver(arch).nats.url == tidy


def test_unreachable_archiver_nats_names_file_and_key(tmp_path: Path) -> None:
    """The real archiver process with nothing listening at nats.url: exit 2, `FILE: nats.url: ...`, no traceback."""
    url = f"nats://127.0.0.1:{free_port()}"
    path = write(tmp_path, PATHS["archiver"], ARCHIVER.replace("nats://127.0.0.1:1", url)
                 .replace("/data/ssmd", str(tmp_path / "data")))
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "SSMD_DATA_DIR")}
    proc = subprocess.run([sys.executable, "-m", "ssmd", "archiver", "-c", str(path), "--health-addr", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**env, "SSMD_LOG": "error", **UNREACHABLE_NATS_ENV})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{path}: nats.url: " in proc.stderr and url in proc.stderr
