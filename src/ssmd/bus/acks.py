"""Reading a JetStream message's position from its ``$JS.ACK`` reply subject: the one parser.

The hot paths (archiver, agent) read stream sequence, consumer sequence and pending counts per message; nats-py's
``msg.metadata`` builds objects for that, this reads the tokens. Two forms exist (NATS ADR-15):

- v1, 9 tokens: ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>``;
- v2: ``$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`` and, in
  the ADR's form, a random token at the end (12 tokens). Servers from 2.14 on send the 11-token form without it,
  so, like the Go client, anything from 11 tokens up is v2 (the tail is not ours to read).

Anything else (10 tokens, under 9, another prefix, a non-number where a number belongs) is not an ack subject:
``None``, never a guess.
"""

from __future__ import annotations

from typing import NamedTuple

ACK_PREFIX = "$JS.ACK."
_V1_TOKENS = 9
_V2_MIN_TOKENS = 11
_V1_FIELDS = slice(4, 9)
_V2_FIELDS = slice(6, 11)


class Delivery(NamedTuple):
    stream_seq: int
    consumer_seq: int
    delivered: int
    timestamp_ns: int
    pending: int


def ack_fields(reply: str | None) -> list[str] | None:
    """``[delivered, stream seq, consumer seq, timestamp ns, pending]`` as the subject spells them, or ``None`` if
    it is not a JetStream ack subject. Unconverted, so a hot path pays only for the numbers it uses (and must
    treat a field that is not a number as an unreadable subject)."""
    if not reply:
        return None
    tokens = reply.split(".")
    n = len(tokens)
    if n == _V1_TOKENS:
        fields = tokens[_V1_FIELDS]
    elif n >= _V2_MIN_TOKENS:
        fields = tokens[_V2_FIELDS]
    else:
        return None
    if tokens[0] != "$JS" or tokens[1] != "ACK":
        return None
    return fields


def parse_ack_subject(reply: str | None) -> Delivery | None:
    """The delivery ``reply`` describes, or ``None`` if it is not a JetStream ack subject."""
    fields = ack_fields(reply)
    if fields is None:
        return None
    try:
        delivered, sseq, cseq, ts, pending = map(int, fields)
    except ValueError:
        return None
    return Delivery(sseq, cseq, delivered, ts, pending)
