"""Binary markets with one integer book each, and the frames Polymarket sends about them.

A market is one condition id and two outcome tokens. The model keeps the first token's (YES) book in cents and
hundredths of a share; the second token's book is its mirror (a YES bid at p is a NO ask at 1 - p), as on the
CLOB. Frames reproduce the wire's quirks (``../shared/polymarket-protocol.md`` §2, §8.9): levels best-LAST,
decimal strings in varying forms (``".48"``, ``"0.480"``, ``"150.0"``), ``""`` for absent decimals, mirrored
two-token ``price_change`` entries, a ``book`` after each trade, no sequence numbers.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal

import orjson

WORDS = ("bitcoin", "fed", "election", "nvda", "rain", "oscars", "gdp", "eth", "senate", "final")


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame for the sockets subscribed to any of ``assets`` (``custom``: only with custom features)."""

    assets: tuple[str, ...]
    raw: bytes
    custom: bool = False
    broadcast: bool = False
    """For every socket (with custom features), whatever it subscribed (``new_market`` is observed so)."""


@dataclass
class Market:
    gamma_id: str
    condition_id: str
    tokens: tuple[str, str]
    question: str
    slug: str
    closed: bool = False
    bids: dict[int, int] = field(default_factory=dict)
    """YES bids: price in cents -> size in hundredths of a share."""
    asks: dict[int, int] = field(default_factory=dict)
    last_trade: int | None = None

    def gamma(self) -> dict[str, object]:
        """The Gamma ``/markets`` row (``outcomes``, ``outcomePrices``, ``clobTokenIds`` are JSON strings)."""
        mid = (max(self.bids, default=0) + min(self.asks, default=100)) / 200
        return {
            "id": self.gamma_id, "question": self.question, "conditionId": self.condition_id, "slug": self.slug,
            "outcomes": json.dumps(["Yes", "No"]),
            "outcomePrices": json.dumps([f"{mid:.3f}", f"{1 - mid:.3f}"]),
            "clobTokenIds": json.dumps(list(self.tokens)),
            "active": True, "closed": self.closed, "enableOrderBook": True, "acceptingOrders": not self.closed,
            "orderPriceMinTickSize": 0.01, "orderMinSize": 5,
        }


class Formats:
    """Decimal strings in the forms the wire mixes."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def price(self, cents: int) -> str:
        text = str((Decimal(cents) / 100).normalize())  # "0.48", "0.5"
        variant = self.rng.random()
        if variant < 0.2:
            return text[1:]  # ".48"
        if variant < 0.35:
            return text + "0"  # "0.480"
        return text

    def size(self, hundredths: int) -> str:
        value = Decimal(hundredths) / 100
        variant = self.rng.random()
        if variant < 0.2:
            return f"{value:.2f}"  # "150.00"
        text = format(value.normalize(), "f")
        if "." not in text and variant < 0.5:
            return text + ".0"  # "150.0"
        return text


class MarketModel:
    def __init__(self, n_markets: int, seed: int | None, closed_markets: int = 0, lifecycle_every: int = 0) -> None:
        """``lifecycle_every``: model steps between lifecycle events (0: none): a market resolves
        (``market_resolved``, Gamma then lists it closed) and a new one opens (``new_market``, listed open)."""
        self.rng = random.Random(seed)
        self.lifecycle_every = lifecycle_every
        self.steps = 0
        self.fmt = Formats(self.rng)
        self.markets: list[Market] = []
        self.by_asset: dict[str, tuple[Market, int]] = {}
        for i in range(n_markets + closed_markets):
            self.markets.append(self._new_market(i, closed=i >= n_markets))
        self.active = [m for m in self.markets if not m.closed]

    def _hex(self, nbytes: int) -> str:
        return "".join(f"{self.rng.getrandbits(8):02x}" for _ in range(nbytes))

    def _new_market(self, i: int, closed: bool) -> Market:
        rng = self.rng
        word = WORDS[i % len(WORDS)]
        tokens = (str(rng.getrandbits(255) | 1 << 250), str(rng.getrandbits(255) | 1 << 250))
        market = Market(str(500000 + i), "0x" + self._hex(32), tokens, f"Will {word} #{i} happen?",
                        f"{word}-{i}-happens", closed)
        mid = rng.randint(10, 90)
        for k in range(1, rng.randint(2, 6)):
            if mid - k > 0:
                market.bids[mid - k] = rng.randint(1, 5000) * 100
        for k in range(1, rng.randint(2, 6)):
            if mid + k < 100:
                market.asks[mid + k] = rng.randint(1, 5000) * 100
        for index, token in enumerate(tokens):
            self.by_asset[token] = (market, index)
        return market

    # -- frames --------------------------------------------------------------------------------------------

    def book(self, asset: str, now_ms: int) -> bytes:
        """The ``book`` frame of one token: levels best-LAST (bids ascending, asks descending)."""
        market, index = self.by_asset[asset]
        fmt = self.fmt
        if index == 0:
            bids, asks = market.bids, market.asks
        else:  # the mirror: NO bids are YES asks at 1 - p
            bids = {100 - p: s for p, s in market.asks.items()}
            asks = {100 - p: s for p, s in market.bids.items()}
        body = {
            "market": market.condition_id, "asset_id": asset, "timestamp": str(now_ms),
            "hash": "",
            "bids": [{"price": fmt.price(p), "size": fmt.size(bids[p])} for p in sorted(bids)],
            "asks": [{"price": fmt.price(p), "size": fmt.size(asks[p])} for p in sorted(asks, reverse=True)],
            "tick_size": "0.01", "event_type": "book",
            "last_trade_price": "" if market.last_trade is None else
            fmt.price(market.last_trade if index == 0 else 100 - market.last_trade),
        }
        body["hash"] = hashlib.sha1(orjson.dumps(body)).hexdigest()
        return orjson.dumps(body)

    def _top(self, market: Market, index: int) -> tuple[str, str]:
        """``best_bid``/``best_ask`` of one token after a change; an empty side is ``""``."""
        bid = max(market.bids, default=None)
        ask = min(market.asks, default=None)
        if index == 1:
            bid, ask = (None if ask is None else 100 - ask), (None if bid is None else 100 - bid)
        return ("" if bid is None else self.fmt.price(bid)), ("" if ask is None else self.fmt.price(ask))

    def price_change(self, market: Market, side: str, cents: int, now_ms: int) -> Frame:
        """One YES level changed: entries for both tokens (BUY at p on YES mirrors SELL at 1 - p on NO)."""
        book = market.bids if side == "BUY" else market.asks
        size = self.fmt.size(book.get(cents, 0))
        entries = []
        for index, (price, token_side) in enumerate(((cents, side), (100 - cents, "SELL" if side == "BUY" else "BUY"))):
            best_bid, best_ask = self._top(market, index)
            entries.append({"asset_id": market.tokens[index], "price": self.fmt.price(price), "size": size,
                            "side": token_side, "hash": self._hex(20), "best_bid": best_bid, "best_ask": best_ask})
        raw = orjson.dumps({"market": market.condition_id, "price_changes": entries, "timestamp": str(now_ms),
                            "event_type": "price_change"})
        return Frame(market.tokens, raw)

    # -- the model ---------------------------------------------------------------------------------------------

    def lifecycle(self, now_ms: int) -> list[Frame]:
        """The oldest active market resolves (first outcome wins half the time); a new market opens."""
        old = self.active.pop(0)
        old.closed = True
        winner = self.rng.randrange(2)
        resolved = orjson.dumps({
            "event_type": "market_resolved", "id": old.gamma_id, "market": old.condition_id,
            "assets_ids": list(old.tokens), "winning_asset_id": old.tokens[winner],
            "winning_outcome": ("Yes", "No")[winner], "timestamp": str(now_ms), "tags": ["sim"]})
        new = self._new_market(len(self.markets), closed=False)
        self.markets.append(new)
        self.active.append(new)
        opened = orjson.dumps({
            "event_type": "new_market", "id": new.gamma_id, "question": new.question, "market": new.condition_id,
            "slug": new.slug, "description": "", "assets_ids": list(new.tokens), "outcomes": ["Yes", "No"],
            "timestamp": str(now_ms), "tags": ["sim"], "condition_id": new.condition_id, "active": True,
            "clob_token_ids": list(new.tokens), "order_price_min_tick_size": "0.01"})
        return [Frame(old.tokens, resolved, custom=True), Frame(new.tokens, opened, custom=True, broadcast=True)]

    def step(self, now_ms: int) -> list[Frame]:
        """One action on one random active market: a limit order (50 %), a cancel (35 %) or a trade (15 %);
        every ``lifecycle_every`` steps, a lifecycle instead."""
        self.steps += 1
        if self.lifecycle_every and self.steps % self.lifecycle_every == 0 and len(self.active) > 1:
            return self.lifecycle(now_ms)
        rng = self.rng
        market = rng.choice(self.active)
        action = rng.random()
        side = "BUY" if rng.random() < 0.5 else "SELL"
        book = market.bids if side == "BUY" else market.asks
        if action < 0.5 or len(book) < 2:
            best_bid, best_ask = max(market.bids, default=1), min(market.asks, default=99)
            if side == "BUY":
                cents = max(1, min(best_ask - 1, best_bid + rng.randint(-3, 1)))
            else:
                cents = min(99, max(best_bid + 1, best_ask + rng.randint(-1, 3)))
            book[cents] = book.get(cents, 0) + rng.randint(1, 500) * 100
            return [self.price_change(market, side, cents, now_ms)]
        if action < 0.85:
            cents = rng.choice(sorted(book))
            left = rng.choice((0, book[cents] // 2))
            if left:
                book[cents] = left
            else:
                del book[cents]
            return [self.price_change(market, side, cents, now_ms)]
        # a taker on the other side consumes part of the best level of ``book``
        cents = max(book) if side == "BUY" else min(book)
        taken = max(1, rng.randint(1, book[cents]))
        if taken >= book[cents]:
            del book[cents]
        else:
            book[cents] -= taken
        market.last_trade = cents
        taker = "SELL" if side == "BUY" else "BUY"
        trade = orjson.dumps({
            "asset_id": market.tokens[0], "event_type": "last_trade_price",
            "fee_rate_bps": rng.choice(("0", "")), "market": market.condition_id, "price": self.fmt.price(cents),
            "side": taker, "size": self.fmt.size(taken), "timestamp": str(now_ms),
            "transaction_hash": "0x" + self._hex(32),
        })
        top_bid, top_ask = self._top(market, 0)
        top = orjson.dumps({"event_type": "best_bid_ask", "market": market.condition_id,
                            "asset_id": market.tokens[0], "best_bid": top_bid, "best_ask": top_ask,
                            "spread": "" if not top_bid or not top_ask else
                            str(Decimal(top_ask) - Decimal(top_bid)), "timestamp": str(now_ms)})
        return [
            Frame(market.tokens[:1], trade),
            self.price_change(market, side, cents, now_ms),
            Frame(market.tokens[:1], self.book(market.tokens[0], now_ms)),
            Frame(market.tokens[:1], top, custom=True),
        ]
