"""The signal API: a typed parameter model, the state builders it needs, and ``evaluate(state) -> Fire | None``.

A signal is plain Python so the same object runs in a backtest and live. It must never read the wall clock:
windows use the frame's exchange time (``state.ts_ms``), which is why a backtest reproduces live fires exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

import orjson
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from ssmd.agent.state import MarketState

BUILDERS = ("prices", "book", "volume", "flow", "status")
"""State builders a signal may require (see :mod:`ssmd.agent.state`)."""


class Params(BaseModel):
    """Base of every signal's parameters: unknown keys are errors, so a typo never silently uses a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


@dataclass(slots=True)
class Fire:
    """One firing, as published live and written by a backtest.

    ``seq`` is the frame's JetStream sequence (live) or archive sequence when known; it differs between a live run
    and a backtest of the same frames, so :meth:`key` leaves it out.
    """

    signal: str
    market: str
    ts_ms: int | None
    values: dict[str, Any]
    seq: int | None = None
    frame_type: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "market": self.market,
            "ts_ms": self.ts_ms,
            "values": self.values,
            "seq": self.seq,
            "frame_type": self.frame_type,
        }

    def to_json(self) -> bytes:
        """JSON bytes; values JSON cannot represent (Decimal, datetime, ...) become strings, never an error."""
        return orjson.dumps(self.to_dict(), default=str)

    def key(self) -> tuple[str, str, int | None, bytes]:
        """What must match between a live run and a backtest of the same frames."""
        return self.signal, self.market, self.ts_ms, orjson.dumps(self.values, default=str,
                                                                 option=orjson.OPT_SORT_KEYS)


P = TypeVar("P", bound=Params)


class Signal(Generic[P]):
    """Subclass this. Set ``name``, ``requires`` and ``Params``; implement :meth:`evaluate`.

    ``evaluate`` runs once per frame that updated one of the ``requires`` builders of one market, with that
    market's state. Return ``self.fire(state, key=value, ...)`` to fire, ``None`` otherwise. A signal may keep
    per-market memory (e.g. "already above the threshold") in its own attributes: it sees frames in stream order.
    """

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    Params: ClassVar[type[Params]] = Params
    """Subclass :class:`Params`; write ``class MySignal(Signal[MyParams])`` so ``self.params`` is typed."""

    def __init__(self, params: Mapping[str, Any] | None = None, *, name: str | None = None) -> None:
        self.params: P = cast(P, self.Params.model_validate(dict(params or {})))
        self.id = name or self.name or type(self).__name__

    def evaluate(self, state: MarketState) -> Fire | None:
        raise NotImplementedError

    def fire(self, state: MarketState, **values: Any) -> Fire:
        return Fire(self.id, state.market, state.ts_ms, values, state.seq, state.frame_type)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, params={self.params.model_dump()})"
