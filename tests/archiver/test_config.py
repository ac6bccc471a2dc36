"""The archiver's optional config keys are validated at load time with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ssmd.config import ConfigError, load_archiver

BASE = {
    "nats": {"url": "nats://127.0.0.1:4222", "stream": "PROD_KALSHI", "consumer": "a",
             "filter": "prod.kalshi.json.>"},
    "storage": {"path": "/data/ssmd"},
}


def load(tmp_path: Path, **extra: object) -> object:
    path = tmp_path / "archiver.yaml"
    path.write_text(yaml.safe_dump({**BASE, **extra}))
    return load_archiver(path, {})


def test_guide_file_gets_documented_defaults(tmp_path: Path) -> None:
    """The deployment guide's file needs no new keys: defaults are isal level 3, 5000/20000 batch bounds."""
    cfg = load(tmp_path)
    assert (cfg.compression.codec, cfg.compression.effective_level) == ("isal", 3)  # type: ignore[attr-defined]
    assert (cfg.batch.max_messages, cfg.batch.max_ack_pending) == (5000, 20000)  # type: ignore[attr-defined]
    assert cfg.rotation.seconds == 900  # type: ignore[attr-defined]


def test_compression_level_out_of_range_names_the_field(tmp_path: Path) -> None:
    """isal accepts levels 0..3 only; the error names compression and the allowed range."""
    with pytest.raises(ConfigError, match=r"compression.*0\.\.3"):
        load(tmp_path, compression={"codec": "isal", "level": 6})


def test_ack_pending_below_batch_size_is_rejected(tmp_path: Path) -> None:
    """max_ack_pending smaller than a batch would stall delivery forever: rejected with both values."""
    with pytest.raises(ConfigError, match=r"batch.*max_ack_pending \(10\).*max_messages \(100\)"):
        load(tmp_path, batch={"max_messages": 100, "max_ack_pending": 10})


def test_rotation_longer_than_a_day_is_rejected(tmp_path: Path) -> None:
    """A day is the longest window (one manifest per day)."""
    with pytest.raises(ConfigError, match=r"rotation\.interval"):
        load(tmp_path, rotation={"interval": "2d"})
