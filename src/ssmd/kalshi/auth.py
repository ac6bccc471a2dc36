"""Kalshi API-key auth: RSA-PSS (SHA-256, MGF1-SHA-256, salt = digest length) over ``ts_ms + METHOD + path``.

The same three headers sign the WebSocket upgrade and REST calls. The key object never shows key material.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ssmd.feed.base import FeedAuthError

WS_PATH = "/trade-api/ws/v2"
REST_PREFIX = "/trade-api/v2"
HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


class AuthError(FeedAuthError):
    """Credentials that cannot be used. The message names the variable, never its value."""


def signing_message(ts_ms: int, method: str, path: str) -> bytes:
    """``1703123456789GET/trade-api/ws/v2``: the path without its query string."""
    return f"{ts_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


@dataclass(frozen=True)
class KalshiCredentials:
    """An API key id and its RSA private key. ``repr`` shows the key id only."""

    key_id: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    def __repr__(self) -> str:
        return f"KalshiCredentials(key_id={self.key_id!r}, private_key=<RSA {self.private_key.key_size} bits>)"

    def sign(self, ts_ms: int, method: str, path: str) -> str:
        signature = self.private_key.sign(signing_message(ts_ms, method, path), _PSS, hashes.SHA256())
        return base64.b64encode(signature).decode()

    def headers(self, method: str, path: str, ts_ms: int | None = None) -> dict[str, str]:
        """The three ``KALSHI-ACCESS-*`` headers for one request (a fresh timestamp unless given)."""
        ts = int(time.time() * 1000) if ts_ms is None else ts_ms
        return {
            HEADER_KEY: self.key_id,
            HEADER_SIGNATURE: self.sign(ts, method, path),
            HEADER_TIMESTAMP: str(ts),
        }


def load_private_key(pem: str | bytes, variable: str = "KALSHI_PRIVATE_KEY") -> rsa.RSAPrivateKey:
    """Load a PKCS#8 (``BEGIN PRIVATE KEY``) or PKCS#1 (``BEGIN RSA PRIVATE KEY``) RSA key from PEM text."""
    data = pem.encode() if isinstance(pem, str) else pem
    # Kubernetes secrets and .env files sometimes carry literal "\n" instead of newlines.
    if b"\\n" in data and b"\n" not in data.strip():
        data = data.replace(b"\\n", b"\n")
    if b"-----BEGIN" not in data:
        raise AuthError(f"{variable} is not PEM text: expected '-----BEGIN PRIVATE KEY-----' or "
                        f"'-----BEGIN RSA PRIVATE KEY-----' (the key itself, not a path)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuthError(f"{variable} could not be read as an unencrypted RSA private key in PEM format") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthError(f"{variable} holds a {type(key).__name__}, expected an RSA private key")
    return key


def credentials_from_env(environ: Mapping[str, str] | None = None) -> KalshiCredentials:
    """Read ``KALSHI_API_KEY`` and ``KALSHI_PRIVATE_KEY``; raise :class:`AuthError` naming what is missing."""
    import os

    env = dict(os.environ) if environ is None else environ
    key_id = env.get("KALSHI_API_KEY", "").strip()
    pem = env.get("KALSHI_PRIVATE_KEY", "")
    missing = [name for name, value in (("KALSHI_API_KEY", key_id), ("KALSHI_PRIVATE_KEY", pem)) if not value]
    if missing:
        raise AuthError(f"missing credentials: set {' and '.join(missing)}")
    return KalshiCredentials(key_id, load_private_key(pem))


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise AuthError("expected an RSA public key")
    return key


def verify_signature(public_key: rsa.RSAPublicKey, signature_b64: str, ts_ms: int, method: str, path: str) -> bool:
    """Server side (the simulator): does the signature match the key, timestamp, method and path?"""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, signing_message(ts_ms, method, path), _PSS, hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def generate_key_pair(bits: int = 2048) -> tuple[str, str]:
    """A new RSA key pair as ``(private_pkcs8_pem, public_pem)`` (for ``ssmd sim keygen`` and tests)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public
