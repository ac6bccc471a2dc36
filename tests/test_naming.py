"""ssmd.naming: the one home of subject, stream, consumer and fire names and of filter matching."""

import pytest

from ssmd import naming


def test_frame_subjects() -> None:
    """The type token is taken as given; the key is sanitised into one token; no key gives `_`."""
    assert naming.subject("prod.kalshi", "trade", "KX-26FEB1217-T1.99") == "prod.kalshi.json.trade.KX-26FEB1217-T1_99"
    assert naming.subject("prod.polymarket", "book", None) == "prod.polymarket.json.book._"
    assert naming.subject("p.f", "t", "a b*c>d\te") == "p.f.json.t.a_b_c_d_e"
    assert naming.unparsed_subject("prod.kalshi") == "prod.kalshi.json.unparsed._"
    assert naming.frames_filter(naming.prefix("prod", "kalshi")) == "prod.kalshi.json.>"
    assert naming.capture_filter("prod.kalshi") == "prod.kalshi.>"


def test_tokens_and_parts() -> None:
    assert naming.sanitize_token("") == "_"
    assert naming.is_token("prod") and naming.is_token("dev-1")
    assert not naming.is_token("*") and not naming.is_token("a.b") and not naming.is_token("")
    assert naming.env_of("prod.kalshi.json.>") == "prod"
    assert naming.feed_of("prod.kalshi.json.>") == "kalshi"
    assert naming.feed_of("prod.*.json.>") is None
    assert naming.feed_of("prod") is None


def test_stream_and_consumer_names() -> None:
    """The deployment guide's names: PROD_KALSHI, PROD_SIGNALS, archiver-kalshi."""
    assert naming.stream_name("prod", "kalshi") == "PROD_KALSHI"
    assert naming.stream_for_prefix("replay-1.kalshi") == "REPLAY_1_KALSHI"
    assert naming.archiver_durable("kalshi") == "archiver-kalshi"
    assert naming.fires_stream("dev-1") == "DEV_1_SIGNALS"


def test_fire_names() -> None:
    subject = naming.fire_subject("prod", "price.cross", "KX-T1.5")
    assert subject == "prod.signals.fired.price_cross.KX-T1_5"
    assert naming.filter_covers(naming.fires_filter("prod"), subject)
    assert naming.filter_covers(naming.fires_capture("prod"), naming.fires_filter("prod"))
    assert not naming.filter_covers(naming.capture_filter("prod.kalshi"), subject)


@pytest.mark.parametrize(
    ("outer", "inner", "covers"),
    [
        ("prod.kalshi.>", "prod.kalshi.json.>", True),
        ("prod.kalshi.>", "prod.kalshi", False),
        ("prod.*.json.>", "prod.kalshi.json.trade.X", True),
        ("prod.kalshi.json.*.*", "prod.kalshi.json.trade.>", False),
        ("prod.kalshi.json.trade.X", "prod.kalshi.json.*.X", False),
        ("a.b", "a.b.c", False),
    ],
)
def test_filter_covers(outer: str, inner: str, covers: bool) -> None:
    assert naming.filter_covers(outer, inner) is covers
