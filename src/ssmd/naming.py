"""Every NATS name ssmd makes or reads: subjects, streams, consumers, the agent's fires, filter matching.

One home, on the lowest floor (it imports nothing from ssmd), because the connector writes these names, the
archiver and the agent read them, ``ssmd up`` and the replay tool invent them for others, and a disagreement
between two copies of a rule is a stream nobody reads.

- Frames: ``{env}.{feed}.json.{type}.{key}``. ``{env}.{feed}`` is the *prefix*; ``type`` is a token the feed
  chooses (this module takes it as given); ``key`` is the market key (Kalshi's ticker), sanitised into one safe
  token: every ``.``, ``*``, ``>`` and whitespace character becomes ``_``, empty becomes ``_``. Payloads keep the
  original key, so the mapping need not be reversible. Frames nobody could classify go to
  ``{prefix}.json.unparsed._``: nothing is dropped.
- The frames' stream: ``{ENV}_{FEED}`` (``PROD_KALSHI``), capturing ``{prefix}.>``.
- The agent's fires: ``{env}.signals.fired.{signal}.{key}`` in stream ``{ENV}_SIGNALS`` capturing ``{env}.signals.>``.
"""

from __future__ import annotations

import re

JSON = "json"
UNPARSED = "unparsed"
NO_KEY = "_"
SIGNALS = "signals"
FIRED = "fired"
AGENT_DURABLE = "ssmd-agent"
"""The agent's default durable consumer name."""

_UNSAFE = re.compile(r"[.*>\s]")
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


# -- tokens and frame subjects ------------------------------------------------------------------------------------

def sanitize_token(text: str) -> str:
    """Make ``text`` one safe subject token (empty -> ``_``)."""
    if not text:
        return NO_KEY
    if _SAFE_TOKEN.match(text):
        return text
    return _UNSAFE.sub("_", text)


def is_token(text: str) -> bool:
    """True if ``text`` is one literal token as we write them (no wildcard, no dot, not empty)."""
    return bool(text) and sanitize_token(text) == text


def prefix(env: str, feed: str) -> str:
    """``{env}.{feed}``: every frame subject of one environment's feed starts with it (``prod.kalshi``)."""
    return f"{env}.{feed}"


def subject(prefix: str, type_token: str, key: str | None) -> str:
    """``{prefix}.json.{type_token}.{key}``; ``type_token`` is the feed's (already a safe token), ``key`` the raw
    market key or ``None``."""
    return f"{prefix}.{JSON}.{type_token}.{sanitize_token(key or '')}"


def unparsed_subject(prefix: str) -> str:
    """Where frames go that are not JSON or have no type: nothing is dropped."""
    return f"{prefix}.{JSON}.{UNPARSED}.{NO_KEY}"


def frames_filter(prefix: str) -> str:
    """Every frame a feed publishes under ``prefix`` (``prod.kalshi.json.>``): the archiver's and agent's filter."""
    return f"{prefix}.{JSON}.>"


def capture_filter(prefix: str) -> str:
    """Everything under ``prefix`` (``prod.kalshi.>``): what the frames' stream captures."""
    return f"{prefix}.>"


def env_of(subject_or_filter: str) -> str:
    """The environment token: the first token of a subject or filter."""
    return subject_or_filter.split(".", 1)[0]


def feed_of(subject_or_filter: str) -> str | None:
    """The feed token (the second), or ``None`` when there is none or it is a wildcard."""
    tokens = subject_or_filter.split(".")
    if len(tokens) < 2 or tokens[1] in ("*", ">"):
        return None
    return tokens[1]


# -- streams and consumers ----------------------------------------------------------------------------------------

def stream_name(env: str, feed: str) -> str:
    """The frames' JetStream stream of the deployment guide: ``PROD_KALSHI``."""
    return f"{env}_{feed}".upper()


def stream_for_prefix(prefix: str) -> str:
    """A stream named after an arbitrary subject prefix (``replay-1.kalshi`` -> ``REPLAY_1_KALSHI``), for tools that
    invent a prefix of their own: dots and dashes become ``_``."""
    return prefix.upper().replace(".", "_").replace("-", "_")


def archiver_durable(feed: str) -> str:
    """The archiver's durable consumer for ``feed`` as ``ssmd up`` names it (``archiver-kalshi``)."""
    return f"archiver-{feed}"


# -- the agent's fires --------------------------------------------------------------------------------------------

def fire_subject(env: str, signal: str, key: str) -> str:
    """``{env}.signals.fired.{signal}.{key}``, both tokens sanitised."""
    return f"{env}.{SIGNALS}.{FIRED}.{sanitize_token(signal)}.{sanitize_token(key)}"


def fires_filter(env: str) -> str:
    """Every fire of ``env`` (``prod.signals.fired.>``)."""
    return f"{env}.{SIGNALS}.{FIRED}.>"


def fires_capture(env: str) -> str:
    """What the fires stream captures (``prod.signals.>``)."""
    return f"{env}.{SIGNALS}.>"


def fires_stream(env: str) -> str:
    """The default fires stream of ``env``: ``PROD_SIGNALS``."""
    return f"{sanitize_token(env).upper().replace('-', '_')}_SIGNALS"


# -- filters ------------------------------------------------------------------------------------------------------

def filter_covers(outer: str, inner: str) -> bool:
    """True if every subject matched by ``inner`` is matched by ``outer`` (both NATS filters)."""
    o, i = outer.split("."), inner.split(".")
    for index, token in enumerate(o):
        if token == ">":
            return index < len(i)
        if index >= len(i):
            return False
        if i[index] == ">":
            return False
        if token not in ("*", i[index]):
            return False
    return len(o) == len(i)

