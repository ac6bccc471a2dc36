"""``ssmd agent`` / ``ssmd-agent``: no subcommand runs the live runtime (what the container does)."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from ssmd import naming
from ssmd.agent.loader import load_signals, split_specs
from ssmd.errors import EXIT_FAILURE, InputError
from ssmd.runtime.process import checked, fail, run_service

if TYPE_CHECKING:
    from ssmd.feed import Feed

log = logging.getLogger(__name__)

SIGNALS_HELP = ("signal specs, comma-separated or repeated: built-in name[key=value,...], file.py, directory, "
                "module[:Class], or signals.yaml")


def _signals(values: tuple[str, ...]) -> list[Any]:
    specs = [s for value in values for s in split_specs(value)]
    return checked(lambda: load_signals(specs))


@click.group("agent", invoke_without_command=True)
@click.pass_context
def agent_group(ctx: click.Context) -> None:
    """Trading signals over market state: live on NATS (default) or backtested on an archive."""
    if ctx.invoked_subcommand is None:
        sub = run.make_context("run", [], parent=ctx)
        with sub:
            run.invoke(sub)


@agent_group.command("run")
@click.option("--nats-url", envvar="NATS_URL", default="nats://127.0.0.1:4222", show_default=True,
              help="env NATS_URL")
@click.option("--subjects", envvar="NATS_SUBJECTS", help="comma-separated subject filters, e.g. prod.kalshi.json.> "
              "(env NATS_SUBJECTS)")
@click.option("--signals", "signal_specs", envvar="SSMD_SIGNALS", multiple=True, help=SIGNALS_HELP +
              " (env SSMD_SIGNALS)")
@click.option("--stream", envvar="SSMD_STREAM", default=None, help="stream to consume (default: the one capturing "
              "the subjects)")
@click.option("--durable", envvar="SSMD_AGENT_DURABLE", default=naming.AGENT_DURABLE, show_default=True,
              help="durable consumer name")
@click.option("--port", envvar="PORT", default=8080, type=int, show_default=True, help="/health /ready /metrics port "
              "(env PORT)")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--fires-stream", default=None, help="stream for {env}.signals.> if none exists (default ENV_SIGNALS)")
@click.option("--feed", "feed_name", envvar="SSMD_FEED", default=None,
              help="the feed whose frames the subjects carry (default: the subjects' feed token, e.g. kalshi)")
@click.option("--deliver", type=click.Choice(["all", "new"]), default="all", show_default=True,
              help="where a new durable consumer starts")
def run(nats_url: str, subjects: str | None, signal_specs: tuple[str, ...], stream: str | None, durable: str,
        port: int, host: str, fires_stream: str | None, feed_name: str | None, deliver: str) -> None:
    """Evaluate signals on the live stream; publish fires to {env}.signals.fired.{signal}.{ticker}.

    With no signals selected it only serves /health, /ready and /metrics (and says so once in the log).
    """
    from ssmd.agent.live import LiveConfig, Runtime, serve_idle, subjects_feed
    from ssmd.feed import get_feed
    from ssmd.runtime.logging import setup_logging

    setup_logging()
    health_addr = f"{host}:{port}"
    if not [spec for value in signal_specs for spec in split_specs(value)]:
        run_service(lambda stop: _bad_input_as_exit_2(serve_idle(health_addr, stop), (ValueError,)))
    filters = checked(lambda: _filters(subjects))
    signals = _signals(signal_specs)

    def configure() -> tuple[LiveConfig, Feed]:
        try:
            config = LiveConfig(nats_url=nats_url, subjects=filters, stream=stream, durable=durable,
                                health_addr=health_addr, fires_stream=fires_stream, deliver=deliver,
                                feed=feed_name or subjects_feed(filters))
            return config, get_feed(config.feed)
        except KeyError as exc:
            raise InputError(f"--feed/SSMD_FEED: {exc.args[0]}") from None
        except ValueError as exc:
            raise InputError(str(exc)) from None

    config, feed = checked(configure)
    run_service(lambda stop: _bad_input_as_exit_2(Runtime(config, signals, feed=feed).run(stop), ()))


def _filters(subjects: str | None) -> tuple[str, ...]:
    filters = tuple(s.strip() for s in (subjects or "").split(",") if s.strip())
    if not filters:
        raise InputError("NATS_SUBJECTS (or --subjects) is required: comma-separated filters such as "
                         "prod.kalshi.json.>")
    return filters


async def _bad_input_as_exit_2(run: Awaitable[None], also: tuple[type[Exception], ...]) -> None:
    """The health port taken (``OSError``), or ``also``, is input the operator must fix."""
    bad: tuple[type[Exception], ...] = (OSError, *also)
    try:
        await run
    except bad as exc:
        raise InputError(str(exc)) from None


@agent_group.command("backtest")
@click.option("--signals", "signal_specs", envvar="SSMD_SIGNALS", multiple=True, required=True, help=SIGNALS_HELP)
@click.option("--archive", "archive", type=click.Path(exists=True, path_type=Path), required=True,
              help="archive root, feed dir, day dir or one .jsonl.gz file")
@click.option("--from", "start", default=None, help="start (ISO date/time or epoch ms, inclusive)")
@click.option("--to", "end", default=None, help="end (ISO date/time or epoch ms, exclusive)")
@click.option("--types", default=None, help="only these frame types / subject tokens, comma-separated (match the "
              "live NATS_SUBJECTS, e.g. trade,ticker)")
@click.option("--tickers", default=None, help="only these market tickers, comma-separated")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write fires here: .jsonl, or .parquet (needs ssmd[parquet])")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.option("--feed", "feed_name", default=None, help="the feed of the archive (default: its feed directory)")
@click.option("--raw", is_flag=True, help="every archived copy of every frame (what a live agent on the stream "
              "consumed) instead of the merged view")
def backtest(signal_specs: tuple[str, ...], archive: Path, start: str | None, end: str | None, types: str | None,
             tickers: str | None, out: Path | None, as_json: bool, feed_name: str | None, raw: bool) -> None:
    """Run signals over archived frames; print fires per signal/market and the price move 1/5/15 min later."""
    from ssmd.agent.backtest import archive_feed, archive_frames, format_summary, run_backtest, write_fires
    from ssmd.archive import ArchiveError
    from ssmd.feed import get_feed

    signals = _signals(signal_specs)
    try:
        feed = get_feed(feed_name) if feed_name else archive_feed(archive)
    except KeyError as exc:
        fail(f"--feed: {exc.args[0]}")
    except (ArchiveError, ValueError) as exc:
        fail(str(exc))
    try:
        result = run_backtest(archive_frames(archive, start, end, _csv(types), _csv(tickers), raw), signals, feed)
    except (ArchiveError, ValueError) as exc:
        fail(str(exc))
    if out is not None:
        try:
            write_fires(out, result.outcomes)
        except RuntimeError as exc:
            fail(str(exc))
    summary = result.summary()
    if as_json:
        click.echo(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(format_summary(summary))
    if out is not None and not as_json:
        click.echo(f"fires written to {out}")


def _csv(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


@agent_group.command("draft")
@click.argument("description")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="signal file to write (default signals/draft_<words>.py)")
@click.option("--archive", type=click.Path(exists=True, path_type=Path), default=None,
              help="backtest the draft on this archive")
@click.option("--model", default=None, help="Claude model id (default: ssmd.agent.draft.DEFAULT_MODEL)")
def draft(description: str, out: Path | None, archive: Path | None, model: str | None) -> None:
    """Ask Claude to write a signal file, check it loads, backtest it; never deploys it."""
    if not os.environ.get("ANTHROPIC_API_KEY"):
        fail("ssmd agent draft needs ANTHROPIC_API_KEY (and pip install 'ssmd[llm]'); the runtime itself never needs "
             "it")
    from ssmd.agent.draft import DEFAULT_MODEL, DraftError, anthropic_client, draft_signal

    try:
        result = draft_signal(description, anthropic_client(), out=out, archive=archive, model=model or DEFAULT_MODEL)
    except DraftError as exc:
        fail(str(exc), EXIT_FAILURE)
    click.echo(result.report())
