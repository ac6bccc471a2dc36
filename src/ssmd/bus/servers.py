"""NATS server lists: ``nats://a:4222,nats://b:4222,nats://c:4222``, as the ``nats`` CLI takes them.

The one place that reads a server list (environment ``transport.url``, archiver ``nats.url``, ``NATS_URL``,
``--nats-url``): clients must know several servers of a cluster to fail over when one dies, and a typo in the
third URL should fail at start-up with its position, not during the first outage. Kept free of nats-py so the
config models can use it without importing the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("nats", "tls", "ws", "wss")
_WEBSOCKET = ("ws", "wss")


def parse_servers(text: str) -> tuple[str, ...]:
    """Split a comma-separated server list; raise ``ValueError`` naming the bad entry and what was expected.

    Whitespace around entries is ignored and repeated URLs are kept once, in their first position.
    """
    entries = [part.strip() for part in text.split(",")]
    if not any(entries):
        raise ValueError("expected nats://host:port (several: nats://a:4222,nats://b:4222), got an empty value")
    servers: list[str] = []
    for index, entry in enumerate(entries, start=1):
        where = f"server {index} of {len(entries)}" if len(entries) > 1 else "server"
        if not entry:
            raise ValueError(f"{where} is empty: expected nats://host:port between the commas")
        try:
            parts = urlsplit(entry)
            _ = parts.port  # raises on a port that is not a number or out of range
        except ValueError as exc:
            raise ValueError(f"{where} {redact(entry)!r}: {exc}") from None
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError(f"{where} {redact(entry)!r}: expected nats://host:port")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{where} {redact(entry)!r}: expected nats://host:port with nothing after the port")
        if entry not in servers:
            servers.append(entry)
    kinds = {urlsplit(s).scheme in _WEBSOCKET for s in servers}
    if len(kinds) > 1:
        raise ValueError("a server list cannot mix ws:// or wss:// with nats:// or tls:// URLs")
    return tuple(servers)


def redact(url: str) -> str:
    """``url`` without its password or token, for logs and error messages."""
    try:
        parts = urlsplit(url)
        if not parts.username and not parts.password:
            return url
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "<unreadable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def display(servers: str | Sequence[str]) -> str:
    """A server list for humans: comma-separated and redacted."""
    items = [s.strip() for s in servers.split(",")] if isinstance(servers, str) else list(servers)
    return ",".join(redact(s) for s in items if s)
