"""Sharding market lists within the configured exchange limits."""

from __future__ import annotations

from ssmd.config.capture import CaptureConfig
from ssmd.connector.plan import place_new_markets, plan_shards
from ssmd.feed import get_feed


def _cfg(**kw: object) -> CaptureConfig:
    return CaptureConfig.model_validate({"channels": ["ticker", "orderbook_delta"], "markets": {"tickers": ["A"]},
                                         **kw}).for_feed(get_feed("kalshi"))


def test_global_channels_only_need_one_connection() -> None:
    """The default capture is one socket with one subscription per global channel and no market list."""
    shards = plan_shards(CaptureConfig().for_feed(get_feed("kalshi")), [])
    assert [[(s.channel, s.markets) for s in subs] for subs in shards] == [
        [("ticker", None), ("trade", None), ("market_lifecycle_v2", None)]]


def test_markets_are_cut_by_subscription_and_connection_limits() -> None:
    """25 markets, 4 per subscription, 10 per connection: 3 sockets holding 10/10/5 markets in 3/3/2 subs."""
    markets = [f"M{i}" for i in range(25)]
    shards = plan_shards(_cfg(max_markets_per_subscription=4, max_markets_per_connection=10), markets)
    assert len(shards) == 3
    books = [[s.markets for s in subs if s.channel == "orderbook_delta"] for subs in shards]
    assert [sum(len(m or ()) for m in b) for b in books] == [10, 10, 5]
    assert all(len(m or ()) <= 4 for b in books for m in b)
    assert [t for b in books for m in b for t in (m or ())] == markets
    assert shards[0][0].channel == "ticker"


def test_new_markets_fill_existing_room_then_new_subscriptions_then_new_connections() -> None:
    """Placement never exceeds a limit: first the free room of existing subscriptions, then new ones."""
    cfg = _cfg(max_markets_per_subscription=4, max_markets_per_connection=8)
    shards = plan_shards(cfg, ["M0", "M1", "M2"])
    placed = place_new_markets(cfg, shards, "orderbook_delta", [f"N{i}" for i in range(10)])
    assert placed[0][0] == 0 and placed[0][2] == ["N0"] and placed[0][3] is False
    assert [(p[0], len(p[2]), p[3]) for p in placed[1:]] == [(0, 4, True), (1, 4, True), (1, 1, True)]
