"""The ``ssmd`` command line. Each component registers its own commands in ``ssmd.<component>.cli``.

Subcommand modules are imported only when used, so ``ssmd validate`` does not pay for the simulator's imports.
"""

from __future__ import annotations

import importlib
import sys

import click

from ssmd import __version__

# name -> "module:attribute" of a click command or group
LAZY_COMMANDS: dict[str, str] = {
    "validate": "ssmd.config.cli:validate",
    "nats": "ssmd.bus.cli:nats_group",
    "stream": "ssmd.bus.cli:stream_group",
    "sim": "ssmd.sim.cli:sim_group",
    "connector": "ssmd.connector.cli:connector",
    "archiver": "ssmd.archiver.cli:archiver",
    "archive": "ssmd.archive.cli:archive_group",
    "agent": "ssmd.agent.cli:agent_group",
    "up": "ssmd.up.cli:up",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module_name, attr = LAZY_COMMANDS[name].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ssmd")
def cli() -> None:
    """ssmd: capture Kalshi market data into NATS JetStream and verifiable archives."""


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="ssmd")


def _alias(command: str) -> None:
    ctx = click.Context(cli)
    sub = cli.get_command(ctx, command)
    assert sub is not None, command
    sub.main(args=sys.argv[1:], prog_name=f"ssmd-{command}")


def connector_main() -> None:
    """``ssmd-connector`` = ``ssmd connector`` (the name the deployment guide uses)."""
    _alias("connector")


def archiver_main() -> None:
    """``ssmd-archiver`` = ``ssmd archiver``."""
    _alias("archiver")


def agent_main() -> None:
    """``ssmd-agent`` = ``ssmd agent run``-style entry point; see ``ssmd.agent.cli``."""
    _alias("agent")
