"""Test helpers shipped as public API (the structlog habit): real servers and real processes, never mocks.

Importing this package needs no pytest; the fixtures (``nats_server``, ``own_nats``, ``nats_cluster``, ``tiny_fs``,
``unique_name``, ``nc``) are in :mod:`ssmd.testing.pytest_plugin`, registered with
``pytest_plugins = ["ssmd.testing.pytest_plugin"]``.

- disks: :func:`tmpfs`, :func:`fill_disk` (a real file system that fills up; fixture ``tiny_fs``)
- waiting: :func:`wait_until`, :func:`wait_until_sync` (poll with a deadline, never a guessed ``sleep``)
- processes: :class:`Sim`, :class:`ConnectorProc`, :class:`ArchiverProc`, :class:`AgentProc`,
  :func:`run_ssmd`
- the agent's fires: :data:`SIGNALS`, :func:`read_fires`, :func:`fire_keys` (live against a backtest)
- capture: :class:`Setup`, :func:`write_env`, :func:`make_stream`, :func:`stream_messages`,
  :func:`drain_and_compare`, :func:`is_backfill`, :func:`expected_subject`; :func:`stream_frames` and
  :func:`coverage_filter` tell the exchange's frames from the connectors' coverage events
- archives: :func:`write_day`, :func:`write_archive`, :func:`envelope_line`, :func:`gz`, :func:`gunzip`,
  :func:`read_samples`, :func:`read_archive`, :func:`archived_lines`, :func:`sent_lines`,
  :func:`assert_archived_as_sent`
"""

from ssmd.testing._archives import (
    archived_lines,
    assert_archived_as_sent,
    envelope_line,
    gunzip,
    gz,
    read_archive,
    read_samples,
    sent_lines,
    write_archive,
    write_day,
)
from ssmd.testing._capture import (
    Setup,
    coverage_filter,
    drain_and_compare,
    expected_subject,
    is_backfill,
    make_stream,
    stream_frames,
    stream_messages,
    write_env,
)
from ssmd.testing._disk import fill_disk, tmpfs
from ssmd.testing._fires import SIGNALS, fire_keys, read_fires
from ssmd.testing._processes import UNREACHABLE_NATS_ENV, AgentProc, ArchiverProc, ConnectorProc, Sim, run_ssmd
from ssmd.testing._wait import wait_until, wait_until_sync

__all__ = [
    "SIGNALS",
    "UNREACHABLE_NATS_ENV",
    "AgentProc",
    "ArchiverProc",
    "ConnectorProc",
    "Setup",
    "Sim",
    "archived_lines",
    "assert_archived_as_sent",
    "coverage_filter",
    "drain_and_compare",
    "envelope_line",
    "expected_subject",
    "fill_disk",
    "fire_keys",
    "gunzip",
    "gz",
    "is_backfill",
    "make_stream",
    "read_archive",
    "read_fires",
    "read_samples",
    "run_ssmd",
    "sent_lines",
    "stream_frames",
    "stream_messages",
    "tmpfs",
    "wait_until",
    "wait_until_sync",
    "write_archive",
    "write_day",
    "write_env",
]
