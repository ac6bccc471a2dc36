"""Routing and normalisation of Polymarket frames, on the genuine examples of polymarket-protocol.md §9."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from ssmd.feed.base import KEPT, UNPARSED, BookDelta, BookSnapshot, Kind, Lifecycle, TopOfBook, Trade
from ssmd.polymarket import protocol
from ssmd.polymarket.events import frame_events
from ssmd.polymarket.feed import PolymarketFeed, PolymarketSession

GOLDEN = [line for line in (Path(__file__).parent / "data" / "golden.jsonl").read_bytes().split(b"\n") if line]
BOOK_DOC, BOOK_REAL, PC_NEW, PC_REMOVALS, PC_LEGACY, TICK, TRADE, BBA, RESOLVED, NEW_MARKET = GOLDEN


def test_golden_frames_route_on_event_type_and_lowercased_condition_id() -> None:
    for raw in GOLDEN:
        data = orjson.loads(raw)
        route = protocol.route(raw)
        assert route.kind is Kind.DATA
        assert route.type == data["event_type"]
        assert route.key == data["market"].lower()
        assert route.seq is None and route.sid is None


def test_upper_case_condition_ids_are_lowercased_and_odd_types_sanitised() -> None:
    route = protocol.route(b'{"event_type":"a.b c","market":"0xABCDEF"}')
    assert (route.type, route.key) == ("a_b_c", "0xabcdef")


def test_an_array_is_one_message_routed_by_its_first_element() -> None:
    raw = b"[" + PC_NEW + b"," + BOOK_DOC + b"]"
    route = protocol.route(raw)
    assert (route.type, route.key) == ("price_change", orjson.loads(PC_NEW)["market"])
    events = frame_events(raw, exact_numbers=True)
    assert [type(e) for e in events] == [BookDelta, BookDelta, BookSnapshot]  # every element's events


@pytest.mark.parametrize("raw", [b"INVALID OPERATION", b"[]", b"{}", b'{"market":"0x1"}', b"[1,2]", b'"book"',
                                 b"{not json", b"PONG ", b"pong"])
def test_text_words_and_frames_without_event_type_are_unparsed_never_errors(raw: bytes) -> None:
    assert protocol.route(raw) is UNPARSED
    assert frame_events(raw) == []


@pytest.mark.parametrize("raw", [b"PONG", b"NO NEW ASSETS"])
def test_expected_text_words_are_kept_not_unparsed(raw: bytes) -> None:
    """Kept raw on the unparsed subject like junk, but the connector neither warns nor counts them as data."""
    assert protocol.route(raw) is KEPT
    assert frame_events(raw) == []


def test_valid_json_of_unexpected_types_still_routes() -> None:
    route = protocol.route(b'{"event_type":"book","market":5}')
    assert (route.kind, route.type, route.key) == (Kind.DATA, "book", None)


def test_book_levels_come_best_last_and_are_sorted_ascending() -> None:
    [book] = frame_events(BOOK_REAL, exact_numbers=True)
    assert isinstance(book, BookSnapshot)
    assert book.market == orjson.loads(BOOK_REAL)["asset_id"]
    assert book.ts_ms == 1786604072222
    assert len(book.bids) == 7 and len(book.asks) == 57
    assert book.bids[-1] == (Decimal("0.07"), Decimal("182528.55"))  # best bid
    assert book.asks[0] == (Decimal("0.08"), Decimal("228198.28"))  # best ask (sent last)
    assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)
    [doc] = frame_events(BOOK_DOC, exact_numbers=True)
    assert isinstance(doc, BookSnapshot)
    assert doc.bids[0] == (Decimal("0.48"), Decimal("30"))  # ".48" without a leading zero


def test_the_three_price_change_schemas_give_absolute_sizes() -> None:
    new = frame_events(PC_NEW, exact_numbers=True)
    assert new == [
        BookDelta("71321045679252212594626385532706912750332728571942532289631379312455583992563", 1757908892351,
                  "bid", Decimal("0.5"), size=Decimal("200")),
        BookDelta("52114319501245915516055106046884209969926127482827954674443846427813813222426", 1757908892351,
                  "ask", Decimal("0.5"), size=Decimal("200")),
    ]
    removals = frame_events(PC_REMOVALS, exact_numbers=True)
    assert [(d.side, d.price, d.size) for d in removals if isinstance(d, BookDelta)] == [
        ("ask", Decimal("0.399"), Decimal("0")), ("bid", Decimal("0.601"), Decimal("0"))]
    legacy = frame_events(PC_LEGACY, exact_numbers=True)
    assert legacy == [BookDelta("71321045679252212594626385532706912750332728571942532289631379312455583992563",
                                1729084877448, "ask", Decimal("0.4"), size=Decimal("3300"))]
    oldest = orjson.dumps({"event_type": "price_change", "asset_id": "42", "market": "0xAB", "price": ".31",
                           "side": "buy", "size": "12.50", "timestamp": "1729084877646"})
    assert frame_events(oldest, exact_numbers=True) == [
        BookDelta("42", 1729084877646, "bid", Decimal("0.31"), size=Decimal("12.50"))]


def test_trade_top_of_book_and_lifecycle() -> None:
    assert frame_events(TRADE, exact_numbers=True) == [Trade(
        "114122071509644379678018727908709560226618148003371446110114509806601493071694", 1750428146322,
        Decimal("0.456"), Decimal("219.217767"), "buy", None)]
    [top] = frame_events(BBA, exact_numbers=True)
    assert isinstance(top, TopOfBook) and (top.bid, top.ask) == (Decimal("0.73"), Decimal("0.77"))
    resolved = frame_events(RESOLVED)
    assert [(e.status, e.detail["winner"]) for e in resolved if isinstance(e, Lifecycle)] == [
        ("resolved", True), ("resolved", False)]
    new = frame_events(NEW_MARKET)
    assert [e.detail["outcome"] for e in new if isinstance(e, Lifecycle)] == ["Yes", "No"]
    assert frame_events(TICK) == []


def test_float_and_exact_paths_agree_on_every_golden_frame() -> None:
    def as_float(value: object) -> object:
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, list | tuple):
            return [as_float(v) for v in value]
        return value

    for raw in GOLDEN:
        fast, exact = frame_events(raw), frame_events(raw, exact_numbers=True)
        assert len(fast) == len(exact)
        for f, e in zip(fast, exact, strict=True):
            assert type(f) is type(e)
            for name in f.__slots__:
                assert as_float(getattr(f, name)) == as_float(getattr(e, name)), (raw[:60], name)
        assert all(not isinstance(v, Decimal) for e in fast for v in vars_of(e))


def vars_of(event: object) -> list[object]:
    out: list[object] = []
    for name in event.__slots__:  # type: ignore[attr-defined]
        value = getattr(event, name)
        out.extend(x for level in value for x in level) if isinstance(value, list) else out.append(value)
    return out


def test_empty_strings_are_none_and_unreadable_values_drop_only_their_event() -> None:
    top = orjson.dumps({"event_type": "best_bid_ask", "market": "0x1", "asset_id": "7", "best_bid": "",
                        "best_ask": "0.5", "spread": "", "timestamp": "1"})
    assert frame_events(top, exact_numbers=True) == [TopOfBook("7", 1, None, Decimal("0.5"))]
    bad_book = orjson.dumps({"event_type": "book", "market": "0x1", "asset_id": "7", "timestamp": "1",
                             "bids": [{"price": "x", "size": "1"}], "asks": []})
    assert frame_events(bad_book) == []
    pc = orjson.loads(PC_NEW)
    pc["price_changes"][0]["size"] = "lots"
    assert len(frame_events(orjson.dumps(pc))) == 1  # the other entry survives


def test_session_sends_one_type_message_then_operations() -> None:
    session = PolymarketSession()
    assert session.unsubscribe("market", None, ["1"]) is None  # nothing subscribed on this socket yet
    first = orjson.loads(session.subscribe("market", ["1", "2"]).frame)
    assert first == {"assets_ids": ["1", "2"], "type": "market", "initial_dump": True,
                     "custom_feature_enabled": True}
    again = orjson.loads(session.subscribe("market", ["3"]).frame)
    assert again["operation"] == "subscribe" and "type" not in again and again["initial_dump"] is True
    update = [orjson.loads(c.frame) for c in session.update("market", None, ["4"], ["1"])]
    assert [(u["operation"], u["assets_ids"]) for u in update] == [("unsubscribe", ["1"]), ("subscribe", ["4"])]
    assert all(c.id is None for c in session.update("market", None, ["5"], []))  # no replies to wait for


def test_feed_describes_the_channel() -> None:
    feed = PolymarketFeed()
    assert feed.ws_url == "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    assert feed.heartbeat.text == "PING" and feed.heartbeat.interval == 10.0
    assert feed.max_markets_per_connection == 200
    assert feed.rest_url_for(feed.ws_url) == "https://gamma-api.polymarket.com"
    assert feed.rest_url_for("ws://127.0.0.1:9/ws/market") == "http://127.0.0.1:9"


def test_gamma_rows_give_their_tokens_and_odd_rows_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    from ssmd.polymarket.discovery import market_tokens

    row = {"id": "559652", "clobTokenIds": '["545", "878"]', "enableOrderBook": True}
    assert market_tokens(row) == ["545", "878"]  # a JSON-encoded string, as Gamma sends it
    assert market_tokens({**row, "clobTokenIds": ["1", "2"]}) == ["1", "2"]  # tolerated: already a list
    assert market_tokens({**row, "enableOrderBook": False}) is None
    for bad in ('["545", ', "[]", '[545]', None, '["0x1"]'):
        assert market_tokens({**row, "clobTokenIds": bad}) is None
    assert "Gamma market 559652: clobTokenIds is not a JSON list of token ids" in caplog.text


def test_route_agrees_with_the_independent_subject_oracle() -> None:
    from ssmd.bus.subjects import sanitize_token
    from ssmd.polymarket.testing import expected_subject

    frames = [*GOLDEN, b"[" + PC_NEW + b"," + BOOK_DOC + b"]", b"PONG", b"[]", b'{"event_type":"x.y","market":"0xAB"}']
    for raw in frames:
        route = protocol.route(raw)
        subject = ("p.polymarket.json.unparsed._" if route.kind is not Kind.DATA
                   else f"p.polymarket.json.{route.type}.{sanitize_token(route.key or '')}")
        assert subject == expected_subject("p.polymarket", raw), raw[:80]


def test_inspect_gives_type_key_and_exchange_time_and_never_raises() -> None:
    feed = PolymarketFeed()
    info = feed.inspect(BOOK_REAL)
    assert (info.type, info.key, info.ts_ms(), info.sid, info.seq) == (
        "book", "0x6bd56627aa21311850825edb27e53434a0e17a4f782be0086bc07f71eee00d0d", 1786604072222, None, None)
    array = feed.inspect(b"[" + TRADE + b"," + BOOK_DOC + b"]")
    assert (array.type, array.ts_ms()) == ("last_trade_price", 1750428146322)
    for raw in (b"PONG", b"[]", b"{not json", b'{"event_type":"book","market":5,"timestamp":7}'):
        got = feed.inspect(raw)
        assert got.ts_ms() is None
        assert got.type == ("book" if raw.startswith(b'{"event_type"') else None)
