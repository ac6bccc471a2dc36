"""``ssmd sim kalshi``: a Kalshi exchange stand-in (WebSocket v2 + market-discovery REST) for demos, tests and benches.

Entry points: :class:`ssmd.sim.server.SimServer` in-process, ``ssmd sim kalshi`` as a process.
"""
