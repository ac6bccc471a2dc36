"""``/_sim/*``: the test harness's handle on the exchange (faults, pause/resume, stats). No auth, loopback use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ssmd.kalshi.sim.session import TERMINAL_ERRORS

if TYPE_CHECKING:
    from ssmd.kalshi.sim.server import SimServer

FAULTS = ("disconnect", "stall", "seq_gap", "malformed", "reject_auth", "error")
MALFORMED = (b"this is not JSON {", b'{"sid":1,"msg":{"note":"frame without a type"}}')
"""What the ``malformed`` fault sends: one non-JSON frame and one JSON frame with no ``type``."""


async def apply_fault(server: SimServer, spec: dict[str, Any]) -> dict[str, Any]:
    """Do what ``spec["kind"]`` says to every live socket; returns what was done (for the HTTP reply)."""
    kind = spec.get("kind")
    server.stats["faults"] += 1
    if kind == "disconnect":
        closed = await server.close_all(abrupt=bool(spec.get("abrupt", False)), code=int(spec.get("code", 1011)))
        return {"closed": closed}
    if kind == "stall":
        seconds = float(spec.get("seconds", 30.0))
        server.stall(seconds)
        return {"seconds": seconds}
    if kind == "seq_gap":
        sids = 0
        for session in server.sessions:
            for sub in session.subs.values():
                if sub.channel in ("orderbook_delta", "trade", "market_lifecycle_v2"):
                    sub.skip_next = True
                    sids += 1
        return {"sids": sids}
    if kind == "malformed":
        for session in list(server.sessions):
            for raw in MALFORMED:
                session.deliver_raw(raw)
            session.flush()
        return {"sockets": len(server.sessions)}
    if kind == "error":
        return _fail_subscriptions(server, spec)
    if kind == "reject_auth":
        server.reject_auth = int(spec.get("count", 1))
        return {"count": server.reject_auth}
    raise ValueError(f"kind must be one of {', '.join(FAULTS)}")


def _fail_subscriptions(server: SimServer, spec: dict[str, Any]) -> dict[str, Any]:
    """Kalshi's asynchronous terminal errors: every matching sid on every socket gets one and dies."""
    code = spec.get("code", 10)
    if type(code) is not int or code not in TERMINAL_ERRORS:
        raise ValueError(f"code must be one of {', '.join(map(str, TERMINAL_ERRORS))} (Kalshi's terminal errors)")
    channels = spec.get("channels")
    if channels is not None and (not isinstance(channels, list) or not all(isinstance(c, str) for c in channels)):
        raise ValueError("channels must be a list of channel names")
    sids = 0
    for session in list(server.sessions):
        sids += session.fail_subscriptions(code, channels)
        session.flush()
    return {"sids": sids}


def control_routes(server: SimServer) -> list[web.RouteDef]:
    async def fault(request: web.Request) -> web.Response:
        try:
            spec = await request.json()
            if not isinstance(spec, dict):
                raise ValueError("body must be a JSON object")
            done = await apply_fault(server, spec)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True, "kind": spec["kind"], **done})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(server.snapshot_stats())

    async def pause(request: web.Request) -> web.Response:
        server.paused = True
        return web.json_response({"paused": True})

    async def resume(request: web.Request) -> web.Response:
        server.paused = False
        server.unstall()
        return web.json_response({"paused": False})

    return [
        web.post("/_sim/fault", fault),
        web.get("/_sim/stats", stats),
        web.post("/_sim/pause", pause),
        web.post("/_sim/resume", resume),
    ]
