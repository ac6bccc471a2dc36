"""Market-list channels: REST discovery, sharding over subscriptions and connections, gap recovery."""

from __future__ import annotations

from pathlib import Path

from ssmd.testing import ConnectorProc, Setup, Sim, drain_and_compare, wait_until, write_env


def _orderbook_env(setup: Setup, tmp_path: Path, **capture: object) -> Path:
    return write_env(tmp_path / "ob.yaml", setup.name, setup.nats.url, {
        "channels": ["orderbook_delta", "trade"], "dead_after": 3, "ping_interval": 1,
        "markets": {"discover": {"status": "open", "refresh": "1h"}}, **capture})


async def test_discovered_markets_are_sharded_within_limits_and_captured(stream: Setup, sim: Sim,
                                                                          tmp_path: Path) -> None:
    """GET /markets finds the open markets; 7 per subscription and 14 per connection become several
    subscriptions on several sockets, and every orderbook frame sent on them is captured exactly once."""
    env = _orderbook_env(stream, tmp_path, max_markets_per_subscription=7, max_markets_per_connection=14)
    conn = ConnectorProc(stream.workdir, env, sim.url)
    try:
        await conn.wait_ready()
        stats = await sim.stats()
        markets = stats["markets"]
        assert markets > 14
        shards = -(-markets // 14)
        assert stats["connections"] == shards
        assert stats["subscriptions"] == 1 + sum(-(-min(14, markets - 14 * i) // 7) for i in range(shards))
        assert await conn.metric("ssmd_connector_shard_markets") == markets
        await sim.wait_sent(300)
        msgs = await drain_and_compare(sim, stream, ordered=False)
    finally:
        assert conn.terminate() == 0
    assert any(m.subject.startswith(f"{stream.prefix}.json.orderbook.") for m in msgs)


async def test_orderbook_seq_gap_triggers_resubscribe(stream: Setup, sim: Sim, tmp_path: Path) -> None:
    """A gap on an orderbook sid is counted and the sid is resubscribed (the book restarts from a snapshot)."""
    env = _orderbook_env(stream, tmp_path)
    conn = ConnectorProc(stream.workdir, env, sim.url)
    try:
        await conn.wait_ready()
        await sim.wait_sent(100)
        await sim.fault("seq_gap")
        await wait_until(lambda: "after a seq gap" in conn.logs(), what="the resubscribe after the gap")
        assert "resubscribed orderbook_delta after a seq gap" in conn.logs()
        assert await conn.metric("ssmd_connector_seq_gaps_total") >= 1
        await sim.wait_sent(len(sim.sent()) + 50)
        await drain_and_compare(sim, stream)
    finally:
        assert conn.terminate() == 0


async def test_refused_subscription_is_reported_with_code_and_others_keep_flowing(stream: Setup, sim: Sim,
                                                                                   tmp_path: Path) -> None:
    """An unknown channel gets Kalshi's error reply: /ready names the code and message at once (no timeout),
    and the other channels' frames are still captured exactly once."""
    env = write_env(tmp_path / "bad.yaml", stream.name, stream.nats.url,
                    {"channels": ["ticker", "no_such_channel", "trade"], "subscribe_timeout": 30})
    conn = ConnectorProc(stream.workdir, env, sim.url)
    try:
        async def refused() -> str:
            try:
                _, body = await conn.get("/ready")
            except OSError:
                return ""
            reason: str = body.get("reason", "")
            return reason if "refused" in reason else ""

        reason = await wait_until(refused, what="/ready to name the refused subscription")
        assert "no_such_channel" in reason and "error 8" in reason, reason
        await sim.wait_sent(200)
        await drain_and_compare(sim, stream)
        assert await conn.metric("ssmd_connector_subscribe_errors_total") == 1
    finally:
        assert conn.terminate() == 0


async def test_market_limit_error_26_splits_the_subscription(stream: Setup, tmp_path: Path) -> None:
    """An exchange that allows 5 markets per subscription answers error 26; the connector halves the list
    until every market is subscribed, and is ready."""
    sim = Sim(tmp_path, "--no-auth", "--rate", "300", "--markets", "30", "--max-markets-per-sub", "5")
    try:
        env = _orderbook_env(stream, tmp_path)
        conn = ConnectorProc(stream.workdir, env, sim.url)
        try:
            await conn.wait_ready()
            assert await conn.metric("ssmd_connector_shard_markets") == (await sim.stats())["markets"]
            assert "splitting" in conn.logs()
            await sim.wait_sent(200)
            await drain_and_compare(sim, stream)
        finally:
            assert conn.terminate() == 0
    finally:
        sim.stop()
