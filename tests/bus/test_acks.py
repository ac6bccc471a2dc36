"""The one `$JS.ACK` reply-subject parser: the v1 (9 tokens) and v2 (domain, 11 or 12 tokens) forms of ADR-15."""

import pytest

from ssmd.bus.acks import Delivery, ack_fields, parse_ack_subject


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.S.d.1.42.7.1795619670956553894.9",  # v1
        "$JS.ACK._.ACCHASH.S.d.1.42.7.1795619670956553894.9.rnd",  # v2 as in ADR-15, no domain (`_`)
        "$JS.ACK.hub.ACCHASH.S.d.1.42.7.1795619670956553894.9",  # v2 as servers >= 2.14 send it (no random token)
    ],
)
def test_both_forms(reply: str) -> None:
    assert parse_ack_subject(reply) == Delivery(stream_seq=42, consumer_seq=7, delivered=1,
                                                timestamp_ns=1795619670956553894, pending=9)
    assert ack_fields(reply) == ["1", "42", "7", "1795619670956553894", "9"]


@pytest.mark.parametrize(
    "reply",
    [
        None,
        "",
        "_INBOX.abc.def",  # a control message or a request reply
        "$JS.ACK.S.d.1.42.7.1795619670956553894",  # 8 tokens
        "$JS.ACK.hub.S.d.1.42.7.1795619670956553894.9",  # 10 tokens: neither form
        "$JS.ACK.S.d.one.42.7.1795619670956553894.9",  # a word where a number belongs
        "$JS.NAK.S.d.1.42.7.1795619670956553894.9",
    ],
)
def test_malformed_is_none(reply: str | None) -> None:
    assert parse_ack_subject(reply) is None
    if "one" not in (reply or ""):  # the hot path's unconverted fields check the shape, not the digits
        assert ack_fields(reply) is None
