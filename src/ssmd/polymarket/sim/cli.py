"""``ssmd sim polymarket``: the simulated market channel and Gamma ``/markets`` as a process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from ssmd.polymarket.sim.server import PolySimConfig


@click.command("polymarket")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8766, show_default=True, type=click.IntRange(0, 65535))
@click.option("--markets", default=10, show_default=True, type=click.IntRange(1, 100000), help="Open markets.")
@click.option("--closed-markets", default=2, show_default=True, type=click.IntRange(0, 100000),
              help="Closed markets Gamma lists (never fed).")
@click.option("--rate", default=50.0, show_default=True, type=click.FloatRange(0), help="Model steps per second.")
@click.option("--seed", type=int, default=None, help="Make the market model deterministic.")
@click.option("--sent-log", type=click.Path(dir_okay=False, path_type=Path), help="Append every frame sent.")
@click.option("--ping-timeout", default=10.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Close 1008 after this long without a text PING.")
@click.option("--dump", type=click.Choice(("array", "objects")), default="array", show_default=True,
              help="Initial dump framing: one array frame, or one frame per book.")
@click.option("--lifecycle-every", default=0, show_default=True, type=click.IntRange(0),
              help="Model steps between lifecycles (market_resolved + new_market); 0 = none.")
@click.option("--duration", type=click.FloatRange(0, min_open=True), default=None, help="Exit 0 after SECONDS.")
def polymarket(host: str, port: int, markets: int, closed_markets: int, rate: float, seed: int | None,
               sent_log: Path | None, ping_timeout: float, dump: str, lifecycle_every: int,
               duration: float | None) -> None:
    """Run a simulated Polymarket CLOB market channel (/ws/market) and Gamma GET /markets."""
    config = PolySimConfig(host=host, port=port, markets=markets, closed_markets=closed_markets, rate=rate,
                           seed=seed, sent_log=sent_log, ping_timeout=ping_timeout,
                           dump=dump, lifecycle_every=lifecycle_every, duration=duration)  # type: ignore[arg-type]
    try:
        asyncio.run(_serve(config))
    except OSError as exc:
        click.echo(f"ssmd sim polymarket: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(1)


async def _serve(config: PolySimConfig) -> None:
    from ssmd.polymarket.sim.server import PolySim
    from ssmd.sim.serve import serve_until_stopped

    server = PolySim(config)
    # one line, the WebSocket URL last (``ssmd up`` and the test helpers read it); Gamma is on the same port
    await serve_until_stopped(
        server, lambda: f"ssmd sim polymarket (Gamma GET {server.rest_url}/markets) listening on {server.url}",
        config.duration)
