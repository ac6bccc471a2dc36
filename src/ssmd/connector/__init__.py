"""ssmd-connector: Kalshi WebSocket -> NATS JetStream (or archive files), every frame exactly once.

``shard`` keeps one WebSocket alive and routes frames; ``publisher`` gets them acked by JetStream;
``service`` wires shards, discovery and health together; ``cli`` is the deployment guide's command line.
"""
