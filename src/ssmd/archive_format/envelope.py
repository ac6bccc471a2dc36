"""``format: envelope`` lines (docs/archive-format.md "Lines"): written and read here, nowhere else.

An envelope line is ``{"subject", "seq", "received_ns", "data"}`` around the raw frame; a payload that is not
JSON is kept byte for byte as ``data_b64``.
"""

from __future__ import annotations

import base64
import binascii

import msgspec
import orjson


class Envelope(msgspec.Struct, gc=False):
    """``format: envelope`` line: the NATS subject and stream sequence around the raw frame; a payload that is not
    JSON is in ``data_b64`` instead of ``data``."""

    data: msgspec.Raw = msgspec.Raw(b"")
    data_b64: str | None = None
    subject: str | None = None
    seq: int | None = None
    received_ns: int | None = None


_envelope = msgspec.json.Decoder(Envelope)
BAD_ENVELOPE = (msgspec.DecodeError, msgspec.ValidationError, binascii.Error)


def unwrap(line: bytes) -> tuple[bytes, int | None, str | None]:
    """``(raw frame, stream seq, subject)`` of an envelope line. A frame that was not JSON (``data_b64``) comes back
    as its original bytes. Raises ``msgspec.DecodeError``/``ValidationError``/``ValueError`` on a bad line."""
    env = _envelope.decode(line)
    if env.data_b64 is not None:
        return base64.b64decode(env.data_b64, validate=True), env.seq, env.subject
    if not env.data:
        raise msgspec.ValidationError("envelope line without data")
    return bytes(env.data), env.seq, env.subject


def is_envelope(line: bytes) -> bool:
    """Sniff a line's format when there is no manifest: an envelope starts with its ``subject`` key."""
    head = line[:200]
    return head.startswith(b"{") and b'"subject"' in head and (b'"data"' in line or b'"data_b64"' in line)


def encode(payload: bytes, seq: int, subject: str, received_ns: int, is_json: bool = False) -> bytes:
    """One envelope line with its newline. ``is_json``: the caller already knows ``payload`` parses (the feed
    classified it), which saves a parse per frame."""
    head = b'{"subject":%b,"seq":%d,"received_ns":%d,' % (orjson.dumps(subject), seq, received_ns)
    if is_json or _is_json(payload):
        return b'%b"data":%b}\n' % (head, payload)
    # Not JSON: kept byte for byte, base64-encoded, so the line stays valid JSON.
    return b'%b"data_b64":"%b"}\n' % (head, base64.b64encode(payload))


def _is_json(payload: bytes) -> bool:
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    return b"\n" not in payload


