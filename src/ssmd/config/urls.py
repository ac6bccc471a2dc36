"""URLs in config files: NATS server lists, and showing a URL in an error without its secrets.

A NATS URL may carry ``user:password@`` and a WebSocket endpoint a ``?token=``: errors and logs show the URL
with those parts masked, so pasting an error into a ticket never leaks a credential.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit

NATS_SCHEMES = ("nats", "tls", "ws", "wss")


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


def redact_urls(value: str) -> str:
    """:func:`redact_url` for each entry of a comma-separated list."""
    return ",".join(redact_url(part) for part in value.split(","))


def check_nats_urls(value: str) -> str:
    """One NATS URL or a comma-separated list (a cluster's seed servers); each must be ``nats://host:port``.

    Returns the list without blanks around the commas. Raises ``ValueError`` naming the bad entry (redacted).
    """
    expected = "expected nats://host:port (or tls://, ws://, wss://), or a comma-separated list of them"
    entries = [part.strip() for part in value.split(",")]
    for entry in entries:
        problem = _nats_url_problem(entry)
        if problem:
            where = f" in {redact_urls(value)!r}" if len(entries) > 1 else ""
            raise ValueError(f"{expected}; got {problem}{where}")
    return ",".join(entries)


def _nats_url_problem(entry: str) -> str | None:
    if not entry:
        return "an empty entry"
    shown = repr(redact_url(entry))
    try:
        parts = urlsplit(entry)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in 0..65535
    except ValueError:
        return f"a bad port in {shown}"
    if parts.scheme not in NATS_SCHEMES:
        return shown
    if not parts.hostname:
        return f"no host in {shown}"
    return None


def redact_in(text: str, urls: str | None) -> str:
    """``text`` (an error from a library) with each URL of the comma-separated ``urls`` shown redacted."""
    for entry in (urls or "").split(","):
        entry = entry.strip()
        if entry:
            text = text.replace(entry, redact_url(entry))
    return text
