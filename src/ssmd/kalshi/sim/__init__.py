"""``ssmd sim kalshi``: a Kalshi exchange stand-in (WebSocket v2 + market-discovery REST) for demos, tests and
benches.

Entry points: :class:`ssmd.kalshi.sim.server.SimServer` in-process, ``ssmd sim kalshi`` as a process. Generic
simulator plumbing (hand-built WebSocket frames, the ``ssmd sim`` command group) is in :mod:`ssmd.sim`.
"""
