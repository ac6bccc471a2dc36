"""``ssmd archive coverage PATH``: the windows in which no instance was subscribed, and each instance's own.

Exit codes: 0 no gaps, 1 gaps (or parts of the archive could not be read: the ledger may then be wrong, each
problem is printed), 2 bad input (not an archive, a bad option, no coverage events at all, an unwritable --html).
Registered on the ``ssmd archive`` group; everything but click is imported when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ssmd.runtime.process import fail as _fail


@click.command("coverage")
@click.argument("path", type=click.Path())
@click.option("--feed", help="Feed directory under the archive root (default: all).")
@click.option("--start", help="Report from this UTC time (YYYY-MM-DD or ISO time; default: the first event).")
@click.option("--end", help="Report until this UTC time; a bare date includes that day (default: the last event).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (key \"gaps\") for scripts.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also draw the report as one self-contained HTML page.")
@click.option("--grace", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Count a silent instance as capturing this long after its last event "
                   "(default: two of its heartbeat intervals; less than one interval makes every instance flap).")
def coverage(path: str, feed: str | None, start: str | None, end: str | None, as_json: bool,
             html_path: str | None, grace: float | None) -> None:
    """When each connector instance captured each channel, and the gaps: windows in which no instance was
    subscribed, with their causes, what was backfilled and what is lost. Exit 1 if there are gaps."""
    import orjson

    from ssmd.archive._window import to_ms
    from ssmd.archive.problems import ArchiveError, Problem
    from ssmd.coverage import html, text
    from ssmd.coverage.source import load

    try:
        start_ms = to_ms(start)
    except ValueError as exc:
        _fail(f"--start: {exc}")
    try:
        end_ms = to_ms(end, is_end=True)
    except ValueError as exc:
        _fail(f"--end: {exc}")
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        _fail(f"--end {end} must be after --start {start}")

    def show(problem: Problem) -> None:
        click.echo(f"problem: {problem}", err=True)

    try:
        collector, problems = load(path, feed=feed, on_problem=show)
    except ArchiveError as exc:
        _fail(str(exc))
    if not collector.events:
        _fail(f"{path}: no coverage events (lines starting {{\"ssmd_coverage\":) in this archive"
              f"{f' for feed {feed}' if feed else ''}: nothing is known about what was captured when")
    report = collector.report(start_ms, end_ms, int(grace * 1000) if grace else None)
    if html_path is not None:
        _write(Path(html_path), html.render(report))
    if as_json:
        click.echo(orjson.dumps({**report.to_json(), "problems": problems.counts},
                                option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(text.render(report))
    if problems:
        click.echo(f"warning: {problems.summary()}: coverage events there are missing or "
                   f"unusable, so the report may be wrong around them", err=True)
    if report.gaps or problems:
        sys.exit(1)


def _write(path: Path, page: str) -> None:
    """Whole or not at all: a temporary file next to ``path``, then a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        _fail(f"--html {path}: cannot write: {exc.strerror or exc}")
