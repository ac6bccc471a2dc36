"""Exchange faults from the simulator: nothing the exchange does loses a frame or ends the process."""

from __future__ import annotations

from ssmd.testing import ConnectorProc, Setup, Sim, drain_and_compare


async def test_five_forced_disconnects_lose_nothing(stream: Setup, sim: Sim) -> None:
    """Five server-side disconnects: the connector reconnects each time and every sent frame is captured once."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        for n in range(1, 6):
            await sim.wait_sent(len(sim.sent()) + 50)  # data on this connection before it is cut
            await sim.fault("disconnect")
            await conn.wait_metric("ssmd_connector_reconnects_total", n)
            await conn.wait_ready()
        await sim.wait_sent(len(sim.sent()) + 50)
        assert await conn.metric("ssmd_connector_reconnects_total") >= 5
        assert (await sim.stats())["connections_total"] >= 6
        await drain_and_compare(sim, stream)
        assert conn.proc.poll() is None
    finally:
        assert conn.terminate() == 0
    assert "capture was interrupted for" in conn.logs()


async def test_abrupt_tcp_drop_is_a_reconnect(stream: Setup, sim: Sim) -> None:
    """A TCP connection dropped without a close frame is noticed and recovered from, losing nothing."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await sim.wait_sent(100)
        await sim.fault("disconnect", abrupt=True)
        await conn.wait_metric("ssmd_connector_reconnects_total", 1)
        await conn.wait_ready()
        await sim.wait_sent(len(sim.sent()) + 50)
        await drain_and_compare(sim, stream)
    finally:
        assert conn.terminate() == 0


async def test_stalled_socket_is_declared_dead_and_replaced(stream: Setup, sim: Sim) -> None:
    """A socket that stays open but sends nothing (no data, no pongs) is dead after dead_after (3 s here):
    the connector reconnects on its own and captures everything sent before and after."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await sim.wait_sent(100)
        await sim.fault("stall", seconds=4)
        await conn.wait_metric("ssmd_connector_reconnects_total", 1)
        await conn.wait_ready()
        await sim.wait_sent(len(sim.sent()) + 50)
        await drain_and_compare(sim, stream)
    finally:
        assert conn.terminate() == 0
    assert "no frame from the server" in conn.logs() or "no pong" in conn.logs()


async def test_malformed_and_typeless_frames_are_published_raw_and_counted(stream: Setup, sim: Sim) -> None:
    """A non-JSON frame and a JSON frame without ``type`` go, byte for byte, to the unparsed subject."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await sim.wait_sent(50)
        await sim.fault("malformed")
        await conn.wait_metric("ssmd_connector_unparsed_frames_total", 2)
        msgs = await drain_and_compare(sim, stream)
        assert await conn.metric("ssmd_connector_unparsed_frames_total") == 2
    finally:
        assert conn.terminate() == 0
    unparsed = [m for m in msgs if m.subject == f"{stream.prefix}.json.unparsed._"]
    assert [m.data for m in unparsed] == [b"this is not JSON {", b'{"sid":1,"msg":{"note":"frame without a type"}}']


async def test_seq_gap_is_logged_and_counted_and_data_still_flows(stream: Setup, sim: Sim) -> None:
    """A skipped seq is counted per channel and logged; what was sent is still captured exactly once."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await sim.wait_sent(50)
        await sim.fault("seq_gap")
        await conn.wait_metric("ssmd_connector_seq_gaps_total", 1)
        await sim.wait_sent(len(sim.sent()) + 50)
        await drain_and_compare(sim, stream)
    finally:
        assert conn.terminate() == 0
    assert "seq gap on sid" in conn.logs()


async def test_handshake_refused_after_start_is_retried_not_fatal(stream: Setup, sim: Sim) -> None:
    """Once running, a refused handshake (HTTP 401 twice) is just another failed reconnect: the process stays
    up, gets back in, and loses nothing that was sent."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await sim.wait_sent(50)
        await sim.fault("reject_auth", count=2)
        await sim.fault("disconnect")
        await conn.wait_metric("ssmd_connector_reconnects_total", 3)  # the disconnect, then two refusals
        await conn.wait_ready()
        assert (await sim.stats())["handshakes_rejected"] == 2
        await sim.wait_sent(len(sim.sent()) + 50)
        await drain_and_compare(sim, stream)
        assert conn.proc.poll() is None
    finally:
        assert conn.terminate() == 0
