"""Boolean environment variables: the spellings operators use are accepted; anything else is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ssmd.cli import cli
from ssmd.config import FeedConfig
from ssmd.config.envvars import EnvVarError, env_flag
from ssmd.connector.endpoint import resolve_ws_url
from ssmd.feed import get_feed
from ssmd.kalshi.feed import DEMO_WS_URL

PROD = "wss://api.elections.kalshi.com/trade-api/ws/v2"


def _feed() -> FeedConfig:
    return FeedConfig.model_validate({"name": "kalshi", "feed_type": "websocket", "versions": [
        {"version": "1", "endpoint": PROD, "protocol": {"transport": "websocket", "message": "json"}}]})


@pytest.mark.parametrize("raw", ["true", "TRUE", "True", "1", "yes", "YES", "on", "On", " yes ", "true\n"])
def test_true_spellings(raw: str) -> None:
    """true/1/yes/on in any case, with surrounding whitespace, are true."""
    assert env_flag({"X_FLAG": raw}, "X_FLAG") is True


@pytest.mark.parametrize("raw", ["false", "FALSE", "0", "no", "No", "off", "OFF", " off "])
def test_false_spellings(raw: str) -> None:
    """false/0/no/off in any case are false (even when the default is true)."""
    assert env_flag({"X_FLAG": raw}, "X_FLAG", default=True) is False


@pytest.mark.parametrize("environ", [{}, {"X_FLAG": ""}, {"X_FLAG": "   "}])
def test_unset_or_blank_is_the_default(environ: dict[str, str]) -> None:
    """An unset or blank variable (Kubernetes `value: ""`) means the default."""
    assert env_flag(environ, "X_FLAG") is False
    assert env_flag(environ, "X_FLAG", default=True) is True


@pytest.mark.parametrize("raw", ["maybe", "2", "truee", "y", "enabled"])
def test_other_values_are_an_error_naming_variable_and_spellings(raw: str) -> None:
    """Anything else fails loudly, naming the variable and every accepted spelling."""
    with pytest.raises(EnvVarError) as info:
        env_flag({"X_FLAG": raw}, "X_FLAG")
    message = str(info.value)
    assert "X_FLAG" in message
    for spelling in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        assert spelling in message


@pytest.mark.parametrize("raw", ["yes", "on", "ON", " 1 ", "True"])
def test_kalshi_use_demo_accepts_common_spellings(raw: str) -> None:
    """KALSHI_USE_DEMO=yes/on (rejected before: prod was dialled instead) selects the demo host."""
    assert resolve_ws_url(get_feed("kalshi"), _feed(), {"KALSHI_USE_DEMO": raw}) == DEMO_WS_URL


@pytest.mark.parametrize("raw", ["no", "off", "0", "false", ""])
def test_kalshi_use_demo_false_spellings_dial_the_feed(raw: str) -> None:
    """KALSHI_USE_DEMO=no/off/0/false/empty keeps the feed's endpoint."""
    assert resolve_ws_url(get_feed("kalshi"), _feed(), {"KALSHI_USE_DEMO": raw}) == PROD


def _connector_files(tmp_path: Path) -> tuple[Path, Path]:
    feed = tmp_path / "feeds" / "kalshi.yaml"
    feed.parent.mkdir()
    feed.write_text(f"name: kalshi\nfeed_type: websocket\nversions:\n  - version: '1'\n    endpoint: {PROD}\n"
                    "    protocol: {transport: websocket, message: json}\n")
    env = tmp_path / "environments" / "prod.yaml"
    env.parent.mkdir()
    env.write_text("name: prod\nfeed: kalshi\ntransport: {type: nats, url: 'nats://127.0.0.1:1'}\n"
                   "storage: {type: local}\n")
    return feed, env


@pytest.mark.parametrize("variable", ["KALSHI_USE_DEMO", "SSMD_KALSHI_NO_AUTH"])
def test_connector_refuses_a_misspelt_flag_before_connecting(tmp_path: Path, variable: str) -> None:
    """The connector exits 2 naming the variable and the spellings, instead of guessing (prod vs demo)."""
    feed, env = _connector_files(tmp_path)
    result = CliRunner().invoke(cli, ["connector", "-f", str(feed), "-e", str(env), "--no-auth",
                                      "--health-addr", "127.0.0.1:0"],
                                env={variable: "maybe", "SSMD_LOG": "error"})
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert variable in result.output and "yes/no" in result.output
