"""Generic simulator plumbing: hand-built server WebSocket frames (:mod:`ssmd.sim.wsframe`), the serve-until-stopped
loop (:mod:`ssmd.sim.serve`) and the ``ssmd sim`` command group (:mod:`ssmd.sim.cli`). Each exchange's stand-in
lives in its feed's package (``ssmd.kalshi.sim``).
"""
