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
     "transport.url", "needs a url"),
    ("environments/prod.yaml", ENV.replace("nats://nats.nats", "http://nats.nats"), "transport.url", "nats://"),
    ("environments/prod.yaml", ENV.replace("storage_type: local", "storage_type: s3"), "storage", "bucket"),
    ("environments/prod.yaml", ENV.replace("name: prod\n", "name: prod.eu\n"), "name", "letters, digits"),
    ("environments/prod.yaml", ENV.replace('schema: "trade:v1"', 'schema: "trade"'), "schema", "NAME:VERSION"),
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


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.splitlines())


def _configmap(name: str, files: dict[str, str]) -> str:
    data = "".join(f"  {key}: |\n{_indent(text)}" for key, text in files.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: ssmd\ndata:\n{data}"


class TestKubernetesManifests:
    def test_configmap_key_with_slash_is_an_error(self, tmp_path: Path) -> None:
        """`feeds/kalshi.yaml` as a key (the API server rejects it) names file, ConfigMap, key and the fix."""
        path = write(tmp_path, "cm.yaml", _configmap("ssmd-nats-config", {"feeds/kalshi.yaml": FEED}))
        results = validate_paths([path])
        bad = [r for r in results if not r.ok]
        assert len(bad) == 1
        assert str(path) in bad[0].source and "ssmd-nats-config" in bad[0].source
        [problem] = bad[0].errors
        assert "feeds/kalshi.yaml" in problem.where
        assert "[-._a-zA-Z0-9]+" in problem.message
        assert "items[].path: feeds/kalshi.yaml" in problem.message and "kalshi.yaml" in problem.message
        out = CliRunner().invoke(cli, ["validate", str(path)])
        assert out.exit_code == 1
        assert "ssmd-nats-config" in out.output and "feeds/kalshi.yaml" in out.output

    def test_embedded_files_are_still_validated_with_flat_keys(self, tmp_path: Path) -> None:
        """Flat keys (kalshi.yaml, prod.yaml) are valid; their content is validated and cross-checked."""
        bad_env = ENV.replace("transport_type: nats", "transport_type: x")
        path = write(tmp_path, "cm.yaml", _configmap("cfg", {"kalshi.yaml": FEED, "prod.yaml": bad_env}))
        results = validate_paths([path])
        assert [(r.kind, r.ok) for r in results] == [("feed", True), ("environment", False)]
        assert results[1].errors[0].where == "transport.transport_type"
        assert "cfg" in results[1].source and "prod.yaml" in results[1].source

    def test_multi_document_file_is_read_document_by_document(self, tmp_path: Path, repo_root: Path) -> None:
        """`kubectl kustomize` output (many documents) validates: was a YAML syntax error before."""
        base = sorted((repo_root / "deploy" / "k8s" / "base").glob("*.yaml"))
        text = "---\n".join(p.read_text() for p in base if p.name != "kustomization.yaml")
        path = write(tmp_path, "rendered.yaml", text)
        results = validate_paths([path])
        assert all(r.ok for r in results), [(r.source, r.errors) for r in results if not r.ok]
        assert {r.kind for r in results if r.kind} == {"feed", "environment", "archiver"}
        out = CliRunner().invoke(cli, ["validate", str(path)])
        assert out.exit_code == 0, out.output
        assert "syntax error" not in out.output

    def test_bad_document_in_a_stream_names_its_configmap(self, tmp_path: Path) -> None:
        """An error inside the third document names the file, the ConfigMap and the embedded key."""
        docs = ["apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ssmd\n",
                _configmap("good", {"kalshi.yaml": FEED}),
                _configmap("broken", {"archiver.yaml": ARCHIVER.replace("interval: 15m", "interval: 0m")})]
        path = write(tmp_path, "all.yaml", "---\n".join(docs))
        results = validate_paths([path])
        [bad] = [r for r in results if not r.ok]
        assert str(path) in bad.source and "broken" in bad.source and "archiver.yaml" in bad.source
        assert bad.errors[0].where == "rotation.interval"

    def test_configmap_bad_key_and_bad_content_both_reported(self, tmp_path: Path) -> None:
        """The key error does not hide the content's own errors (found by the key's folder)."""
        bad_feed = FEED.replace("message: json", "message: xml")
        path = write(tmp_path, "cm.yaml", _configmap("cfg", {"feeds/kalshi.yaml": bad_feed}))
        results = validate_paths([path])
        wheres = sorted(p.where for r in results for p in r.errors)
        assert any("feeds/kalshi.yaml" in w for w in wheres)
        assert "versions[0].protocol.message" in wheres


class TestShapes:
    @pytest.mark.parametrize(("text", "fragment"), [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("---\n", "empty"),
        ("- name: kalshi\n- feed: x\n", "a list"),
        ("[]\n", "empty list"),
        ("just words\n", "a string"),
    ])
    def test_empty_and_non_mapping_files_are_errors(self, tmp_path: Path, text: str, fragment: str) -> None:
        """Empty or list-shaped YAML was "all 0 file(s) valid", exit 0: now an error naming the file."""
        path = write(tmp_path, "archiver.yaml", text)
        results = validate_paths([path])
        assert len(results) == 1 and not results[0].ok
        assert fragment in results[0].errors[0].message
        out = CliRunner().invoke(cli, ["validate", str(path)])
        assert out.exit_code == 1
        assert str(path) in out.output

    def test_empty_file_in_a_folder_is_an_error(self, tmp_path: Path) -> None:
        """Walking a folder, an empty feed file is an error too (before: silently skipped)."""
        write(tmp_path, "feeds/kalshi.yaml", "")
        out = CliRunner().invoke(cli, ["validate", str(tmp_path)])
        assert out.exit_code == 1
        assert "kalshi.yaml" in out.output

    def test_json_patch_list_is_not_an_error(self, tmp_path: Path) -> None:
        """A kustomize JSON6902 patch is list-shaped on purpose: skipped like other non-ssmd files."""
        path = write(tmp_path, "patch.yaml", "- op: replace\n  path: /spec/replicas\n  value: 2\n")
        results = validate_paths([path])
        assert [r.ok for r in results] == [True]

    def test_repo_deploy_folder_validates(self, repo_root: Path) -> None:
        """`ssmd validate deploy/k8s` (what CI runs) passes on the repository's manifests."""
        out = CliRunner().invoke(cli, ["validate", str(repo_root / "deploy" / "k8s")])
        assert out.exit_code == 0, out.output


class TestUnsupportedProtocols:
    @pytest.mark.parametrize(("old", "new", "where", "value"), [
        ("message: json", "message: itch", "versions[0].protocol.message", "itch"),
        ("message: json", "message: fix", "versions[0].protocol.message", "fix"),
        ("message: json", "message: sbe", "versions[0].protocol.message", "sbe"),
        ("transport: websocket", "transport: multicast", "versions[0].protocol.transport", "multicast"),
        ("transport: websocket", "transport: tcp", "versions[0].protocol.transport", "tcp"),
        ("feed_type: websocket", "feed_type: multicast", "feed_type", "multicast"),
    ])
    def test_parsed_but_never_read_values_are_rejected(
        self, tmp_path: Path, old: str, new: str, where: str, value: str
    ) -> None:
        """ITCH/FIX/multicast were accepted and then ignored: now "not supported", naming what is."""
        path = write(tmp_path, "feeds/kalshi.yaml", FEED.replace(old, new))
        with pytest.raises(ConfigError) as info:
            load_feed(path)
        text = str(info.value)
        assert str(path) in text and where in text
        assert f"{value} is not supported" in text
        assert "websocket" in text or "json" in text


def test_folder_without_yaml_is_an_error(tmp_path: Path) -> None:
    """A folder with no YAML at all was "all 0 file(s) valid": nothing checked is not success."""
    write(tmp_path, "README.md", "# notes\n")
    out = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert out.exit_code == 1
    assert "no YAML files" in out.output and str(tmp_path) in out.output
