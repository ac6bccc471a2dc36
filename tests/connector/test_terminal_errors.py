"""Kalshi's terminal subscription errors (10, 17, 25): the connector resubscribes on the same connection."""

from __future__ import annotations

import re

import pytest

from ssmd.coverage.events import decode, is_coverage
from ssmd.testing import ConnectorProc, Setup, Sim, drain_and_compare, stream_messages, wait_until

CHANNELS = 4
"""The default capture: global ticker, trade and market_lifecycle_v2, one subscription each, and the books of the
simulator's 30 markets in one subscription."""


@pytest.mark.parametrize("code", [10, 17, 25])
async def test_terminal_error_is_followed_by_a_resubscribe_and_loses_nothing(
    stream: Setup, sim: Sim, code: int
) -> None:
    """After the exchange kills every subscription with a terminal error, the connector counts the error,
    subscribes again without reconnecting, data flows on the new sids, and every frame sent is in the stream
    exactly once. The coverage ledger gets a ``dropped`` event per subscription (the window until the resubscribe
    is not captured), each followed by ``subscribed`` again."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await sim.wait_sent(50)
        done = await sim.fault("error", code=code)
        assert done["sids"] == CHANNELS

        async def resubscribed() -> bool:
            return bool((await sim.stats())["subscriptions"] == CHANNELS)

        await wait_until(resubscribed, what="the connector to subscribe again")
        await sim.wait_sent(len(sim.sent()) + 100)  # data on the new subscriptions
        assert await conn.metric("ssmd_connector_subscribe_errors_total", code=str(code)) == CHANNELS
        assert await conn.metric("ssmd_connector_resubscribes_total", reason=f"error_{code}") == CHANNELS
        assert await conn.metric("ssmd_connector_reconnects_total") == 0
        assert (await sim.stats())["connections_total"] == 1
        status, _ = await conn.get("/ready")
        assert status == 200
        await drain_and_compare(sim, stream)
        events = [decode(m.data) for m in await stream_messages(stream.nats.url, stream.stream, f"{stream.prefix}.>")
                  if is_coverage(m.data)]
    finally:
        assert conn.terminate() == 0
    dropped = [e for e in events if e.event == "dropped"]
    assert len(dropped) == CHANNELS and all((e.cause or "").startswith(f"error {code}:") for e in dropped), dropped
    for e in dropped:
        assert any(later.event == "subscribed" and later.channel == e.channel and later.ts_ms >= e.ts_ms
                   for later in events), e
    logs = conn.logs()
    assert len(re.findall(rf"resubscribed \S+ after error {code}", logs)) == CHANNELS, logs[-3000:]
