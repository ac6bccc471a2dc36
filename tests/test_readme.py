"""The README's examples run: docs that drift from the code are defects too."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import click
from click.testing import CliRunner

from ssmd.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_dataframe_example_runs(tmp_path: Path, samples_path: Path) -> None:
    """The archive → DataFrame snippet runs as printed (on the genuine sample frames) and yields every trade."""
    archive = tmp_path / "sample.jsonl.gz"
    archive.write_bytes(gzip.compress(samples_path.read_bytes()))
    (snippet,) = [b for b in _blocks("python") if "ssmd.archive.open" in b]
    scope: dict[str, object] = {}
    exec(snippet.replace('"data/demo/archive"', repr(str(archive))), scope)
    df = scope["df"]
    trades = samples_path.read_bytes().count(b'"type":"trade"')
    assert len(df) == trades > 0  # type: ignore[arg-type]
    assert set(df.columns) == {"ts_ms", "ticker", "price", "count", "side"}  # type: ignore[attr-defined]


def test_readme_commands_exist() -> None:
    """Every `ssmd ...` command and service alias the README shows is real (its --help exits 0)."""
    text = "\n".join(_blocks("bash"))
    invocations = {(m[0], m[1]) for m in re.findall(r"(?:^|[\s;&|(])ssmd ([a-z]+)(?: ([a-z]+))?", text)}
    invocations |= {(m, "") for m in re.findall(r"\bssmd-(connector|archiver|agent)\b", text)}
    assert {("archive", "verify"), ("connector", ""), ("agent", "")} <= invocations
    runner = CliRunner()
    for first, second in sorted(invocations):
        command = cli.get_command(click.Context(cli), first)
        assert command is not None, first
        argv = [first, second] if second and isinstance(command, click.Group) else [first]
        result = runner.invoke(cli, [*argv, "--help"])
        assert result.exit_code == 0, (argv, result.output)
