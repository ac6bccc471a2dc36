"""``SSMD_INSTANCE``: the name a connector stamps on what it publishes (header ``Ssmd-Instance``).

Redundant connectors capture the same frames; the name says whose copy a message is, in the stream, the archive
and the coverage ledger. It must be safe wherever it is used: a header value, a NATS subject token, a file name. So
an operator's value is checked at the edge (a clear error, exit 2), and the default, the hostname (a Kubernetes
pod's name), is reduced to its first label and made safe.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping

from ssmd.config.envvars import EnvVarError

INSTANCE_ENV = "SSMD_INSTANCE"
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
EXPECTED = "1 to 63 letters, digits, '-' or '_', starting with a letter or digit (e.g. zone-a)"


def check_instance(value: str, source: str = INSTANCE_ENV) -> str:
    """``value`` if it is a safe instance name, else :class:`EnvVarError` naming ``source`` and the rule."""
    if _SAFE.fullmatch(value):
        return value
    shown = repr(value) if len(value) <= 64 else "a value longer than 63 characters"
    raise EnvVarError(f"{source}={shown} is not a valid instance name: expected {EXPECTED}")


def default_instance() -> str:
    """The hostname's first label, made safe (``_`` for anything else); ``ssmd`` if there is no hostname."""
    host = socket.gethostname().split(".", 1)[0]
    name = _UNSAFE.sub("_", host)[:63].lstrip("_-")
    return name or "ssmd"


def instance_name(environ: Mapping[str, str]) -> str:
    """``SSMD_INSTANCE`` from ``environ`` (blank or unset: :func:`default_instance`), checked."""
    value = environ.get(INSTANCE_ENV, "").strip()
    return check_instance(value) if value else default_instance()
