"""The simulator's settings, validated once by the CLI (or the caller) and trusted everywhere else."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import rsa

Wire = Literal["current", "legacy", "dual"]
WIRES: tuple[Wire, ...] = ("current", "legacy", "dual")


@dataclass(frozen=True)
class SimConfig:
    """Everything ``ssmd sim kalshi`` accepts. ``port=0`` binds a free port (read it back from ``SimServer.port``)."""

    host: str = "127.0.0.1"
    port: int = 8765
    auth: bool = True
    keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict, repr=False)
    markets: int = 50
    rate: float = 200.0
    seed: int | None = None
    wire: Wire = "current"
    sent_log: Path | None = None
    max_markets_per_sub: int = 0
    """0 = no cap (Kalshi publishes none; ssmd measured 256). Over the cap: error 26."""
    max_connections_per_key: int = 0
    """0 = no cap. Over the cap: HTTP 429 at the upgrade."""
    ping_interval: float = 10.0
    rest_rate_limit: float = 0.0
    """REST requests per second per key (or per client address when unsigned); 0 = no limit."""
    replay: Path | None = None
    speed: float | None = 1.0
    """Replay speed factor; ``None`` = as fast as possible."""
    duration: float | None = None
    skew_s: float = 60.0
    """Largest accepted difference between a signature's timestamp and the simulator's clock."""
    buffer_limit: int = 64 * 1024 * 1024
    """Bytes queued on one socket before its data subscriptions die with error 25, as on Kalshi."""
    historical_after: float | None = None
    """Trades older than this many seconds are served only by ``/historical/trades`` (``/historical/cutoff``
    says where); ``None``: every trade is recent."""
    lifecycle_interval: float = 5.0
    """Seconds (at ``rate``) between lifecycle steps (close, determine, settle, create, activate); 0 = none."""

    @property
    def lifecycle_every(self) -> int:
        """The interval in model steps (a step makes ~1.5 frames), so a seeded run is deterministic."""
        if self.lifecycle_interval <= 0 or self.rate <= 0:
            return 0
        return max(1, int(self.rate * self.lifecycle_interval / 1.5))

    def __post_init__(self) -> None:
        if self.markets < 1:
            raise ValueError("markets must be at least 1")
        if self.rate < 0:
            raise ValueError("rate must not be negative")
        if self.wire not in WIRES:
            raise ValueError(f"wire must be one of {', '.join(WIRES)}")
        if self.historical_after is not None and self.historical_after < 0:
            raise ValueError("historical_after must not be negative")
        if self.ping_interval <= 0:
            raise ValueError("ping_interval must be positive")
        if self.speed is not None and self.speed <= 0:
            raise ValueError("speed must be positive")
