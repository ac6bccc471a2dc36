"""Kalshi behind the feed seam: routing, the session's reply and sequence rules, events, endpoints."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ssmd.feed import UNPARSED, BookDelta, BookSnapshot, Gap, Kind, Route, Trade, get_feed
from ssmd.kalshi.feed import KalshiFeed, KalshiSession

FEED = get_feed("kalshi")
D = Kind.DATA


def _reply(session: KalshiSession, raw: bytes) -> object:
    route = FEED.route(raw)
    assert route.kind is Kind.CONTROL
    return session.reply(route, raw)


def test_the_registry_gives_one_shared_kalshi_feed() -> None:
    assert isinstance(FEED, KalshiFeed) and get_feed("kalshi") is FEED
    with pytest.raises(KeyError, match="expected one of kalshi"):
        get_feed("nope")


@pytest.mark.parametrize(("raw", "route"), [
    (b'{"type":"orderbook_delta","sid":2,"seq":9,"msg":{"market_ticker":"A.1"}}', Route(D, "orderbook", "A.1", 2, 9)),
    (b'{"type":"orderbook_snapshot","sid":2,"seq":1,"msg":{"market_ticker":"A"}}', Route(D, "orderbook", "A", 2, 1)),
    (b'{"type":"ticker_v2","sid":1,"msg":{"market_ticker":"B"}}', Route(D, "ticker", "B", 1, None)),
    (b'{"type":"market_lifecycle_v2","sid":3,"seq":4,"msg":{"event_ticker":"E"}}', Route(D, "lifecycle", "E", 3, 4)),
    (b'{"type":"new.kind","msg":{}}', Route(D, "new_kind", None)),
    (b"not json", UNPARSED),
    (b'{"sid":1,"msg":{"note":"no type"}}', UNPARSED),
])
def test_route_gives_the_subject_token_and_key(raw: bytes, route: Route) -> None:
    """Both book frame types share the ``orderbook`` token; unknown types keep their own, sanitised."""
    assert FEED.route(raw) == route


def test_control_frames_carry_their_decoded_view_for_the_session() -> None:
    route = FEED.route(b'{"id":3,"type":"subscribed","msg":{"channel":"trade","sid":7}}')
    assert route.kind is Kind.CONTROL and route.type == "subscribed" and route.detail is not None


def test_replies_match_commands_and_name_the_sid() -> None:
    session = KalshiSession()
    first, second = session.subscribe("trade", None), session.subscribe("orderbook_delta", ["A", "B"])
    assert (first.id, second.id) == (1, 2)
    assert b'"market_tickers":["A","B"]' in second.frame
    reply = _reply(session, b'{"id":2,"type":"subscribed","msg":{"channel":"orderbook_delta","sid":7}}')
    assert reply is not None and (reply.id, reply.ok, reply.handle) == (2, True, 7)  # type: ignore[attr-defined]
    assert session.unsubscribe("trade", None, None) is None  # nothing to unsubscribe without a sid
    updates = session.update("orderbook_delta", 7, ["C"], ["A"])
    assert [b"delete_markets" in c.frame for c in updates] == [True, False] and updates[1].id == 4


def test_error_26_says_split_and_terminal_errors_say_dropped() -> None:
    session = KalshiSession()
    split = _reply(session, b'{"id":1,"type":"error","msg":{"code":26,"msg":"too many"}}')
    assert split.too_many and not split.dropped and not split.ok  # type: ignore[attr-defined]
    for code in (10, 17, 25):
        dead = _reply(session, b'{"id":0,"type":"error","sid":4,"msg":{"code":%d,"msg":"x"}}' % code)
        assert dead.dropped and dead.id is None and dead.handle == 4  # type: ignore[attr-defined]
    other = _reply(session, b'{"id":0,"type":"error","sid":4,"msg":{"code":8,"msg":"unknown channel"}}')
    assert not other.dropped and not other.too_many  # type: ignore[attr-defined]


def test_seq_gaps_per_sid_and_ok_replies_advance_the_seq() -> None:
    session = KalshiSession()

    def data(sid: int, seq: int) -> Gap | None:
        return session.gap(FEED.route(b'{"type":"orderbook_delta","sid":%d,"seq":%d,"msg":{}}' % (sid, seq)))

    assert [data(1, 1), data(1, 2), data(2, 7), data(2, 8)] == [None] * 4
    assert data(1, 4) == Gap(1, 3, 4)
    _reply(session, b'{"id":5,"type":"ok","sid":2,"seq":9,"msg":{}}')  # an update_subscription reply uses seq 9
    assert data(2, 10) is None


def test_events_on_the_yes_scale() -> None:
    """A NO bid at p is an ask at 1 - p; exact gives Decimals, the fast path floats."""
    snap = (b'{"type":"orderbook_snapshot","sid":1,"seq":1,"msg":{"market_ticker":"A","yes_dollars_fp":'
            b'[["0.40","10.00"]],"no_dollars_fp":[["0.55","3.00"]],"ts_ms":1000}}')
    [book] = FEED.events(snap, exact=True)
    assert isinstance(book, BookSnapshot)
    assert list(book.bids) == [(Decimal("0.40"), Decimal("10.00"))] and list(book.asks) == [(Decimal("0.45"),
                                                                                             Decimal("3.00"))]
    delta = b'{"type":"orderbook_delta","sid":1,"seq":2,"msg":{"market_ticker":"A","price_dollars":"0.55",' \
            b'"delta_fp":"-1.00","side":"no"}}'
    [change] = FEED.events(delta)
    assert isinstance(change, BookDelta) and change.side == "ask" and change.price == pytest.approx(0.45)
    assert change.change == -1.0
    trade = b'{"type":"trade","sid":2,"seq":1,"msg":{"market_ticker":"A","yes_price_dollars":"0.42","count_fp":"2"}}'
    [t] = FEED.events(trade)
    assert isinstance(t, Trade) and (t.price, t.size) == (pytest.approx(0.42), 2.0)
    assert FEED.events(b'{"id":1,"type":"subscribed","msg":{"sid":1}}') == [] and FEED.events(b"junk") == []


def test_asking_for_a_control_types_token_does_not_make_it_data() -> None:
    """An archive filter may ask for the token of ``error``; replies must still route as control frames."""
    feed = KalshiFeed()
    assert feed.type_token("error") == "error" and feed.type_token("weird.type") == "weird_type"
    assert feed.route(b'{"id":1,"type":"error","msg":{"code":8}}').kind is Kind.CONTROL
    assert feed.route(b'{"type":"weird.type","msg":{}}') == Route(D, "weird_type")
