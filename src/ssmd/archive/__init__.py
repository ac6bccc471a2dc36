"""The archive as a dataset: read, verify, replay, export and sync what the archiver wrote.

``ssmd.archive.open(path, ...)`` yields :class:`ArchiveFrame` objects; the ``ssmd archive`` commands are in
:mod:`ssmd.archive.cli`. The layout and manifest contract is docs/archive-format.md; what can be wrong with an
archive, and how readers report it, is :mod:`ssmd.archive.problems`.
"""

from ssmd.archive.problems import ArchiveError, ArchiveProblems, Problem, Problems
from ssmd.archive.reader import ArchiveFrame, ArchiveReader, open

__all__ = ["ArchiveError", "ArchiveFrame", "ArchiveProblems", "ArchiveReader", "Problem", "Problems", "open"]
