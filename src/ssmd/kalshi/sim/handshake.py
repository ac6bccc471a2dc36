"""Who may open a WebSocket or call REST: Kalshi's three signed headers, checked against known public keys."""

from __future__ import annotations

import time
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import rsa

from ssmd.kalshi.auth import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, verify_signature


class Rejected(Exception):
    """Why a request was refused (the reason goes in the 401 body; it never echoes secrets)."""


def check_signature(
    headers: Mapping[str, str], method: str, path: str, keys: Mapping[str, rsa.RSAPublicKey], skew_s: float
) -> str:
    """Return the API key id if the request is signed by a known key within ``skew_s``; raise :class:`Rejected`."""
    key_id = headers.get(HEADER_KEY)
    signature = headers.get(HEADER_SIGNATURE)
    stamp = headers.get(HEADER_TIMESTAMP)
    if not key_id or not signature or not stamp:
        raise Rejected("missing KALSHI-ACCESS-KEY, KALSHI-ACCESS-SIGNATURE or KALSHI-ACCESS-TIMESTAMP")
    public = keys.get(key_id)
    if public is None:
        raise Rejected("unknown API key")
    if not stamp.isdigit():
        raise Rejected("KALSHI-ACCESS-TIMESTAMP must be Unix time in milliseconds")
    ts_ms = int(stamp)
    if abs(time.time() * 1000 - ts_ms) > skew_s * 1000:
        raise Rejected("KALSHI-ACCESS-TIMESTAMP is too far from the server's clock (milliseconds expected)")
    if not verify_signature(public, signature, ts_ms, method, path):
        raise Rejected("invalid signature")
    return key_id


class RateLimiter:
    """A token bucket per client: ``rate`` requests per second with a burst of one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, who: str) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        tokens, last = self._buckets.get(who, (self.rate, now))
        tokens = min(self.rate, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[who] = (tokens, now)
            return False
        self._buckets[who] = (tokens - 1, now)
        return True
