"""URLs in config files: NATS server lists (one parser for every service and flag), and URLs in errors without
secrets.

A NATS URL may carry ``user:password@`` and a WebSocket endpoint a ``?token=``: errors and logs show the URL
with those parts masked, so pasting an error into a ticket never leaks a credential.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import SplitResult, urlsplit, urlunsplit

NATS_SCHEMES = ("nats", "tls", "ws", "wss")
_WEBSOCKET = ("ws", "wss")


def redact_url(url: str) -> str:
    """``nats://user:pw@host:4222/x?token=t`` -> ``nats://user:***@host:4222/x?***``."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "(unparseable URL)"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"***@{host}"
    query = "***" if parts.query else ""
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, ""))


def redact_urls(value: str | Sequence[str]) -> str:
    """:func:`redact_url` for each entry of a server list (comma-separated text, or its parts), for humans."""
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else list(value)
    return ",".join(redact_url(part) for part in items if part)


def parse_servers(text: str) -> tuple[str, ...]:
    """A NATS server list (``nats://a:4222,nats://b:4222,nats://c:4222``, as the ``nats`` CLI takes it): the one
    place that reads one, for ``transport.url``, the archiver's ``nats.url``, ``NATS_URL`` and every flag.

    Clients must know several servers of a cluster to fail over when one dies, and a typo in the third URL should
    fail at start-up with its position, not during the first outage. Whitespace around entries is ignored and a
    repeated URL is kept once, in its first position. Raises ``ValueError`` naming the bad entry (redacted) and
    what was expected.
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
            raise ValueError(f"{where} {redact_url(entry)!r}: {exc}") from None
        if parts.scheme not in NATS_SCHEMES or not parts.hostname:
            raise ValueError(f"{where} {redact_url(entry)!r}: expected nats://host:port")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{where} {redact_url(entry)!r}: expected nats://host:port with nothing after the port")
        if entry not in servers:
            servers.append(entry)
    if len({urlsplit(s).scheme in _WEBSOCKET for s in servers}) > 1:
        raise ValueError("a server list cannot mix ws:// or wss:// with nats:// or tls:// URLs")
    return tuple(servers)


def redact_in(text: str, urls: str | None) -> str:
    """``text`` (an error from a library) with each URL of the comma-separated ``urls`` shown redacted."""
    for entry in (urls or "").split(","):
        entry = entry.strip()
        if entry:
            text = text.replace(entry, redact_url(entry))
    return text
