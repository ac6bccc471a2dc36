"""`ssmd validate` and the loaders: the guide's files load; each broken variant names its field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from ssmd.cli import cli
from ssmd.config import ConfigError, load_archiver, load_environment, load_feed, parse_duration
from ssmd.config.validate import validate_paths

GUIDE = Path(__file__).resolve().parents[2] / "examples" / "deployment-guide"

FEED = """\
name: kalshi
feed_type: websocket
versions:
  - version: "1.0"
    endpoint: wss://trading-api.kalshi.com/trade-api/ws/v2
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
  url: nats://nats.nats.svc.cluster.local:4222
storage:
  storage_type: local
"""
ARCHIVER = """\
nats:
  url: nats://nats.nats.svc.cluster.local:4222
  stream: PROD_KALSHI
  consumer: archiver-kalshi
  filter: "prod.kalshi.json.>"
storage:
  path: /data/ssmd
rotation:
  interval: 15m
"""


def write(tmp_path: Path, rel: str, text: str) -> Path:
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


class TestGuideFiles:
    def test_guide_feed_loads(self) -> None:
        """The deployment guide's feed (feed_type, version "1.0", transport websocket) loads as printed."""
        feed = load_feed(GUIDE / "feeds" / "kalshi.yaml")
        assert feed.name == "kalshi"
        assert feed.feed_type == "websocket"
        assert feed.versions[0].version == "1.0"
        assert feed.versions[0].protocol.transport == "websocket"

    def test_guide_environment_loads(self) -> None:
        """transport_type/storage_type spellings load; storage without a path is allowed."""
        env = load_environment(GUIDE / "environments" / "prod-nats.yaml")
        assert env.transport.transport_type == "nats"
        assert env.storage.storage_type == "local"
        assert env.stream_name == "PROD_KALSHI"
        assert env.subject_prefix == "prod.kalshi"

    def test_guide_archiver_loads(self) -> None:
        """The archiver file loads; feed comes from the filter's second token; 15m is 900 s."""
        cfg = load_archiver(GUIDE / "archiver.yaml")
        assert cfg.feed_name == "kalshi"
        assert cfg.rotation.seconds == 900

    def test_validate_cli_accepts_guide(self) -> None:
        """`ssmd validate` on the guide's folder prints a check mark per file and exits 0."""
        result = CliRunner().invoke(cli, ["validate", str(GUIDE)])
        assert result.exit_code == 0, result.output
        assert result.output.count("✓") == 3

    def test_every_example_config_loads(self, repo_root: Path) -> None:
        """Every YAML config under examples/ and deploy/ validates, so docs never drift from code."""
        paths = [p for p in (repo_root / "examples", repo_root / "deploy") if p.exists()]
        results = validate_paths(paths)
        bad = [(r.source, [str(p) for p in r.errors]) for r in results if not r.ok]
        assert not bad
        assert sum(1 for r in results if r.kind) >= 6


class TestOriginalSpelling:
    def test_type_aliases_load(self, tmp_path: Path) -> None:
        """`type:` (the original project's spelling) is accepted wherever the guide says `*_type`."""
        env = write(tmp_path, "environments/e.yaml", ENV.replace("transport_type", "type")
                    .replace("storage_type: local", "type: local\n  path: ./data"))
        feed = write(tmp_path, "feeds/kalshi.yaml", FEED.replace("feed_type", "type"))
        assert load_environment(env).transport.transport_type == "nats"
        assert load_feed(feed).feed_type == "websocket"


class TestVersionResolution:
    FEED_VERSIONS = """\
name: kalshi
type: websocket
versions:
  - version: v1
    effective_from: "2025-01-01"
    effective_to: "2025-12-31"
    endpoint: wss://old.example.com/ws
    protocol: {transport: wss, message: json}
  - version: v2
    effective_from: "2026-01-01"
    endpoint: wss://new.example.com/ws
    protocol: {transport: wss, message: json}
  - version: undated
    endpoint: wss://any.example.com/ws
    protocol: {transport: wss, message: json}
"""

    def test_latest_effective_version_wins(self, tmp_path: Path) -> None:
        """The latest version whose effective_from <= date (and effective_to >= date) is chosen."""
        feed = load_feed(write(tmp_path, "feeds/kalshi.yaml", self.FEED_VERSIONS))
        assert feed.version_for(dt.date(2025, 6, 1)).version == "v1"
        assert feed.version_for(dt.date(2025, 12, 31)).version == "v1"
        assert feed.version_for(dt.date(2026, 3, 1)).version == "v2"

    def test_undated_version_is_always_effective(self, tmp_path: Path) -> None:
        """Before every dated version, the undated one still applies."""
        feed = load_feed(write(tmp_path, "feeds/kalshi.yaml", self.FEED_VERSIONS))
        assert feed.version_for(dt.date(2020, 1, 1)).version == "undated"


class TestDurations:
    @pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400)])
    def test_valid(self, text: str, seconds: int) -> None:
        """Durations parse to seconds."""
        assert parse_duration(text) == seconds

    @pytest.mark.parametrize("text", ["0m", "-1h", "15x", "", "m", "1.5h"])
    def test_invalid(self, text: str) -> None:
        """Zero, negative, unknown units and garbage are errors that say what was expected."""
        with pytest.raises(ValueError, match="duration"):
            parse_duration(text)


class TestOverrides:
    def test_nats_url_and_data_dir(self, tmp_path: Path) -> None:
        """NATS_URL replaces the transport URL; SSMD_DATA_DIR the storage path (environment and archiver)."""
        env_file = write(tmp_path, "environments/prod.yaml", ENV)
        arch_file = write(tmp_path, "archiver.yaml", ARCHIVER)
        environ = {"NATS_URL": "nats://127.0.0.1:9999", "SSMD_DATA_DIR": str(tmp_path / "d")}
        env = load_environment(env_file, environ)
        arch = load_archiver(arch_file, environ)
        assert env.transport.url == arch.nats.url == "nats://127.0.0.1:9999"
        assert env.storage.path == arch.storage.path == str(tmp_path / "d")


BROKEN = [
    # (relative file, content, expected field path, expected fragment of the message)
    ("feeds/kalshi.yaml", FEED.replace("name: kalshi\n", ""), "name", "required"),
    ("feeds/kalshi.yaml", FEED.replace("feed_type: websocket", "feed_type: carrier-pigeon"), "feed_type", "websocket"),
    ("feeds/kalshi.yaml", FEED.replace("wss://", "https://"), "versions[0]", "wss://"),
    ("feeds/kalshi.yaml", FEED.replace("    endpoint: wss://trading-api.kalshi.com/trade-api/ws/v2\n", ""),
     "versions[0].endpoint", "required"),
    ("feeds/kalshi.yaml", FEED.replace("transport: websocket", "transport: pigeon"),
     "versions[0].protocol.transport", "websocket"),
    ("feeds/kalshi.yaml", FEED.replace("message: json", "message: xml"), "versions[0].protocol.message", "json"),
    ("feeds/kalshi.yaml", "name: kalshi\nfeed_type: websocket\nversions: []\n", "versions", "at least 1"),
    ("feeds/kalshi.yaml", FEED.replace('version: "1.0"', 'version: "1.0"\n    effective_from: "yesterday"'),
     "versions[0].effective_from", "date"),
    ("environments/prod.yaml", ENV.replace("transport_type: nats", "transport_type: carrier"),
     "transport.transport_type", "nats"),
    ("environments/prod.yaml", ENV.replace("  url: nats://nats.nats.svc.cluster.local:4222\n", ""),
     "transport", "needs a url"),
    ("environments/prod.yaml", ENV.replace("nats://nats.nats", "http://nats.nats"), "transport", "nats://"),
    ("environments/prod.yaml", ENV.replace("storage_type: local", "storage_type: s3"), "storage", "bucket"),
    ("environments/prod.yaml", ENV.replace("name: prod\n", "name: prod.eu\n"), "name", "pattern"),
    ("environments/prod.yaml", ENV.replace('schema: "trade:v1"', 'schema: "trade"'), "schema", "pattern"),
    ("environments/prod.yaml", ENV + "keys:\n  k:\n    type: api_key\n    fields: [a]\n    source: file:/x\n",
     "keys.k.source", "env:"),
    ("archiver.yaml", ARCHIVER.replace("interval: 15m", "interval: 0m"), "rotation.interval", "positive"),
    ("archiver.yaml", ARCHIVER.replace("interval: 15m", "interval: 15x"), "rotation.interval", "duration"),
    ("archiver.yaml", ARCHIVER.replace("interval: 15m", "interval: -1h"), "rotation.interval", "duration"),
    ("archiver.yaml", ARCHIVER.replace('filter: "prod.kalshi.json.>"', 'filter: "prod.>.json"'), "nats.filter", ">"),
    ("archiver.yaml", ARCHIVER.replace("  consumer: archiver-kalshi\n", ""), "nats.consumer", "required"),
    ("archiver.yaml", ARCHIVER.replace("nats://nats.nats", "redis://nats.nats"), "nats.url", "nats://"),
    ("archiver.yaml", ARCHIVER.replace("  path: /data/ssmd\n", "  path: ''\n"), "storage.path", "at least 1"),
]


@pytest.mark.parametrize(("rel", "text", "where", "fragment"), BROKEN)
def test_broken_variant_is_rejected_naming_the_field(
    tmp_path: Path, rel: str, text: str, where: str, fragment: str
) -> None:
    """Each broken file fails validation with the field path and what was expected, and exit code 1."""
    path = write(tmp_path, rel, text)
    results = validate_paths([path])
    assert len(results) == 1
    assert not results[0].ok
    assert any(p.where == where and fragment in p.message for p in results[0].errors), results[0].errors
    out = CliRunner().invoke(cli, ["validate", str(path)])
    assert out.exit_code == 1
    assert "✗" in out.output
    assert where in out.output


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    """A YAML syntax error reports line and column, through the loader and the CLI."""
    path = write(tmp_path, "feeds/kalshi.yaml", "name: kalshi\nversions: [\n  - a: b\n  c: : d\n")
    with pytest.raises(ConfigError) as info:
        load_feed(path)
    assert "line " in str(info.value) and "column " in str(info.value)
    out = CliRunner().invoke(cli, ["validate", str(path)])
    assert out.exit_code == 1 and "line " in out.output


def test_missing_feed_reference(tmp_path: Path) -> None:
    """An environment whose feed is not among the feed files given is an error on `feed`."""
    write(tmp_path, "feeds/kalshi.yaml", FEED)
    write(tmp_path, "environments/prod.yaml", ENV.replace("feed: kalshi", "feed: polymarket"))
    results = validate_paths([tmp_path])
    env = next(r for r in results if r.kind == "environment")
    assert [p.where for p in env.errors] == ["feed"]
    assert "polymarket" in env.errors[0].message


def test_archiver_filter_outside_environment(tmp_path: Path) -> None:
    """An archiver filter that is not under its environment's subject prefix is an error on nats.filter."""
    write(tmp_path, "feeds/kalshi.yaml", FEED)
    write(tmp_path, "environments/prod.yaml", ENV)
    write(tmp_path, "archiver.yaml", ARCHIVER.replace('"prod.kalshi.json.>"', '"kalshi.json.>"'))
    results = validate_paths([tmp_path])
    arch = next(r for r in results if r.kind == "archiver")
    assert [p.where for p in arch.errors] == ["nats.filter"]


def test_unknown_keys_are_warnings(tmp_path: Path) -> None:
    """Unknown keys do not fail validation but are reported with their path."""
    path = write(tmp_path, "archiver.yaml", ARCHIVER + "compresion: zstd\n")
    out = CliRunner().invoke(cli, ["validate", str(path)])
    assert out.exit_code == 0
    assert "warning: compresion" in out.output


def test_configmap_files_are_validated(tmp_path: Path) -> None:
    """A Kubernetes ConfigMap's embedded files are validated one by one and cross-checked."""
    indent = lambda s: "".join(f"    {line}\n" for line in s.splitlines())  # noqa: E731
    cm = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n"
          f"  feeds/kalshi.yaml: |\n{indent(FEED)}"
          f"  environments/prod-nats.yaml: |\n{indent(ENV.replace('transport_type: nats', 'transport_type: x'))}")
    results = validate_paths([write(tmp_path, "cm.yaml", cm)])
    assert [r.ok for r in results] == [True, False]
    assert results[1].errors[0].where == "transport.transport_type"
