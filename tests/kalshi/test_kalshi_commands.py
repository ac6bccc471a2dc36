"""Client commands: shapes as in kalshi-protocol.md §3 and increasing ids."""

from __future__ import annotations

from typing import Any

import orjson

from ssmd.kalshi.commands import Commands


def _body(frame: tuple[int, bytes]) -> dict[str, Any]:
    cid, raw = frame
    body: dict[str, Any] = orjson.loads(raw)
    assert body["id"] == cid
    return body


def test_ids_start_at_one_and_increase_across_commands() -> None:
    """Ids are 1, 2, 3 ... per connection whatever the command (0 would mean "no id")."""
    cmds = Commands()
    ids = [cmds.subscribe(["ticker"])[0], cmds.list_subscriptions()[0], cmds.unsubscribe([1])[0],
           cmds.update_subscription(1, ["A"], "add_markets")[0]]
    assert ids == [1, 2, 3, 4]


def test_connections_count_ids_independently() -> None:
    """Each Commands (one per connection) starts again at 1."""
    first, second = Commands(), Commands()
    first.subscribe(["ticker"])
    assert second.subscribe(["ticker"])[0] == 1


def test_subscribe_all_markets() -> None:
    """Without tickers the subscribe carries only `channels` (the all-markets firehose)."""
    assert _body(Commands().subscribe(["ticker", "trade"])) == {
        "id": 1, "cmd": "subscribe", "params": {"channels": ["ticker", "trade"]}}


def test_subscribe_one_market_uses_market_ticker() -> None:
    """A single market is sent as `market_ticker`, dots kept."""
    body = _body(Commands().subscribe(["orderbook_delta"], ["KXETHD-26FEB1217-T1819.99"]))
    assert body["params"] == {"channels": ["orderbook_delta"], "market_ticker": "KXETHD-26FEB1217-T1819.99"}


def test_subscribe_many_markets_uses_market_tickers() -> None:
    """Several markets are sent as the `market_tickers` array, in order."""
    body = _body(Commands().subscribe(["orderbook_delta"], iter(["B", "A"])))
    assert body["params"] == {"channels": ["orderbook_delta"], "market_tickers": ["B", "A"]}


def test_subscribe_passes_extra_params() -> None:
    """Extra documented params (e.g. `send_initial_snapshot`) are passed through."""
    body = _body(Commands().subscribe(["ticker"], ["A", "B"], send_initial_snapshot=True))
    assert body["params"]["send_initial_snapshot"] is True


def test_unsubscribe_shape() -> None:
    """`unsubscribe` carries `params.sids`."""
    assert _body(Commands().unsubscribe([1, 2])) == {"id": 1, "cmd": "unsubscribe", "params": {"sids": [1, 2]}}


def test_update_subscription_shapes() -> None:
    """`update_subscription` has exactly one sid, the tickers and the action (add and delete)."""
    cmds = Commands()
    add = _body(cmds.update_subscription(456, ["NEW-1"], "add_markets"))
    delete = _body(cmds.update_subscription(456, ["OLD-1", "OLD-2"], "delete_markets"))
    assert add == {"id": 1, "cmd": "update_subscription",
                   "params": {"sids": [456], "market_tickers": ["NEW-1"], "action": "add_markets"}}
    assert delete["params"] == {"sids": [456], "market_tickers": ["OLD-1", "OLD-2"], "action": "delete_markets"}


def test_list_subscriptions_has_no_params() -> None:
    """`list_subscriptions` is just an id and the command."""
    assert _body(Commands().list_subscriptions()) == {"id": 1, "cmd": "list_subscriptions"}
