"""Log levels from ``SSMD_LOG``/``RUST_LOG``: the Rust target syntax operators already use maps onto our loggers."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from ssmd.runtime.logging import levels_from_env, setup_logging

TOUCHED = ("", "ssmd", "ssmd.connector", "ssmd.kalshi", "ssmd.archiver", "ssmd.bus", "nats", "aiohttp.access",
           "aiohttp.client", "aiohttp.server", "asyncio")


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    """setup_logging changes process-wide loggers: put them back for the other tests."""
    saved = {name: logging.getLogger(name).level for name in TOUCHED}
    handlers = logging.getLogger().handlers[:]
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger().handlers[:] = handlers


def _setup(environ: dict[str, str]) -> io.StringIO:
    out = io.StringIO()
    setup_logging(out, json=False, environ=environ)
    return out


def test_rust_targets_map_onto_our_loggers() -> None:
    """`ssmd_connector=debug,info` (before: ignored, connector stayed at info) debugs the connector only."""
    _setup({"RUST_LOG": "ssmd_connector=debug,info"})
    assert logging.getLogger().level == logging.INFO
    assert logging.getLogger("ssmd.connector").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("ssmd.connector.shard").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("ssmd.archiver").isEnabledFor(logging.DEBUG)


def test_connector_debug_records_are_written() -> None:
    """A debug record of a connector module reaches the output; one of the archiver does not."""
    out = _setup({"RUST_LOG": "info,ssmd_connector=debug"})
    logging.getLogger("ssmd.connector.shard").debug("connector detail")
    logging.getLogger("ssmd.archiver.service").debug("archiver detail")
    assert "connector detail" in out.getvalue()
    assert "archiver detail" not in out.getvalue()


@pytest.mark.parametrize(("directive", "logger", "level"), [
    ("ssmd_archiver=warn", "ssmd.archiver", logging.WARNING),
    ("ssmd=debug", "ssmd", logging.DEBUG),
    ("ssmd=trace", "ssmd.agent", logging.DEBUG),
    ("async_nats=warn", "nats", logging.WARNING),
    ("async_nats=error", "nats.aio.client", logging.ERROR),
    ("ssmd_connector=error", "ssmd.kalshi", logging.ERROR),
    ("ssmd_middleware=debug", "ssmd.bus", logging.DEBUG),
    ("tower_http=debug", "aiohttp.access", logging.DEBUG),
    ("ssmd.archiver=debug", "ssmd.archiver", logging.DEBUG),
    ("SSMD_ARCHIVER=DEBUG", "ssmd.archiver", logging.DEBUG),
    ("ssmd_connector::kalshi=debug", "ssmd.connector", logging.DEBUG),
])
def test_target_mapping(directive: str, logger: str, level: int) -> None:
    """Rust crate targets (and Python logger names) set the matching Python loggers; the default stays info."""
    _setup({"RUST_LOG": f"info,{directive}"})
    assert logging.getLogger(logger).getEffectiveLevel() == level
    assert logging.getLogger().level == logging.INFO


@pytest.mark.parametrize(("raw", "level"), [
    ("debug", logging.DEBUG), ("trace", logging.DEBUG), ("WARN", logging.WARNING), ("error", logging.ERROR),
    (" info ", logging.INFO), ("", logging.INFO), ("ssmd_connector=debug", logging.INFO),
])
def test_bare_level_is_the_default(raw: str, level: int) -> None:
    """A bare level sets every logger without a target of its own; no bare level means info."""
    assert levels_from_env({"RUST_LOG": raw}).default == level


def test_off_silences_everything() -> None:
    """`off` (tracing's spelling) writes nothing, not even errors."""
    out = _setup({"RUST_LOG": "off"})
    logging.getLogger("ssmd.connector").error("should not appear")
    assert out.getvalue() == ""


def test_target_without_level_means_everything_for_that_target() -> None:
    """`RUST_LOG=ssmd_connector` is tracing's "all levels for this target"."""
    spec = levels_from_env({"RUST_LOG": "ssmd_connector"})
    assert spec.targets["ssmd.connector"] == logging.DEBUG


def test_unknown_targets_give_one_warning() -> None:
    """Unknown crates and bad levels are not silently dropped: one warning line lists them all."""
    out = _setup({"RUST_LOG": "info,hyper_util=debug,ssmd_connector=loud,my_crate=trace"})
    lines = [line for line in out.getvalue().splitlines() if "RUST_LOG" in line]
    assert len(lines) == 1, out.getvalue()
    assert "hyper_util" in lines[0] and "my_crate" in lines[0] and "loud" in lines[0]
    assert "warning" in lines[0]


def test_warning_is_shown_even_when_the_level_hides_warnings() -> None:
    """With `error` as the level, the warning about the operator's own setting still appears."""
    out = _setup({"RUST_LOG": "error,nonsense=debug"})
    assert "nonsense" in out.getvalue()


def test_ssmd_log_takes_precedence_over_rust_log() -> None:
    """SSMD_LOG wins over RUST_LOG when set and non-blank; it speaks the same syntax."""
    assert levels_from_env({"SSMD_LOG": "warning", "RUST_LOG": "debug"}).default == logging.WARNING
    spec = levels_from_env({"SSMD_LOG": "error,ssmd_archiver=debug", "RUST_LOG": "debug"})
    assert spec.default == logging.ERROR and spec.targets == {"ssmd.archiver": logging.DEBUG}
    assert levels_from_env({"SSMD_LOG": " ", "RUST_LOG": "debug"}).default == logging.DEBUG


def test_noisy_library_defaults_can_be_overridden() -> None:
    """aiohttp.access and asyncio default to warning, but an explicit target wins."""
    _setup({"RUST_LOG": "info"})
    assert logging.getLogger("aiohttp.access").level == logging.WARNING
    _setup({"RUST_LOG": "info,aiohttp.access=debug"})
    assert logging.getLogger("aiohttp.access").level == logging.DEBUG
