"""Public name of :mod:`ssmd.archive_format.problems` (what can be wrong with an archive), kept because
``ssmd.archive.open``'s users catch and inspect these."""

from ssmd.archive_format.problems import (
    BAD_GZIP,
    BAD_LINE,
    MANIFEST_INVALID,
    MAX_DETAILS,
    MISSING_FILE,
    RECORDS_MISMATCH,
    SHA256_MISMATCH,
    SIZE_MISMATCH,
    TORN_LINE,
    UNREADABLE_FILE,
    ArchiveError,
    ArchiveProblems,
    Problem,
    Problems,
    Report,
    compare,
)

__all__ = ["BAD_GZIP", "BAD_LINE", "MANIFEST_INVALID", "MAX_DETAILS", "MISSING_FILE", "RECORDS_MISMATCH",
           "SHA256_MISMATCH", "SIZE_MISMATCH", "TORN_LINE", "UNREADABLE_FILE", "ArchiveError", "ArchiveProblems",
           "Problem", "Problems", "Report", "compare"]
