"""Coverage ledger: which connector instance captured which channel when, and the gaps where none did.

- :mod:`ssmd.coverage.events`: the event (schema, subject, the marker readers skip on), one home.
- :class:`CoverageRecorder`: what a connector calls; it publishes through the connector's own publisher.
- :mod:`ssmd.coverage.ledger`: events -> per-instance windows and gaps (with causes and backfills);
  :func:`uncovered_seconds` for a gauge.
- :mod:`ssmd.coverage.source`: events out of an archive; ``ssmd archive coverage`` is :mod:`ssmd.coverage.cli`.

See docs/coverage.md for the model and its limits.
"""

from ssmd.coverage.events import MARKER, CoverageEvent, coverage_subject, is_coverage
from ssmd.coverage.ledger import CoverageReport, Gap, build, uncovered_seconds
from ssmd.coverage.recorder import CoverageRecorder

__all__ = ["MARKER", "CoverageEvent", "CoverageRecorder", "CoverageReport", "Gap", "build", "coverage_subject",
           "is_coverage", "uncovered_seconds"]
