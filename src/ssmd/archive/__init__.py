"""The archive as a dataset: read, verify, replay, export and sync what the archiver wrote.

``ssmd.archive.open(path, ...)`` yields :class:`ArchiveFrame` objects; the ``ssmd archive`` commands are in
:mod:`ssmd.archive.cli`. The layout and manifest contract is docs/archive-format.md.
"""

from ssmd.archive._layout import ArchiveError
from ssmd.archive.reader import ArchiveFrame, open

__all__ = ["ArchiveError", "ArchiveFrame", "open"]
