"""Server-side WebSocket frames built by hand, so a batch of data frames leaves in one ``transport.write``.

Server frames are never masked (RFC 6455 §5.1), so a frame is a 2-10 byte header plus the payload. This is the
simulator's hot path: aiohttp's per-message ``send_str`` costs more than generating the frame.
"""

from __future__ import annotations

import struct

TEXT = 0x81
PING = 0x89
PONG = 0x8A


def frame(payload: bytes, opcode: int = TEXT) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((opcode, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", opcode, 126, n) + payload
    return struct.pack("!BBQ", opcode, 127, n) + payload
