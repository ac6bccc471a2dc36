"""The agent's fires, read back and made comparable: what a live agent published against what a backtest over the
archive computes from the same frames (they must agree)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from nats.js import JetStreamContext

from ssmd import naming

SIGNALS = ["price_cross[threshold=0.6]", "spread_wide[max_cents=5]", "volume_spike[lookback=3]",
           "flow_imbalance[min_volume=10]", "market_status[on=[determined,settled]]"]
"""Built-in signals with parameters that fire on the simulator's data (a comparison of no fires proves nothing)."""


async def read_fires(js: JetStreamContext, env: str) -> list[dict[str, Any]]:
    """Every fire in environment ``env``'s fires stream (the default ``{ENV}_SIGNALS``), in stream order, each with
    its ``subject``."""
    stream = naming.fires_stream(env)
    info = await js.stream_info(stream)
    if not info.state.messages:
        return []
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        out.append({"subject": msg.subject, **orjson.loads(msg.data or b"")})
    return out


def fire_keys(fires: Sequence[dict[str, Any]]) -> list[tuple[str, str, int | None, bytes]]:
    """What live and backtest must agree on: signal, market, exchange time, values (not stream seqs)."""
    return sorted(((f["signal"], f["market"], f["ts_ms"], orjson.dumps(f["values"], option=orjson.OPT_SORT_KEYS))
                   for f in fires), key=lambda k: (k[0], k[1], k[2] if k[2] is not None else -1, k[3]))
