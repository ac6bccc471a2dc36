"""The ``ssmd`` command table: every entry is a real command, and a broken entry fails loudly."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from ssmd.cli import LAZY_COMMANDS, cli


def test_every_lazy_command_resolves() -> None:
    """Each name in the table imports and is a click command; `ssmd --help` lists all of them."""
    ctx = click.Context(cli)
    for name in LAZY_COMMANDS:
        assert isinstance(cli.get_command(ctx, name), click.Command), name
    out = CliRunner().invoke(cli, ["--help"])
    assert out.exit_code == 0
    for name in LAZY_COMMANDS:
        assert f"  {name}" in out.output


def test_a_missing_module_is_an_import_error_not_a_missing_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """The "component under construction" escape hatch hid a broken entry as "No such command": now it raises."""
    monkeypatch.setitem(LAZY_COMMANDS, "ghost", "ssmd.config.ghost:ghost")
    with pytest.raises(ModuleNotFoundError, match=r"ssmd\.config\.ghost"):
        cli.get_command(click.Context(cli), "ghost")
