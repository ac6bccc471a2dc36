"""How subscriptions are spread over connections, within the exchange's limits (all of them config).

Shard 0 carries the global channels (every market, no list; Kalshi's ``ticker``, ``trade``). Market-list
channels (the feed's ``market_channels``) are cut into subscriptions of at most
``max_markets_per_subscription`` markets, packed onto connections of at most ``max_markets_per_connection``
markets; the first such group shares shard 0. Both limits default to the feed's (``capture`` may override them).
"""

from __future__ import annotations

from collections.abc import Sequence

from ssmd.config.capture import CaptureConfig
from ssmd.connector.shard import Subscription


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def plan_shards(capture: CaptureConfig, markets: Sequence[str], with_global: bool = True) -> list[list[Subscription]]:
    """Subscriptions per connection; always at least one connection. ``with_global=False``: leave the global
    channels to another process (partitions other than 0)."""
    shards: list[list[Subscription]] = [[Subscription(c) for c in capture.global_channels] if with_global else []]
    per_sub = capture.per_subscription
    per_conn = capture.per_connection
    for channel in capture.market_channels:
        for index, group in enumerate(chunks(list(markets), per_conn)):
            while len(shards) <= index:
                shards.append([])
            shards[index].extend(Subscription(channel, part) for part in chunks(group, per_sub))
    return shards


def place_new_markets(
    capture: CaptureConfig, shards: list[list[Subscription]], channel: str, new: Sequence[str]
) -> list[tuple[int, Subscription, list[str], bool]]:
    """Where to put ``new`` markets of ``channel``: ``(shard, subscription, tickers, is_new_subscription)``.

    Fills existing subscriptions first, then opens subscriptions on connections with room, then new shards
    (``shard == len(shards)`` or more means "start a connection").
    """
    per_sub = capture.per_subscription
    per_conn = capture.per_connection
    out: list[tuple[int, Subscription, list[str], bool]] = []
    todo = list(new)
    loads = [sum(len(s.markets or ()) for s in subs) for subs in shards]
    for index, subs in enumerate(shards):
        for sub in subs:
            if not todo:
                return out
            if sub.channel != channel or sub.markets is None:
                continue
            room = min(per_sub - len(sub.markets), per_conn - loads[index])
            if room > 0:
                take, todo = todo[:room], todo[room:]
                loads[index] += len(take)
                out.append((index, sub, take, False))
    index = 0
    while todo:
        if index >= len(loads):
            loads.append(0)
        room = min(per_sub, per_conn - loads[index])
        if room > 0:
            take, todo = todo[:room], todo[room:]
            loads[index] += len(take)
            out.append((index, Subscription(channel, []), take, True))
        else:
            index += 1
    return out
