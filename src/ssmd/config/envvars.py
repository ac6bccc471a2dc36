"""Environment variables read as booleans: one parser, so every flag accepts the same spellings.

Operators write ``yes``, ``on``, ``TRUE`` or ``1`` interchangeably (Helm charts, ``.env`` files, Kubernetes
manifests). Accepting the common spellings avoids surprises; refusing everything else avoids the worse one, a
typo (``KALSHI_USE_DEMO=ture``) silently meaning "false" and dialling production.
"""

from __future__ import annotations

from collections.abc import Mapping

from ssmd.errors import InputError

TRUE_SPELLINGS = ("true", "1", "yes", "on")
FALSE_SPELLINGS = ("false", "0", "no", "off")
ACCEPTED = "true/false, 1/0, yes/no or on/off (any case)"


class EnvVarError(InputError, ValueError):
    """An environment variable holds a value we cannot read; the message names the variable."""


def env_flag(environ: Mapping[str, str], name: str, default: bool = False) -> bool:
    """``environ[name]`` as a boolean; unset or blank means ``default``; anything unrecognised raises."""
    value = environ.get(name, "").strip()
    raw = value.lower()
    if not raw:
        return default
    if raw in TRUE_SPELLINGS:
        return True
    if raw in FALSE_SPELLINGS:
        return False
    shown = repr(value) if len(value) <= 16 else "a value"  # a long value may be a secret pasted in the wrong place
    raise EnvVarError(f"{name}={shown} is not a boolean: use {ACCEPTED}")
