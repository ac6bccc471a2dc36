"""Kalshi's terminal subscription errors (10, 17, 25): the connector resubscribes on the same connection."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import pytest
from connector_harness import ConnectorProc, Setup, Sim, drain_and_compare

CHANNELS = 3
"""The default capture: global ticker, trade and market_lifecycle_v2, one subscription each."""


async def _labelled(conn: ConnectorProc, name: str, **labels: str) -> float:
    """One labelled sample of ``name`` from /metrics (0 if absent)."""
    _, text = await conn.get("/metrics")
    want = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith(name + want + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _until(check: Callable[[], Awaitable[bool]], what: str, within: float = 15.0) -> None:
    """Poll ``check`` every 0.1 s until it holds (bounded)."""
    for _ in range(int(within / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("code", [10, 17, 25])
async def test_terminal_error_is_followed_by_a_resubscribe_and_loses_nothing(
    stream: Setup, sim: Sim, code: int
) -> None:
    """After the exchange kills every subscription with a terminal error, the connector counts the error,
    subscribes again without reconnecting, data flows on the new sids, and every frame sent is in the stream
    exactly once."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await asyncio.sleep(0.5)
        done = await sim.fault("error", code=code)
        assert done["sids"] == CHANNELS

        async def resubscribed() -> bool:
            return bool((await sim.stats())["subscriptions"] == CHANNELS)

        await _until(resubscribed, "the connector to subscribe again")
        flowing_from = len(sim.sent())

        async def flowing() -> bool:
            return len(sim.sent()) > flowing_from + 100

        await _until(flowing, "data on the new subscriptions")
        assert await _labelled(conn, "ssmd_connector_subscribe_errors_total", code=str(code)) == CHANNELS
        assert await _labelled(conn, "ssmd_connector_resubscribes_total", reason=f"error_{code}") == CHANNELS
        assert await conn.metric("ssmd_connector_reconnects_total") == 0
        assert (await sim.stats())["connections_total"] == 1
        status, _ = await conn.get("/ready")
        assert status == 200
        await drain_and_compare(sim, stream)
    finally:
        assert conn.terminate() == 0
    logs = conn.logs()
    assert len(re.findall(rf"resubscribed \S+ after error {code}", logs)) == CHANNELS, logs[-3000:]
