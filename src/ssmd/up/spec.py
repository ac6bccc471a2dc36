"""What the supervisor needs to know about one child process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ChildSpec:
    """One long-running child: its command line, extra environment, and how to tell it is up.

    ``health_url`` is polled until it answers 200 (an HTTP service); ``tcp_port`` until it accepts (nats-server).
    Neither: the child counts as started once spawned.
    """

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    health_url: str | None = None
    tcp_port: int | None = None
    log_path: Path | None = None
    restart: bool = True
