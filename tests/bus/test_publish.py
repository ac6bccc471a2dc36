"""The one pipelined publisher (``ssmd.bus.publish``) against a real nats-server: what it writes is valid protocol,
retries keep their ``Nats-Msg-Id``, and every message ends acked or reported."""

from __future__ import annotations

import asyncio

import nats
import nats.aio.client
import pytest
from nats.aio.msg import Msg

from ssmd.bus.embedded import EmbeddedNats
from ssmd.bus.headers import encode_headers
from ssmd.bus.publish import Outgoing, Publisher, msg_id_header
from ssmd.bus.streams import StreamSpec, ensure_stream
from ssmd.testing import wait_until


async def test_constant_and_own_headers_arrive_and_payloads_are_byte_identical(nats_server: EmbeddedNats,
                                                                               unique_name: str) -> None:
    nc = await nats.connect(nats_server.url)
    stream = unique_name.upper()
    await ensure_stream(nc.jetstream(), StreamSpec.for_prefix(stream, unique_name))
    acked: list[tuple[int, bool]] = []
    pub = Publisher(nc, stream, headers={"Ssmd-Instance": "zone-a%d"}, max_in_flight=7,
                    on_acked=lambda items: acked.extend((item.tag, item.duplicate) for item in items))
    await pub.start()
    try:
        payloads = [b"", b"x", b"\r\n{}\r\n", bytes(range(256)) * 40]
        for i, payload in enumerate(payloads):
            pub.submit(f"{unique_name}.a.{i}", payload, encode_headers({"Nats-Msg-Id": f"m{i}", "K": f"v{i}"}), i)
        pub.submit(f"{unique_name}.a.0", b"again", msg_id_header("m0"), 9)  # same id: a duplicate, not stored
        assert await pub.wait_idle(20) == 0
        assert sorted(acked) == [(0, False), (1, False), (2, False), (3, False), (9, True)]
        sub = await nc.jetstream().subscribe(f"{unique_name}.>", ordered_consumer=True, stream=stream)
        got = [await sub.next_msg(5) for _ in payloads]
        assert [m.data for m in got] == payloads
        for i, m in enumerate(got):
            assert m.headers is not None
            assert (m.headers["Nats-Msg-Id"], m.headers["K"], m.headers["Ssmd-Instance"],
                    m.headers["Nats-Expected-Stream"]) == (f"m{i}", f"v{i}", "zone-a%d", stream)
    finally:
        await pub.stop()
        await nc.close()


async def test_unacked_publish_is_resent_with_the_same_msg_id_then_reported(nats_server: EmbeddedNats,
                                                                            unique_name: str) -> None:
    """A subscriber that never answers stands for a lost ack: the message is re-sent with its own msg-id, and after
    ``max_attempts`` it is reported through ``on_failed`` (never silently dropped)."""
    nc = await nats.connect(nats_server.url)
    seen: list[str] = []

    async def silent(msg: Msg) -> None:
        seen.append((msg.headers or {}).get("Nats-Msg-Id", ""))

    await nc.subscribe(f"{unique_name}.>", cb=silent)
    failed: list[tuple[Outgoing, str]] = []
    retries: list[int] = []
    pub = Publisher(nc, None, ack_timeout=0.5, max_attempts=2, retry_rejected=False,
                    on_failed=lambda item, why: failed.append((item, why)), on_retry=lambda n, why: retries.append(n))
    await pub.start()
    try:
        pub.submit(f"{unique_name}.x", b"{}", msg_id_header("only-once"))
        await wait_until(lambda: failed, timeout=30, what="the message to be reported")
        assert seen == ["only-once", "only-once"]
        assert retries == [1]
        assert "no ack" in failed[0][1] and "2 attempts" in failed[0][1]
        assert (pub.pending, pub.acked, pub.failed) == (0, 0, 1)
    finally:
        await pub.stop()
        await nc.close()


async def test_after_a_retry_a_few_acks_are_not_acks_flowing_again(nats_server: EmbeddedNats,
                                                                      unique_name: str) -> None:
    """``last_error`` stays until every message pending at the retry is acked: a stream leader that lost its quorum
    still answers re-sent messages it had stored (as duplicates) and nothing newer, and the connector's ``/ready``
    must not turn 200 on those few acks."""
    nc = await nats.connect(nats_server.url)
    answered: set[str] = set()

    async def leader_without_quorum(msg: Msg) -> None:
        if msg.headers and msg.headers["Nats-Msg-Id"] in answered:
            await nc.publish(msg.reply, b'{"stream":"S","seq":1,"duplicate": true}')

    await nc.subscribe(f"{unique_name}.>", cb=leader_without_quorum)
    pub = Publisher(nc, None, ack_timeout=0.5)
    await pub.start()
    try:
        for i in range(3):
            pub.submit(f"{unique_name}.x", b"{}", msg_id_header(f"m{i}"))
        await wait_until(lambda: pub.last_error is not None, timeout=30, what="a retry: no ack within 0.5 s")
        answered.add("m0")
        await wait_until(lambda: pub.acked == 1, timeout=30, what="the stored message's duplicate ack")
        assert pub.last_error is not None and pub.pending == 2, (pub.last_error, pub.pending)
        answered.update({"m1", "m2"})
        assert await pub.wait_idle(30) == 0
        assert pub.last_error is None and pub.acked == 3
    finally:
        await pub.stop()
        await nc.close()


async def test_a_rejection_is_reported_with_the_servers_reason(nats_server: EmbeddedNats, unique_name: str) -> None:
    nc = await nats.connect(nats_server.url)
    stream = unique_name.upper()
    await ensure_stream(nc.jetstream(), StreamSpec.for_prefix(stream, unique_name))
    reasons: list[str] = []
    pub = Publisher(nc, "SOME_OTHER_STREAM", retry_rejected=False, on_failed=lambda item, why: reasons.append(why))
    await pub.start()
    try:
        pub.submit(f"{unique_name}.x", b"{}", msg_id_header("r1"))
        assert await pub.wait_idle(20) == 0
        assert len(reasons) == 1 and "expected stream does not match" in reasons[0], reasons
    finally:
        await pub.stop()
        await nc.close()


async def test_messages_that_could_corrupt_or_double_are_refused_at_submit(nats_server: EmbeddedNats) -> None:
    nc = await nats.connect(nats_server.url)
    pub = Publisher(nc, None)
    try:
        with pytest.raises(ValueError, match="Nats-Msg-Id"):
            pub.submit("a.b", b"{}", encode_headers({"K": "v"}))
        with pytest.raises(ValueError, match="blanks"):
            pub.submit("a b", b"{}", msg_id_header("x"))
        with pytest.raises(ValueError, match="one line"):
            encode_headers({"K": "v\r\nInjected: 1"})
        with pytest.raises(ValueError, match="one non-blank line"):
            msg_id_header("a\nb")
        assert pub.pending == 0
    finally:
        await asyncio.wait_for(nc.close(), 10)


async def test_publishers_started_and_stopped_in_turn_on_one_client_each_get_their_own_acks(
    nats_server: EmbeddedNats, unique_name: str
) -> None:
    """Each publisher reads its acks straight from the client's parser while it runs: two at once on one client,
    then a third after both stopped, each count exactly their own messages, and the client's other subscriptions
    keep receiving."""
    nc = await nats.connect(nats_server.url)
    stream = unique_name.upper()
    await ensure_stream(nc.jetstream(), StreamSpec.for_prefix(stream, unique_name))
    plain: list[bytes] = []

    async def on_plain(msg: Msg) -> None:
        plain.append(msg.data)

    await nc.subscribe(f"elsewhere.{unique_name}", cb=on_plain)
    try:
        first, second = Publisher(nc, stream, name="first"), Publisher(nc, stream, name="second")
        for pub in (first, second):
            await pub.start()
        for i in range(30):
            (first if i % 3 else second).submit(f"{unique_name}.a", b"%d" % i, msg_id_header(f"a{i}"))
        assert (await first.wait_idle(20), await second.wait_idle(20)) == (0, 0)
        assert (first.acked, second.acked) == (20, 10)
        for pub in (second, first):
            await pub.stop()
        third = Publisher(nc, stream, name="third")
        await third.start()
        try:
            for i in range(5):
                third.submit(f"{unique_name}.b", b"%d" % i, msg_id_header(f"b{i}"))
            assert await third.wait_idle(20) == 0 and third.acked == 5
        finally:
            await third.stop()
        await nc.publish(f"elsewhere.{unique_name}", b"still here")
        await wait_until(lambda: plain == [b"still here"], what="the plain subscription's message")
    finally:
        await nc.close()


@pytest.mark.parametrize("read_size", [1, 13])
async def test_acks_cut_anywhere_by_socket_reads_each_settle_once(nats_server: EmbeddedNats, unique_name: str,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   read_size: int) -> None:
    """The client reads the socket ``read_size`` bytes at a time, so every ack arrives cut at every place: each
    stored message is settled exactly once, duplicates are told apart, and an error ack between stored ones is
    still reported with the server's reason."""
    nc = await nats.connect(nats_server.url)
    stream = unique_name.upper()
    await ensure_stream(nc.jetstream(), StreamSpec.for_prefix(stream, unique_name))
    monkeypatch.setattr(nats.aio.client, "DEFAULT_BUFFER_SIZE", read_size)  # read per loop, after the handshake
    await nc.flush()  # the read waiting now asked for the old size: let it return, the next one asks for read_size
    acked: list[tuple[int, bool]] = []
    failed: list[tuple[int, str]] = []
    pub = Publisher(nc, stream, retry_rejected=False,
                    on_acked=lambda items: acked.extend((item.tag, item.duplicate) for item in items),
                    on_failed=lambda item, why: failed.append((item.tag, why)))
    await pub.start()
    try:
        for i in range(60):
            pub.submit(f"{unique_name}.a", b"%d" % i, msg_id_header(f"m{i}"), i)
        pub.submit(f"{unique_name}.a", b"late", encode_headers({"Nats-Msg-Id": "bad",
                                                                "Nats-Expected-Last-Sequence": "999999"}), "bad")
        for i in range(0, 60, 7):
            pub.submit(f"{unique_name}.a", b"again", msg_id_header(f"m{i}"), 100 + i)
        assert await pub.wait_idle(60) == 0
        assert sorted(acked) == sorted([(i, False) for i in range(60)] + [(100 + i, True) for i in range(0, 60, 7)])
        assert len(failed) == 1 and failed[0][0] == "bad" and "wrong last sequence" in failed[0][1], failed
        info = await nc.jetstream().stream_info(stream)
        assert info.state.messages == 60
    finally:
        await pub.stop()
        await nc.close()
