"""``ssmd validate PATH...``."""

from __future__ import annotations

import sys

import click

from ssmd.config.validate import validate_paths


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--quiet", "-q", is_flag=True, help="Print only files with problems.")
def validate(paths: tuple[str, ...], quiet: bool) -> None:
    """Check feed, environment and archiver files (or folders of them, or Kubernetes manifests).

    Multi-document files (kubectl kustomize output) are read document by document; ConfigMap keys are checked
    and the ssmd files inside them validated. Prints one line per file and, for each problem, the field and
    what was expected. Exit 1 on any error.
    """
    results = validate_paths(paths)
    if not results:
        click.echo(f"no YAML files (*.yaml, *.yml) under {', '.join(paths)}: nothing was checked")
        sys.exit(1)
    errors = 0
    for result in results:
        if result.kind is None and result.ok:
            if not quiet:
                click.echo(f"- {result.source} (not an ssmd config file, skipped)")
            continue
        if result.ok:
            if not quiet:
                click.echo(f"✓ {result.source} ({result.kind})")
            for key in result.warnings:
                click.echo(f"    warning: {key}: unknown key, ignored")
            continue
        errors += len(result.errors)
        click.echo(f"✗ {result.source}" + (f" ({result.kind})" if result.kind else ""))
        for problem in result.errors:
            click.echo(f"    {problem.where}: {problem.message}")
    checked = sum(1 for r in results if r.kind is not None or not r.ok)
    if errors:
        click.echo(f"{errors} error(s) in {checked} file(s)")
        sys.exit(1)
    click.echo(f"all {checked} file(s) valid")
