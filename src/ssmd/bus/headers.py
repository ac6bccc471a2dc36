"""NATS headers ssmd services put on frames for each other (besides the exchange's bytes, which stay untouched)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

DROPPED_BEFORE = "Ssmd-Dropped-Before"
"""On the first frame the connector accepted after its publish buffer overflowed: how many frames it dropped just
before this one. The archiver records them as a gap in the day's manifest (cause ``connector_buffer_full``), so
the loss is in the archive where ``ssmd archive verify`` reports it, not only in a metric and a log line."""

CAUSE_CONNECTOR_BUFFER_FULL = "connector_buffer_full"

INSTANCE = "Ssmd-Instance"
"""On every message a connector publishes: the name of the instance that captured it (``SSMD_INSTANCE``, default
the hostname). Redundant connectors publish the same frames; this says whose copy a message is. Constant per
process, so it is encoded once (:class:`ssmd.bus.publish.Publisher`'s constant headers)."""

CONNECTION = "Ssmd-Conn"
"""On every frame a connector publishes: the id of the WebSocket connection that received it (``sid``/``seq`` are
per connection). With :data:`INSTANCE` it is the frame's origin, which the archive keeps per line
(docs/archive-format.md, subfield ``SO``) so that a reader can follow one connection's order-book chain."""

RECEIVED_NS = "Ssmd-Received-Ns"
"""On every frame a connector publishes: when it read the frame off the WebSocket (ns since the epoch)."""

SID = "Ssmd-Sid"
SEQ = "Ssmd-Seq"
"""The exchange's subscription id and sequence number, when the frame has them (both are per connection)."""

MSG_ID = "Nats-Msg-Id"

BACKFILL = "Ssmd-Backfill"
"""``rest`` on a frame fetched again over REST after an outage (its msg-id is ``backfill:{trade_id}``)."""

_SEQ_LINES = (f"{RECEIVED_NS}: %d\r\n{CONNECTION}: %s\r\n{SID}: %d\r\n{SEQ}: %d\r\n{MSG_ID}: %s:%d:%d\r\n").encode()
_SID_LINES = f"{RECEIVED_NS}: %d\r\n{CONNECTION}: %s\r\n{SID}: %d\r\n{MSG_ID}: %s:%d\r\n".encode()
_CONN_LINES = f"{RECEIVED_NS}: %d\r\n{CONNECTION}: %s\r\n{MSG_ID}: %s:%d\r\n".encode()


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """``Key: value\\r\\n`` lines for :meth:`ssmd.bus.publish.Publisher.submit` (or a publisher's constant
    headers).

    Keys must be HTTP tokens and values single-line: a header written into the protocol stream unchecked would
    corrupt the connection. Hot paths that build the same keys every time may format the lines themselves.
    """
    parts = []
    for key, value in headers.items():
        if not _TOKEN.fullmatch(key):
            raise ValueError(f"header name {key!r} is not a token")
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {key}: value must be one line")
        parts.append(f"{key}: {value}\r\n")
    return "".join(parts).encode()


class FrameHeaders(msgspec.Struct, gc=False):
    """The headers of one message a connector publishes, kept as fields until a sink needs them: the JetStream sink
    formats them straight into protocol bytes (one ``%``-format, a third of the cost of building and encoding a
    dict, per frame), the file sink reads the fields. A msgspec struct: one is built per frame, in C.

    The ``Nats-Msg-Id`` of a frame from a WebSocket connection is ``{conn}:{sid}:{seq}`` when the frame has a
    sequence (a retry, or the same frame read twice, is stored once), else ``{conn}:{n}`` with ``n`` the frame's
    number on its connection. Frames from anywhere else (a backfill, a coverage event) bring their own ``msg_id``;
    a frame with neither is refused when its headers are read.
    """

    received_ns: int
    conn: str | None = None
    sid: int | None = None
    seq: int | None = None
    n: int = 0
    msg_id: str | None = None
    backfill: str | None = None

    @property
    def message_id(self) -> str:
        if self.msg_id is not None:
            return self.msg_id
        if self.conn is None:
            raise ValueError("a frame needs a msg_id or the connection it came from")
        if self.sid is not None and self.seq is not None:
            return f"{self.conn}:{self.sid}:{self.seq}"
        return f"{self.conn}:{self.n}"

    def as_dict(self) -> dict[str, str]:
        out = {RECEIVED_NS: str(self.received_ns)}
        if self.conn is not None:
            out[CONNECTION] = self.conn
        if self.sid is not None:
            out[SID] = str(self.sid)
            if self.seq is not None:
                out[SEQ] = str(self.seq)
        out[MSG_ID] = self.message_id
        if self.backfill is not None:
            out[BACKFILL] = self.backfill
        return out

    def encode(self) -> bytes:
        """``Key: value\\r\\n`` lines. A frame's are numbers and the connection id ssmd made: one ``%``-format,
        nothing to check. Anything else goes through :func:`encode_headers`."""
        conn, sid, seq = self.conn, self.sid, self.seq
        if self.msg_id is None and conn is not None and self.backfill is None:
            c = conn.encode()
            if sid is None:
                return _CONN_LINES % (self.received_ns, c, c, self.n)
            if seq is None:
                return _SID_LINES % (self.received_ns, c, sid, c, self.n)
            return _SEQ_LINES % (self.received_ns, c, sid, seq, c, sid, seq)
        return encode_headers(self.as_dict())
