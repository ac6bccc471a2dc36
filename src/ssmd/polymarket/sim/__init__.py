"""``ssmd sim polymarket``: the CLOB market channel (``/ws/market``) and Gamma-style ``GET /markets`` on one
port, from a market model of its own, with faults (see docs/polymarket.md). In-process:
``server = PolySim(PolySimConfig(port=0)); await server.start()``.
"""
