"""Polymarket frames as the feed seam's normalised events, from one field table for both number paths.

Keys: every event's ``market`` is the **asset id** (outcome token) it is about, not the condition id: a
``book`` or ``price_change`` entry names one token and carries nothing that says which outcome it is, so a
frame alone cannot put the second token's book on the first's scale. Each token's book is therefore its own
book, priced in that token (the first outcome's book, ``clobTokenIds[0]``, is the market's YES book; the
other is its mirror at ``1 - p``). Subjects, in contrast, are keyed by condition id (:mod:`.protocol`), so
both books of a market share one subject. Discovery and ``new_market`` frames map tokens to markets.

Numbers are decimal strings of varying form (``".48"``, ``"0.920"``, ``"150.0"``); ``""`` means "none".
``exact=True`` gives :class:`~decimal.Decimal`, else ``float``; both read the same fields (:data:`FIELDS`).
A field that cannot be read drops the event that needs it (the frame itself stays in the archive). Book
levels arrive best-LAST (bids ascending, asks descending); snapshots are sorted by ascending price on both
sides, as Kalshi's are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from ssmd.feed.base import BookDelta, BookSnapshot, Event, Lifecycle, Number, Side, TopOfBook, Trade

FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "book": {"asset": ("asset_id",), "ts": ("timestamp",), "bids": ("bids", "buys"), "asks": ("asks", "sells")},
    "price_change": {"asset": ("asset_id",), "ts": ("timestamp",), "entries": ("price_changes", "changes"),
                     "price": ("price",), "size": ("size",), "side": ("side",)},
    "last_trade_price": {"asset": ("asset_id",), "ts": ("timestamp",), "price": ("price",), "size": ("size",),
                         "side": ("side",), "id": ("transaction_hash",)},
    "best_bid_ask": {"asset": ("asset_id",), "ts": ("timestamp",), "bid": ("best_bid",), "ask": ("best_ask",)},
    "market_resolved": {"assets": ("assets_ids", "clob_token_ids"), "ts": ("timestamp",),
                        "winner": ("winning_asset_id",), "outcome": ("winning_outcome",), "market": ("market",)},
    "new_market": {"assets": ("clob_token_ids", "assets_ids"), "ts": ("timestamp",), "outcomes": ("outcomes",),
                   "market": ("market", "condition_id"), "question": ("question",), "slug": ("slug",)},
}
"""Wire names per event type, newest first (``buys``/``sells``: the legacy docs' names; ``changes``: the
2024-10 → 2025-09-15 ``price_change`` schema). The one place the analysis side names Polymarket fields."""

SIDES: dict[str, Side] = {"BUY": "bid", "SELL": "ask"}
"""``price_change`` side: BUY is the bid side (case-insensitive on input)."""

Num = Callable[[object], Number | None]


class _Bad(Exception):
    """A value that cannot be read: the event that needs it is dropped."""


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return repr(raw)
        raise _Bad
    text = raw.strip()
    return text or None


def exact(raw: object) -> Decimal | None:
    text = _text(raw)
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Bad from None
    if not value.is_finite():
        raise _Bad
    return value


def fast(raw: object) -> float | None:
    text = _text(raw)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise _Bad from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _Bad
    return value


def _ms(raw: object) -> int | None:
    text = _text(raw)
    if text is None:
        return None
    if not text.isdigit():
        raise _Bad
    return int(text)


def _get(obj: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in obj:
            return obj[name]
    return None


def _need(value: Number | None) -> Number:
    if value is None:
        raise _Bad
    return value


def frame_events(payload: bytes, exact_numbers: bool = False) -> list[Event]:
    """The events of one raw frame (an object or an array of them); ``[]`` for text words and unknown types."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return []
    num: Num = exact if exact_numbers else fast
    out: list[Event] = []
    for obj in data if isinstance(data, list) else (data,):
        if isinstance(obj, dict):
            try:
                out.extend(_events(obj, num))
            except _Bad:
                continue
    return out


def _events(obj: dict[str, Any], num: Num) -> Iterator[Event]:
    etype = obj.get("event_type")
    fields = FIELDS.get(etype) if isinstance(etype, str) else None
    if fields is None:
        return  # tick_size_change and types this table does not know: no event
    ts = _ms(_get(obj, fields["ts"]))
    if etype == "book":
        asset = _key(obj, fields)
        yield BookSnapshot(asset, ts, _levels(_get(obj, fields["bids"]), num),
                           _levels(_get(obj, fields["asks"]), num))
    elif etype == "price_change":
        entries = _get(obj, fields["entries"])
        if entries is None:  # before ~2024-10: one level per message, fields at the top
            yield _delta(obj, obj, fields, ts, num)
        elif isinstance(entries, list):  # current (entries carry asset_id) or legacy (asset_id at the top)
            for entry in entries:  # one unreadable entry drops that entry only
                if isinstance(entry, dict):
                    try:
                        delta = _delta(entry if "asset_id" in entry else obj, entry, fields, ts, num)
                    except _Bad:
                        continue
                    yield delta
        else:
            raise _Bad
    elif etype == "last_trade_price":
        side = _text(_get(obj, fields["side"]))
        yield Trade(_key(obj, fields), ts, _need(num(_get(obj, fields["price"]))),
                    _need(num(_get(obj, fields["size"]))), side.lower() if side else None,
                    _text(_get(obj, fields["id"])))
    elif etype == "best_bid_ask":
        yield TopOfBook(_key(obj, fields), ts, num(_get(obj, fields["bid"])), num(_get(obj, fields["ask"])))
    else:  # market_resolved / new_market: one Lifecycle per token, as books are keyed by token
        assets = _get(obj, fields["assets"])
        if not isinstance(assets, list) or not all(isinstance(a, str) for a in assets):
            raise _Bad
        condition = _text(_get(obj, fields["market"]))
        detail: dict[str, object] = {"condition_id": condition.lower() if condition else None}
        if etype == "market_resolved":
            winner = _text(_get(obj, fields["winner"]))
            for asset in assets:
                yield Lifecycle(asset, ts, "resolved", {**detail, "winner": asset == winner,
                                                        "winning_outcome": _get(obj, fields["outcome"])})
        else:
            outcomes = _get(obj, fields["outcomes"])
            names = outcomes if isinstance(outcomes, list) else []
            for i, asset in enumerate(assets):
                yield Lifecycle(asset, ts, "new", {**detail, "outcome": names[i] if i < len(names) else None,
                                                   "question": _get(obj, fields["question"]),
                                                   "slug": _get(obj, fields["slug"])})


def _key(obj: dict[str, Any], fields: dict[str, tuple[str, ...]]) -> str:
    asset = _get(obj, fields["asset"])
    if not isinstance(asset, str) or not asset:
        raise _Bad
    return asset


def _delta(keyed: dict[str, Any], entry: dict[str, Any], fields: dict[str, tuple[str, ...]], ts: int | None,
           num: Num) -> BookDelta:
    side = _text(_get(entry, fields["side"]))
    book_side = SIDES.get(side.upper()) if side else None
    if book_side is None:
        raise _Bad
    return BookDelta(_key(keyed, fields), ts, book_side, _need(num(_get(entry, fields["price"]))),
                     size=_need(num(_get(entry, fields["size"]))))


def _levels(raw: object, num: Num) -> list[tuple[Number, Number]]:
    """``[{price, size}]`` in any order -> ``(price, size)`` by ascending price (``None``/``[]``: empty)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _Bad
    levels: list[tuple[Number, Number]] = []
    for level in raw:
        if not isinstance(level, dict):
            raise _Bad
        levels.append((_need(num(level.get("price"))), _need(num(level.get("size")))))
    levels.sort(key=lambda lv: lv[0])
    return levels
