"""``ssmd sim``: the exchange stand-ins. Each feed's simulator lives in its own package; adding one is one line
in :data:`SIMULATORS` (imported only when used, so ``ssmd sim kalshi`` does not load another feed's code)."""

from __future__ import annotations

import importlib
import importlib.util

import click

SIMULATORS: dict[str, str] = {
    "kalshi": "ssmd.kalshi.sim.cli:kalshi",
    "keygen": "ssmd.kalshi.sim.cli:keygen",
    "polymarket": "ssmd.polymarket.sim.cli:polymarket",
}
"""Subcommand -> ``module:attribute`` of its click command."""


class _SimGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *(n for n in SIMULATORS if _installed(n))})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = SIMULATORS.get(name)
        if target is None or not _installed(name):
            return super().get_command(ctx, name)
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


def _installed(name: str) -> bool:
    """Whether the simulator's package is there (a feed registered before its package lands is left out)."""
    try:
        return importlib.util.find_spec(SIMULATORS[name].split(":")[0]) is not None
    except ModuleNotFoundError:
        return False


sim_group = _SimGroup("sim", help="Stand-ins for the outside world (exchanges: ssmd sim kalshi, ...).")
