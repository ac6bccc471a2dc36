"""Client commands with increasing ids: subscribe, unsubscribe, update_subscription, list_subscriptions."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, Literal

import orjson

UpdateAction = Literal["add_markets", "delete_markets", "get_snapshot"]


class Commands:
    """Builds command frames for one connection. Ids start at 1 and increase (``id: 0`` means "no id")."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def _frame(self, cmd: str, params: dict[str, Any] | None) -> tuple[int, bytes]:
        cid = next(self._ids)
        body: dict[str, Any] = {"id": cid, "cmd": cmd}
        if params is not None:
            body["params"] = params
        return cid, orjson.dumps(body)

    def subscribe(
        self, channels: Iterable[str], market_tickers: Iterable[str] | None = None, **extra: Any
    ) -> tuple[int, bytes]:
        """One ``subscribe``; the server answers one ``subscribed`` per channel, each with its own sid."""
        params: dict[str, Any] = {"channels": list(channels)}
        if market_tickers is not None:
            tickers = list(market_tickers)
            if len(tickers) == 1:
                params["market_ticker"] = tickers[0]
            else:
                params["market_tickers"] = tickers
        params.update(extra)
        return self._frame("subscribe", params)

    def unsubscribe(self, sids: Iterable[int]) -> tuple[int, bytes]:
        return self._frame("unsubscribe", {"sids": list(sids)})

    def update_subscription(
        self, sid: int, market_tickers: Iterable[str], action: UpdateAction
    ) -> tuple[int, bytes]:
        """Add or delete markets on one sid (Kalshi wants exactly one sid here)."""
        return self._frame(
            "update_subscription", {"sids": [sid], "market_tickers": list(market_tickers), "action": action}
        )

    def list_subscriptions(self) -> tuple[int, bytes]:
        return self._frame("list_subscriptions", None)
