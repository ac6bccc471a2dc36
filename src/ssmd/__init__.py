"""ssmd: stupid simple market data.

Kalshi WebSocket -> NATS JetStream -> rotated, verifiable ``.jsonl.gz`` archives.
Each component lives in its own subpackage; see ``docs/architecture.md``.
"""

__version__ = "0.1.0"
