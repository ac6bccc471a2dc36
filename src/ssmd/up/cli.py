"""``ssmd up``: the whole pipeline on this machine (``make demo``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from ssmd.up.pipeline import DEFAULT_FEED, DEFAULT_SIGNALS


def _duration(_: click.Context, __: click.Parameter, value: str | None) -> float | None:
    from ssmd.config import parse_duration

    if value is None:
        return None
    try:
        return float(parse_duration(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("up")
@click.option("--duration", callback=_duration, default=None, help="Stop after this long (30s, 5m); default: Ctrl-C.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Configs, keys, NATS store, archive and logs.  [default: ./data/demo, or ./data/live with --live]")
@click.option("--feed", "feed_name", default=DEFAULT_FEED, show_default=True,
              help="Which exchange: a registered feed (kalshi, polymarket).")
@click.option("--live", is_flag=True, help="Capture the real exchange (Kalshi needs KALSHI_API_KEY and "
              "KALSHI_PRIVATE_KEY) instead of the feed's simulator.")
@click.option("--rate", default=200.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Simulator: data frames per second.")
@click.option("--markets", default=50, show_default=True, type=click.IntRange(1), help="Simulator: markets.")
@click.option("--seed", type=int, default=None, help="Simulator: deterministic market model.")
@click.option("--rotation", default="1m", show_default=True, help="Archive file rotation (short, so files appear).")
@click.option("--signals", default=DEFAULT_SIGNALS, show_default=True, help="Agent signal specs (SSMD_SIGNALS).")
@click.option("--cluster", type=click.IntRange(3, 9), default=None, metavar="N",
              help="Run NATS as a local JetStream cluster of N nodes (3: streams at R3, as in production) instead of "
              "one server; kill -9 a node to watch capture carry on.")
@click.option("--status-every", default=5.0, show_default=True, type=click.FloatRange(0.5),
              help="Seconds between status lines.")
def up(duration: float | None, data_dir: Path | None, feed_name: str, live: bool, rate: float, markets: int,
       seed: int | None, rotation: str, signals: str, cluster: int | None, status_every: float) -> None:
    """Run NATS, the stream, the feed's simulator (or --live), connector, archiver and agent, supervised.

    Prints where everything runs, a status line every few seconds, and on exit (Ctrl-C, SIGTERM or --duration)
    drains the pipeline, stops every child and prints a summary with the `ssmd archive verify` result.
    Exit 0 when the archive verifies, 1 otherwise, 2 on bad options or missing live credentials.
    """
    from ssmd.config import parse_duration
    from ssmd.feed.registry import get_feed
    from ssmd.runtime.process import fail, run_service
    from ssmd.up.pipeline import Options
    from ssmd.up.run import RunSettings, run

    try:
        parse_duration(rotation)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rotation") from None
    try:
        feed = get_feed(feed_name)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--feed") from None
    if live:
        missing = [n for n in feed.credential_vars if not os.environ.get(n)]
        if missing:
            fail(f"--live needs real {feed_name} credentials: set {' and '.join(missing)}")
    opts = Options(data_dir=data_dir or Path("data") / ("live" if live else "demo"), live=live, feed=feed_name,
                   rate=rate,
                   markets=markets, rotation=rotation, signals=signals, seed=seed, cluster=cluster)

    # Our own short NATS connections (drain checks) must not print reconnect chatter between status lines.
    logging.basicConfig(level=logging.WARNING, format="! %(name)s: %(message)s")
    logging.getLogger("ssmd.bus.connect").setLevel(logging.ERROR)

    def out(text: str) -> None:
        click.echo(text)

    run_service(lambda stop: run(opts, RunSettings(duration, status_every), out, stop))
