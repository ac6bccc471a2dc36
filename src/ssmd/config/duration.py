"""Human durations (``30s``, ``15m``, ``1h``, ``1d``) used by rotation, stream max-age and timeouts.

Kept strict on purpose: the original accepted ``0m`` and silently rotated on every write.
"""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")


def parse_duration(text: str) -> int:
    """Return the number of seconds in ``text``; raise ``ValueError`` saying what was expected."""
    match = _PATTERN.match(str(text))
    if match is None:
        raise ValueError(f"expected a duration like 30s, 15m, 1h or 1d, got {text!r}")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"expected a positive duration, got {text!r}")
    return seconds


def format_duration(seconds: int) -> str:
    """Inverse of :func:`parse_duration` for whole units (``900`` -> ``15m``)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
