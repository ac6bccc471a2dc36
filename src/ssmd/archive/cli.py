"""``ssmd archive verify|cat|stats|replay|export|sync``: the archive as a dataset.

Exit codes: 0 fine, 1 the archive has problems (verify, or parts a reading command could not read: each is printed
as a ``problem:`` line on stderr; ``--ignore-problems`` accepts them) or an operation failed part-way, 2 bad input
(a path that is not an archive, a bad option, an unreadable config file, NATS unreachable).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
import orjson

from ssmd.archive.problems import ArchiveError, ArchiveProblems, Problem, Problems
from ssmd.coverage.cli import coverage
from ssmd.errors import EXIT_FAILURE
from ssmd.runtime.logging import setup_logging
from ssmd.runtime.process import fail

if TYPE_CHECKING:
    from ssmd.archive.reader import ArchiveReader

F = TypeVar("F", bound=Callable[..., Any])


def _filters(func: F) -> F:
    options = [
        click.option("--feed", help="Feed directory under the archive root (default: all)."),
        click.option("--start", help="Keep frames at or after this UTC time (YYYY-MM-DD or ISO time)."),
        click.option("--end", help="Keep frames before this UTC time; a bare date includes that day."),
        click.option("--types", help="Comma-separated frame types or subject tokens (trade,ticker,orderbook)."),
        click.option("--tickers", help="Comma-separated raw market tickers."),
        click.option("--ignore-problems", is_flag=True,
                     help="Exit 0 although parts of the archive could not be read (they are still printed)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _open(path: str, feed: str | None, start: str | None, end: str | None, types: str | None,
          tickers: str | None) -> ArchiveReader:
    """The reader for a command. Problems are printed on stderr as they are found; the command calls
    :func:`_verdict` at the end."""
    import ssmd.archive

    try:
        frames = ssmd.archive.open(path, feed=feed, start=start, end=end, types=types, tickers=tickers,
                                   ignore_problems=True, on_problem=_print_problem)
    except (ArchiveError, ValueError) as exc:
        fail(str(exc))
    return frames


def _print_problem(problem: Problem) -> None:
    click.echo(f"problem: {problem}", err=True)


def _verdict(problems: Problems, ignore_problems: bool, lost: str = "the output lacks that data") -> None:
    """End of a reading command: exit 1 if parts of the archive could not be read, unless that is accepted."""
    if not problems:
        return
    if not ignore_problems:
        _reject(problems, lost)
    _print_not_shown(problems)
    click.echo(f"warning: {problems.summary()} accepted (--ignore-problems): {lost}", err=True)


def _reject(problems: Problems, lost: str) -> NoReturn:
    _print_not_shown(problems)
    fail(f"{problems.summary()}: {lost}; 'ssmd archive verify' shows the whole archive's state, "
          f"--ignore-problems accepts it", EXIT_FAILURE)


def _print_not_shown(problems: Problems) -> None:
    for kind, count in sorted(problems.not_shown().items()):
        click.echo(f"problem: {count} more {kind} not shown", err=True)


@click.group("archive", context_settings={"help_option_names": ["-h", "--help"]})
def archive_group() -> None:
    """Verify, read, replay, export and sync archives written by ssmd-archiver."""
    setup_logging()


@archive_group.command()
@click.argument("path", type=click.Path())
@click.option("--date", help="Only this day (YYYY-MM-DD).")
@click.option("--feed", help="Only this feed.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report for scripts.")
def verify(path: str, date: str | None, feed: str | None, as_json: bool) -> None:
    """Prove the archive is complete: every file against its manifest, gaps, strays, duplicates. Exit 1 on any
    problem."""
    from ssmd.archive._table import table
    from ssmd.archive.verify import verify as run
    from ssmd.coverage.text import summary as coverage_summary

    try:
        report = run(path, date=date, feed=feed, show_progress=not as_json)
    except ArchiveError as exc:
        fail(str(exc))
    if as_json:
        click.echo(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        rows = [[d.date, d.feed, d.files, d.records, d.bytes, d.gaps, sum(d.problem_counts.values()),
                 "ok" if d.ok else "PROBLEMS"] for d in report.days]
        click.echo(table(["DATE", "FEED", "FILES", "RECORDS", "BYTES", "GAPS", "PROBLEMS", "STATUS"], rows))
        for day in report.days:
            for problem in day.problems:
                click.echo(f"  {problem}")
            for kind, count in sorted(day.problem_counts.items()):
                shown = sum(1 for p in day.problems if p.kind == kind)
                if count > shown:
                    click.echo(f"  {day.feed}/{day.date}: {kind}: {count - shown} more not shown")
            for name in day.open_files:
                click.echo(f"  {day.feed}/{day.date}/{name}: open (being written), not checked")
        if report.coverage is not None:
            click.echo(coverage_summary(report.coverage))
        totals = report.totals()
        verdict = "OK" if report.ok else f"FAILED: {totals['problems']} problem(s)"
        click.echo(f"{verdict}: {totals['days']} day(s), {totals['files']} file(s), {totals['records']:,} records")
    if not report.ok:
        sys.exit(1)


@archive_group.command()
@click.argument("path", type=click.Path())
@_filters
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many frames.")
def cat(path: str, feed: str | None, start: str | None, end: str | None, types: str | None, tickers: str | None,
        ignore_problems: bool, limit: int | None) -> None:
    """Print matching frames as JSON lines, exactly as the exchange sent them."""
    out = sys.stdout.buffer
    count = 0
    reader = _open(path, feed, start, end, types, tickers)
    try:
        for frame in reader:
            out.write(frame.raw + b"\n")
            count += 1
            if limit is not None and count >= limit:
                break
        out.flush()
    except BrokenPipeError:  # `ssmd archive cat ... | head`: the reader left, as the Python docs advise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    _verdict(reader.problems, ignore_problems)


@archive_group.command()
@click.argument("path", type=click.Path())
@_filters
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True, help="Tickers to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def stats(path: str, feed: str | None, start: str | None, end: str | None, types: str | None,
          tickers: str | None, ignore_problems: bool, top: int, as_json: bool) -> None:
    """Counts by message type, ticker and UTC hour."""
    from ssmd.archive._table import table
    from ssmd.archive.stats import collect

    reader = _open(path, feed, start, end, types, tickers)
    result = collect(reader)
    if as_json:
        click.echo(orjson.dumps({**result.to_json(top), "problems": reader.problems.counts},
                                option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(f"{result.frames:,} frames, {len(result.by_type)} types, {len(result.by_ticker):,} tickers\n")
        click.echo(table(["TYPE", "FRAMES"], result.by_type.most_common()) + "\n")
        click.echo(table(["TICKER", "FRAMES"], result.by_ticker.most_common(top)) + "\n")
        click.echo(table(["HOUR (UTC)", "FRAMES"], sorted(result.by_hour.items())))
    _verdict(reader.problems, ignore_problems, "the counts lack that data")


@archive_group.command()
@click.argument("path", type=click.Path())
@click.option("--env", "env_path", required=True, type=click.Path(), help="Environment file (NATS URL, names).")
@click.option("--speed", default="max", show_default=True,
              help="1 = original pacing by frame time, 10 = ten times faster, max = as fast as acks allow.")
@click.option("--subject-prefix", help="Publish under this prefix instead of the environment's ({env}.{feed}).")
@click.option("--stream", help="Stream to publish into (created if missing; default from env or prefix).")
@_filters
def replay(path: str, env_path: str, speed: str, subject_prefix: str | None, stream: str | None,
           feed: str | None, start: str | None, end: str | None, types: str | None, tickers: str | None,
           ignore_problems: bool) -> None:
    """Republish frames to JetStream on the live subject mapping, with acks, for backtests or to rebuild a
    stream."""
    import asyncio

    from ssmd.archive.replay import ReplayError, parse_speed, run_replay
    from ssmd.bus.connect import NatsUnavailable
    from ssmd.config import ConfigError, load_environment

    try:
        env = load_environment(env_path, os.environ)
        factor = parse_speed(speed)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    frames = _open(path, feed, start, end, types, tickers)
    try:
        summary = asyncio.run(run_replay(frames, env, speed=factor, subject_prefix=subject_prefix, stream=stream))
    except NatsUnavailable as exc:
        fail(str(exc))
    except (ReplayError, ArchiveError) as exc:
        fail(str(exc), EXIT_FAILURE)
    click.echo(orjson.dumps({**summary, "problems": frames.problems.counts}).decode())
    _verdict(frames.problems, ignore_problems, "those frames were not replayed")
    if summary["failed"]:
        sys.exit(1)


@archive_group.command()
@click.argument("path", type=click.Path())
@click.option("--to", "fmt", type=click.Choice(["parquet", "csv"]), required=True, help="Output format.")
@click.argument("out", type=click.Path())
@_filters
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("--incremental", is_flag=True, help="Add only archive files OUT has not exported yet (for cron).")
@click.option("--book-depth", type=click.IntRange(min=1), default=10, show_default=True,
              help="Levels per side in the book_top table.")
@click.option("--book-interval", help="book_top on a time grid (1s, 500ms, 1m) instead of after every change.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Archive files decoded at once, on threads (output is the same).")
def export(path: str, fmt: str, out: str, feed: str | None, start: str | None, end: str | None,
           types: str | None, tickers: str | None, ignore_problems: bool, overwrite: bool, incremental: bool,
           book_depth: int, book_interval: str | None, jobs: int) -> None:
    """Write typed tables (one per message type, plus book_top, partitioned by date) to OUT. Prices are
    dollars. If parts of the archive cannot be read, nothing is written unless --ignore-problems is given."""
    try:
        from ssmd.archive.export import ExportError, parse_interval_ms, run_export
    except ImportError as exc:
        fail(f"export needs pyarrow and duckdb: pip install 'ssmd[parquet]' ({exc})")

    try:
        interval_ms = parse_interval_ms(book_interval) if book_interval is not None else None
    except ValueError as exc:
        fail(f"--book-interval: {exc}")
    problems = Problems(on_problem=_print_problem)
    unchanged = f"{out} is unchanged" if incremental else f"nothing was written to {out}"
    try:
        summary = run_export(path, out, fmt=fmt, overwrite=overwrite, incremental=incremental, feed=feed,
                             start=start, end=end, types=types, tickers=tickers, book_depth=book_depth,
                             book_interval_ms=interval_ms, jobs=jobs, problems=problems,
                             ignore_problems=ignore_problems)
    except ExportError as exc:
        fail(str(exc))
    except ArchiveProblems:
        _reject(problems, unchanged)
    except ArchiveError as exc:
        fail(f"{exc}; {unchanged}", EXIT_FAILURE)
    click.echo(orjson.dumps({**summary, "problems": problems.counts}).decode())
    _verdict(problems, ignore_problems, f"{out} lacks that data")


@archive_group.command()
@click.argument("out", type=click.Path())
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="Output: an aligned table, CSV with a header, or one JSON object per line.")
def sql(out: str, query: str, fmt: str) -> None:
    """Run DuckDB SQL over an export: every table of OUT is a view (trades, tickers, book_top, ...)."""
    from ssmd.archive.sql import SqlError, run_sql

    try:
        text = run_sql(out, query, fmt)
    except SqlError as exc:
        fail(str(exc))
    click.echo(text, nl=not text.endswith("\n"))


@archive_group.command()
@click.argument("path", type=click.Path())
@click.argument("dest")
@click.option("--feed", help="Only this feed.")
@click.option("--prune-after", type=click.IntRange(min=0), metavar="DAYS",
              help="Delete local days older than DAYS once every file of the day is verified remotely.")
@click.option("--endpoint-url", help="Object store endpoint (S3-compatible or GCS emulator).")
@click.option("--storage-option", "storage_options", multiple=True, metavar="KEY=VALUE",
              help="Extra fsspec option for the destination (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def sync(path: str, dest: str, feed: str | None, prune_after: int | None, endpoint_url: str | None,
         storage_options: tuple[str, ...], as_json: bool) -> None:
    """Upload closed files and manifests to DEST (gs://, s3://, file://); safe to rerun."""
    from ssmd.archive.sync import SyncError, parse_options, run_sync

    try:
        options = parse_options(storage_options, endpoint_url, dest)
        summary = run_sync(path, dest, feed=feed, prune_after_days=prune_after, storage_options=options)
    except (ArchiveError, ValueError) as exc:
        fail(str(exc))
    except SyncError as exc:
        fail(str(exc), EXIT_FAILURE)
    click.echo(orjson.dumps(summary).decode() if as_json else
               f"sync {dest}: {summary['uploaded']} uploaded, {summary['skipped']} unchanged, "
               f"{summary['pruned_days']} day(s) pruned")
    if summary.get("failed"):
        sys.exit(1)


archive_group.add_command(coverage)
