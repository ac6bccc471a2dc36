"""``ssmd sim kalshi`` (the exchange) and ``ssmd sim keygen`` (a key pair for it), registered in
:data:`ssmd.sim.cli.SIMULATORS`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from ssmd.kalshi.sim.config import WIRES, SimConfig


def _parse_keys(values: tuple[str, ...]) -> dict[str, object]:
    from ssmd.kalshi.auth import AuthError, load_public_key

    keys: dict[str, object] = {}
    for value in values:
        key_id, sep, path = value.partition("=")
        if not sep or not key_id or not path:
            raise click.BadParameter(f"expected API_KEY=PUBLIC_KEY.pem, got {value!r}", param_hint="--key")
        try:
            keys[key_id] = load_public_key(Path(path).read_bytes())
        except OSError as exc:
            raise click.BadParameter(f"{path}: {exc.strerror}", param_hint="--key") from None
        except (AuthError, ValueError):
            raise click.BadParameter(f"{path}: not an RSA public key in PEM format", param_hint="--key") from None
    return keys


def _parse_speed(value: str) -> float | None:
    if value == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        raise click.BadParameter("expected a number or 'max'", param_hint="--speed") from None
    if speed <= 0:
        raise click.BadParameter("must be positive", param_hint="--speed")
    return speed


@click.command("kalshi")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-auth", is_flag=True, help="Accept unsigned connections (quick demos).")
@click.option("--key", "keys", multiple=True, metavar="API_KEY=PUBLIC_KEY.pem", help="A key the exchange knows.")
@click.option("--markets", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--rate", default=200.0, show_default=True, type=click.FloatRange(0), help="Data frames per second.")
@click.option("--seed", type=int, default=None, help="Make the market model deterministic.")
@click.option("--wire", type=click.Choice(WIRES), default="current", show_default=True)
@click.option("--sent-log", type=click.Path(dir_okay=False, path_type=Path), help="Append every data frame sent.")
@click.option("--max-markets-per-sub", default=0, show_default=True, type=click.IntRange(0), help="0 = no cap.")
@click.option("--max-connections-per-key", default=0, show_default=True, type=click.IntRange(0), help="0 = no cap.")
@click.option("--ping-interval", default=10.0, show_default=True, type=click.FloatRange(0.01))
@click.option("--rest-rate-limit", default=0.0, show_default=True, type=click.FloatRange(0),
              help="REST requests/s per key before HTTP 429 (0 = no limit).")
@click.option("--replay", type=click.Path(exists=True, path_type=Path), help="Play an archive instead of the model.")
@click.option("--speed", default="1", show_default=True, help="Replay speed: a factor (1, 10, ...) or 'max'.")
@click.option("--duration", type=click.FloatRange(0, min_open=True), default=None, help="Exit 0 after SECONDS.")
@click.option("--lifecycle-interval", default=5.0, show_default=True, type=click.FloatRange(0),
              help="Seconds between market lifecycle steps at --rate (0 = none).")
@click.option("--historical-after", type=click.FloatRange(0), default=None,
              help="Trades older than SECONDS move to /historical/trades (default: none do).")
def kalshi(
    host: str, port: int, no_auth: bool, keys: tuple[str, ...], markets: int, rate: float, seed: int | None,
    wire: str, sent_log: Path | None, max_markets_per_sub: int, max_connections_per_key: int,
    ping_interval: float, rest_rate_limit: float, replay: Path | None, speed: str, duration: float | None,
    lifecycle_interval: float, historical_after: float | None,
) -> None:
    """Run a simulated Kalshi exchange (WebSocket v2, REST v2, /_sim control endpoints)."""
    if not no_auth and not keys:
        raise click.UsageError("give --key API_KEY=PUBLIC_KEY.pem (see 'ssmd sim keygen') or --no-auth")
    config = SimConfig(
        host=host, port=port, auth=not no_auth, keys=_parse_keys(keys), markets=markets,  # type: ignore[arg-type]
        rate=rate, seed=seed, wire=wire, sent_log=sent_log,  # type: ignore[arg-type]
        max_markets_per_sub=max_markets_per_sub, max_connections_per_key=max_connections_per_key,
        ping_interval=ping_interval, rest_rate_limit=rest_rate_limit, replay=replay, speed=_parse_speed(speed),
        duration=duration, lifecycle_interval=lifecycle_interval, historical_after=historical_after,
    )
    from ssmd.archive import ArchiveError

    try:
        asyncio.run(_serve(config))
    except ArchiveError as exc:
        click.echo(f"ssmd sim kalshi: --replay {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"ssmd sim kalshi: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(1)


async def _serve(config: SimConfig) -> None:
    from ssmd.kalshi.sim.server import SimServer
    from ssmd.sim.serve import serve_until_stopped

    server = SimServer(config)
    await serve_until_stopped(server, lambda: f"ssmd sim kalshi listening on {server.url}", config.duration)


@click.command("keygen")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--api-key", default=None, help="Key id to print (default: a new UUID).")
def keygen(out_dir: Path, api_key: str | None) -> None:
    """Write an RSA key pair for the simulator and print the variables a connector needs."""
    import os
    import uuid

    from ssmd.kalshi.auth import generate_key_pair

    private, public = generate_key_pair()
    out_dir.mkdir(parents=True, exist_ok=True)
    priv_path = out_dir / "kalshi-private.pem"
    pub_path = out_dir / "kalshi-public.pem"
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(private)
    pub_path.write_text(public)
    key_id = api_key or str(uuid.uuid4())
    click.echo(f"export KALSHI_API_KEY={key_id}")
    click.echo(f'export KALSHI_PRIVATE_KEY="$(cat {priv_path})"')
    click.echo(f"# simulator: ssmd sim kalshi --key {key_id}={pub_path}")
