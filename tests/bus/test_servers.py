"""NATS server lists (``nats://a:4222,nats://b:4222``): one parser for config files, NATS_URL and flags, and a
connection that uses every server of the list."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ssmd.bus.connect import NatsUnavailable, connect, connected_server
from ssmd.bus.embedded import EmbeddedNats, free_port
from ssmd.config import ConfigError, load_archiver, load_environment
from ssmd.config.urls import parse_servers, redact_url


def test_a_list_is_split_trimmed_and_deduplicated() -> None:
    assert parse_servers(" nats://a:4222, nats://b:4223 ,nats://a:4222,tls://c:4224") == (
        "nats://a:4222", "nats://b:4223", "tls://c:4224")
    assert parse_servers("nats://one:4222") == ("nats://one:4222",)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty value"),
    ("nats://a:4222,,nats://c:4222", "server 2 of 3 is empty"),
    ("nats://a:4222,http://b:4222", "server 2 of 2 'http://b:4222': expected nats://host:port"),
    ("nats://a:4222,b:4222", "server 2 of 2 'b:4222': expected nats://host:port"),
    ("nats://a:99999", "out of range"),
    ("nats://a:4222/x", "nothing after the port"),
    ("nats://a:4222,ws://b:8080", "cannot mix ws"),
])
def test_bad_lists_name_the_entry_and_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("?", r"\?")):
        parse_servers(text)


def test_passwords_never_appear_in_errors() -> None:
    """A token in one URL of the list must not reach a log line or an error message."""
    with pytest.raises(ValueError) as caught:
        parse_servers("nats://user:s3cret@a:4222,http://user:s3cret@b:4222")
    assert "s3cret" not in str(caught.value) and "***@b:4222" in str(caught.value)
    assert redact_url("nats://tok3n@a:4222") == "nats://***@a:4222"


def _env(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump({"name": "prod", "feed": "kalshi", "transport": {"type": "nats", "url": url},
                                    "storage": {"type": "local", "path": str(tmp_path)}}))
    return path


def _archiver(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "archiver.yaml"
    path.write_text(yaml.safe_dump({"nats": {"url": url, "stream": "PROD_KALSHI", "consumer": "a",
                                             "filter": "prod.kalshi.json.>"}, "storage": {"path": str(tmp_path)}}))
    return path


def test_config_files_and_nats_url_take_a_list(tmp_path: Path) -> None:
    """transport.url, the archiver's nats.url and NATS_URL all accept a cluster's list."""
    three = "nats://n1:4222,nats://n2:4222,nats://n3:4222"
    assert load_environment(_env(tmp_path, three), {}).transport.url == three
    assert load_archiver(_archiver(tmp_path, three), {}).nats.url == three
    assert load_environment(_env(tmp_path, "nats://x:4222"), {"NATS_URL": three}).transport.url == three
    assert load_archiver(_archiver(tmp_path, "nats://x:4222"), {"NATS_URL": three}).nats.url == three


def test_config_files_reject_a_bad_entry_with_its_position(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"transport.*server 3 of 3 'nats//n3:4222'"):
        load_environment(_env(tmp_path, "nats://n1:4222,nats://n2:4222,nats//n3:4222"), {})
    with pytest.raises(ConfigError, match=r"nats\.url.*server 2 of 2 is empty"):
        load_archiver(_archiver(tmp_path, "nats://n1:4222,"), {})


async def test_connect_skips_a_dead_server_of_the_list(own_nats: EmbeddedNats) -> None:
    """The first URL points at nothing: the client connects to the next one instead of failing."""
    dead = f"nats://127.0.0.1:{free_port()}"
    for _ in range(3):  # the pool is shuffled: make the dead server come first at least once, likely
        nc = await connect(f"{dead},{own_nats.url}", "test")
        try:
            assert connected_server(nc) == own_nats.url
        finally:
            await nc.close()


async def test_no_server_of_the_list_answers() -> None:
    """Start-up fails fast naming every server (without credentials)."""
    urls = f"nats://u:pw@127.0.0.1:{free_port()},nats://127.0.0.1:{free_port()}"
    with pytest.raises(NatsUnavailable, match=r"any of nats://u:\*\*\*@127\.0\.0\.1") as caught:
        await connect(urls, "test", connect_timeout=1.0)
    assert "pw" not in str(caught.value)
