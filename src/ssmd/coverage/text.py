"""The coverage report as text, for a terminal (``ssmd archive coverage``) and ``verify``'s summary."""

from __future__ import annotations

from ssmd.coverage.ledger import CoverageReport, Gap, label, rfc3339


def gap_lines(gap: Gap) -> list[str]:
    """A gap in a few lines: when, which channels, why, what was fetched again and what is lost."""
    channels = ", ".join(f"{label(c.unit)} ({c.markets.describe()})" for c in gap.channels)
    lines = [f"{rfc3339(gap.start_ms)} .. {rfc3339(gap.end_ms)} ({gap.seconds:g} s): not captured: {channels}"]
    lines += [f"  cause: {cause.describe()}" for cause in gap.causes] or ["  cause: unknown (no loss recorded)"]
    for item in gap.recovered():
        state = "complete" if item["complete"] else "partly"
        lines.append(f"  recovered ({state}): {item['count']} {item['feed']}/{item['channel']} frames backfilled")
    lost = ", ".join(label(u) for u in gap.unrecovered())
    if lost:
        lines.append(f"  cannot be recovered: {lost} frames of this window")
    return lines


def render(report: CoverageReport) -> str:
    out = [f"coverage {rfc3339(report.start_ms)} .. {rfc3339(report.end_ms)}: {len(report.instances)} instance(s), "
           f"{len(report.units)} channel(s), {report.events} event(s)"]
    if report.gaps:
        out.append(f"GAPS: {len(report.gaps)} window(s) with no instance subscribed, "
                   f"{sum(g.seconds for g in report.gaps):g} s in all")
        for gap in report.gaps:
            out += [f"  {line}" for line in gap_lines(gap)]
    else:
        out.append("no gaps: at every moment at least one instance was subscribed to every wanted channel")
    out.append("INSTANCES")
    for name, cov in sorted(report.instances.items()):
        out.append(f"  {name} ({len(cov.runs)} run(s), {len(cov.incidents)} incident(s))")
        for unit, spans in sorted(cov.windows.items()):
            shown = ", ".join(f"{rfc3339(a)}..{rfc3339(b)}" for a, b in spans)
            out.append(f"    {label(unit)}: {shown}")
    return "\n".join(out)


def summary(report: CoverageReport) -> str:
    """``verify``'s coverage lines: gaps are reported there, not counted as problems (the archive holds what
    was captured; the gaps say what was not)."""
    if not report.gaps:
        return f"coverage: no gaps ({len(report.instances)} instance(s), {len(report.units)} channel(s))"
    total = sum(g.seconds for g in report.gaps)
    lines = [f"coverage: {len(report.gaps)} gap(s) with no instance subscribed, {total:g} s in all "
             f"(details: ssmd archive coverage)"]
    return "\n".join(lines + [f"  {line}" for gap in report.gaps for line in gap_lines(gap)])
