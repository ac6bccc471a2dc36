"""The health, readiness and Prometheus server every service runs on ``--health-addr``.

``/health``: 200 while the process and its event loop are alive (the body says more).
``/ready``: 200 only when the service does its job; 503 with the reason otherwise.
``/metrics``: Prometheus text from the service's own registry (one per service, so tests stay isolated);
:func:`metric_total` reads it back (for ``ssmd up``'s status line and for tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

HealthFn = Callable[[], dict[str, Any]]
ReadyFn = Callable[[], str | None]
"""Returns ``None`` when ready, else the reason it is not."""


def parse_addr(addr: str, default_host: str = "0.0.0.0") -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``PORT`` -> ``(host, port)``; raises ``ValueError`` with the expected form."""
    host, sep, port = addr.rpartition(":")
    if not sep:
        host, port = default_host, addr
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"expected HOST:PORT, got {addr!r}") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"port out of range in {addr!r}")
    return (host.strip("[]") or default_host), number


class HealthServer:
    def __init__(
        self,
        addr: str,
        registry: CollectorRegistry,
        health: HealthFn,
        ready: ReadyFn,
        extra_routes: list[web.RouteDef] | None = None,
    ) -> None:
        self.host, self.port = parse_addr(addr)
        self.registry = registry
        self._health = health
        self._ready = ready
        self._app = web.Application()
        self._app.add_routes([
            web.get("/health", self._on_health),
            web.get("/healthz", self._on_health),
            web.get("/ready", self._on_ready),
            web.get("/metrics", self._on_metrics),
            *(extra_routes or []),
        ])
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:  # report the port the OS chose
            server = site._server
            if server is not None and server.sockets:  # type: ignore[attr-defined]
                self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_health(self, _: web.Request) -> web.Response:
        return _json(self._health())

    async def _on_ready(self, _: web.Request) -> web.Response:
        reason = self._ready()
        if reason is None:
            return _json({"ready": True})
        return _json({"ready": False, "reason": reason}, status=503)

    async def _on_metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    """Compact JSON (``{"status":"ok"}``), byte for byte what the deployment guide's probes were written against."""
    return web.Response(body=orjson.dumps(body, default=str), status=status, content_type="application/json")


def metric_total(text: str, name: str, **labels: str) -> float | None:
    """The sum of the samples of ``name`` in Prometheus ``text`` whose labels include ``labels``; ``None`` when
    there are none.

    ``name`` is a gauge's name or a counter's, with or without ``_total`` (a counter's ``_created`` samples and a
    histogram's parts are not its value). NaN samples (a gauge with nothing to say yet) count as absent.
    Parsing is prometheus_client's own parser: the format has escaping rules worth not re-implementing.
    """
    total: float | None = None
    wanted = {name, name + "_total"}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name not in wanted or math.isnan(sample.value):
                continue
            if all(sample.labels.get(key) == value for key, value in labels.items()):
                total = (total or 0.0) + sample.value
    return total
