"""End to end against real processes: simulator -> connector -> nats-server, the sent-log as the oracle."""

from __future__ import annotations

from ssmd.testing import ConnectorProc, Setup, Sim, drain_and_compare


async def test_normal_flow_every_frame_once_byte_identical(stream: Setup, sim: Sim) -> None:
    """Every data frame the exchange sent is in the stream once, in order, byte for byte, on its subject."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url)
    try:
        await conn.wait_ready()
        await sim.wait_sent(300)
        msgs = await drain_and_compare(sim, stream)
        assert len(msgs) > 100
    finally:
        assert conn.terminate() == 0


async def test_headers_carry_instance_receipt_time_connection_sid_seq_and_msg_id(stream: Setup, sim: Sim) -> None:
    """Metadata lives in headers: Ssmd-Instance (``SSMD_INSTANCE``), Ssmd-Received-Ns, Ssmd-Conn, Ssmd-Sid,
    Ssmd-Seq (when the frame has one), Nats-Msg-Id = conn:sid:seq for sequenced frames, conn:n for the others,
    and Nats-Expected-Stream."""
    import orjson

    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url, environ={"SSMD_INSTANCE": "zone-a"})
    try:
        await conn.wait_ready()
        await sim.wait_sent(200)
        msgs = await drain_and_compare(sim, stream)
    finally:
        assert conn.terminate() == 0
    sequenced = 0
    for m in msgs:
        frame = orjson.loads(m.data)
        h = m.headers
        assert h["Ssmd-Instance"] == "zone-a" and h["Nats-Expected-Stream"] == stream.stream
        assert int(h["Ssmd-Received-Ns"]) > 1_700_000_000 * 10**9
        assert h["Ssmd-Conn"]
        assert h["Ssmd-Sid"] == str(frame["sid"])
        if "seq" in frame:
            sequenced += 1
            assert h["Ssmd-Seq"] == str(frame["seq"])
            assert h["Nats-Msg-Id"] == f"{h['Ssmd-Conn']}:{frame['sid']}:{frame['seq']}"
        else:
            assert "Ssmd-Seq" not in h
            assert h["Nats-Msg-Id"].startswith(h["Ssmd-Conn"] + ":") and h["Nats-Msg-Id"].count(":") == 1
    assert sequenced > 0
    assert len({m.headers["Nats-Msg-Id"] for m in msgs}) == len(msgs)
