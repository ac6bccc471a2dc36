"""Coverage events out of an archive (they are archived with the data: see :mod:`ssmd.coverage.events`).

The whole archive is read, not only from ``--start``: whether an instance was subscribed at ``start`` depends on
events before it. Only lines starting with the marker are parsed; data frames cost one prefix test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import ssmd.archive
from ssmd.archive import Problem, Problems
from ssmd.coverage.collect import EventCollector


def load(path: str | Path, feed: str | None = None,
         on_problem: Callable[[Problem], Any] | None = None) -> tuple[EventCollector, Problems]:
    """Every coverage event under ``path`` (root, feed, day or file), and the archive's problems (bad events
    included; each also passed to ``on_problem`` as found). :class:`ssmd.archive.ArchiveError` for a path that is
    not an archive."""
    reader = ssmd.archive.open(path, feed=feed, ignore_problems=True, on_problem=on_problem or _quiet)
    collector = EventCollector(reader.problems.add)
    for frame in reader:
        collector.offer(frame.raw, f"{'/'.join(Path(frame.file).parts[-3:])}:{frame.line}")  # as verify names it
    return collector, reader.problems


def _quiet(problem: Problem) -> None:
    """Problems are returned to the caller, who decides how to show them."""
