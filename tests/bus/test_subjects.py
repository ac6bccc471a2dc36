"""Subject mapping `{env}.{feed}.json.{type}.{ticker}` and filter coverage."""

import pytest

import ssmd.bus.subjects
from ssmd.bus.subjects import SubjectCache, filter_covers, sanitize_token, subject, subject_for, unparsed_subject


@pytest.mark.parametrize(
    ("frame_type", "ticker", "subject"),
    [
        ("trade", "KXETHD-26FEB1217-T1819.99", "prod.kalshi.json.trade.KXETHD-26FEB1217-T1819_99"),
        ("ticker_v2", "FED-23DEC-T3.00", "prod.kalshi.json.ticker.FED-23DEC-T3_00"),
        ("orderbook_delta", "A", "prod.kalshi.json.orderbook.A"),
        ("orderbook_snapshot", "A", "prod.kalshi.json.orderbook.A"),
        ("market_lifecycle_v2", "A", "prod.kalshi.json.lifecycle.A"),
        ("event_lifecycle", "KXQUICK-26", "prod.kalshi.json.event_lifecycle.KXQUICK-26"),
        ("event_fee_update", None, "prod.kalshi.json.event_fee_update._"),
        ("weird.type", "a b*c>d", "prod.kalshi.json.weird_type.a_b_c_d"),
    ],
)
def test_subject_for(frame_type: str, ticker: str | None, subject: str) -> None:
    """Types map to their token; unsafe ticker characters become `_`; no ticker gives `_`."""
    assert subject_for("prod.kalshi", frame_type, ticker) == subject
    assert len(subject.split(".")) == 5


def test_unparsed_subject() -> None:
    """Frames that are not JSON go to a fixed subject under the same prefix."""
    assert unparsed_subject("prod.kalshi") == "prod.kalshi.json.unparsed._"


def test_sanitize_whitespace_variants() -> None:
    """Tabs and newlines are whitespace too."""
    assert sanitize_token("a\tb\nc") == "a_b_c"


@pytest.mark.parametrize(
    ("outer", "inner", "covers"),
    [
        ("prod.kalshi.>", "prod.kalshi.json.>", True),
        ("prod.kalshi.>", "prod.kalshi.>", True),
        ("prod.kalshi.>", "prod.kalshi", False),
        ("prod.kalshi.>", "prod.other.json.>", False),
        ("prod.*.json.>", "prod.kalshi.json.trade.X", True),
        ("prod.kalshi.json.*.*", "prod.kalshi.json.trade.>", False),
        ("prod.kalshi.json.*.*", "prod.kalshi.json.trade.X", True),
        ("prod.kalshi.json.trade.X", "prod.kalshi.json.*.X", False),
    ],
)
def test_filter_covers(outer: str, inner: str, covers: bool) -> None:
    """Every subject the inner filter matches must be matched by the outer one."""
    assert filter_covers(outer, inner) is covers


def test_subject_cache_gives_the_rules_subject_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """``cache[token][key]`` is :func:`subject` for that token and key (sanitised, ``_`` for none), and a token's
    keys never grow past the bound: the cache starts over instead."""
    monkeypatch.setattr(ssmd.bus.subjects, "_CACHE_MAX", 3)
    cache = SubjectCache("prod.kalshi")
    for key in ("A", "FED-23DEC-T3.00", None, "a b*c>d", "A"):
        assert cache["orderbook"][key] == subject("prod.kalshi", "orderbook", key)
    assert cache["trade"]["A"] == "prod.kalshi.json.trade.A"
    assert len(cache["orderbook"]) <= 3 and set(cache) == {"orderbook", "trade"}
