"""The coverage report as one self-contained HTML page: inline CSS and SVG, no scripts, no external assets, so it
can be mailed, archived or opened offline. Rows are instance x channel, the x axis is time; green is captured,
red bands are gaps (nobody captured), blue ticks are backfills, black ticks are incidents."""

from __future__ import annotations

from html import escape

from ssmd.coverage.ledger import CoverageReport, label, rfc3339
from ssmd.coverage.text import gap_lines

WIDTH = 1000
LEFT = 260
ROW = 22
TOP = 30

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px} .ok{color:#1a7f37} .bad{color:#c62828}
svg text{font-size:11px;font-family:ui-monospace,monospace}
pre{background:#f6f8fa;padding:8px;overflow:auto}
"""


def render(report: CoverageReport) -> str:
    span = max(report.end_ms - report.start_ms, 1)

    def x(ms: int) -> float:
        return LEFT + (min(max(ms, report.start_ms), report.end_ms) - report.start_ms) * (WIDTH - LEFT) / span

    rows = [(name, unit) for name, cov in sorted(report.instances.items()) for unit in sorted(cov.windows)]
    height = TOP + ROW * max(len(rows), 1) + 30
    svg: list[str] = [f'<svg width="{WIDTH + 20}" height="{height}" '
                      f'role="img" aria-label="coverage timeline">']
    for gap in report.gaps:
        svg.append(f'<rect class="gap" x="{x(gap.start_ms):.1f}" y="{TOP - 6}" '
                   f'width="{max(x(gap.end_ms) - x(gap.start_ms), 1):.1f}" height="{ROW * len(rows) + 6}" '
                   f'fill="#e53935" fill-opacity="0.35"><title>gap {escape(rfc3339(gap.start_ms))} .. '
                   f'{escape(rfc3339(gap.end_ms))}</title></rect>')
    for index, (name, unit) in enumerate(rows):
        y = TOP + index * ROW
        svg.append(f'<text x="4" y="{y + 14}">{escape(name)} {escape(label(unit))}</text>')
        svg.append(f'<rect x="{LEFT}" y="{y + 3}" width="{WIDTH - LEFT}" height="{ROW - 8}" fill="#eee"/>')
        for a, b in report.instances[name].windows[unit]:
            svg.append(f'<rect class="window" x="{x(a):.1f}" y="{y + 3}" width="{max(x(b) - x(a), 1):.1f}" '
                       f'height="{ROW - 8}" fill="#43a047"><title>{escape(rfc3339(a))} .. {escape(rfc3339(b))}'
                       f'</title></rect>')
        for event in report.instances[name].incidents:
            if event.channel not in (None, unit[1]) or event.feed != unit[0]:
                continue
            color = "#1e88e5" if event.event == "backfill" else "#000"
            tip = f"{event.event} {rfc3339(event.at_ms)} {event.cause or ''}"
            if event.event == "backfill" and event.start_ms is not None and event.end_ms is not None:
                svg.append(f'<rect class="backfill" x="{x(event.start_ms):.1f}" y="{y + ROW - 6}" '
                           f'width="{max(x(event.end_ms) - x(event.start_ms), 2):.1f}" height="4" fill="{color}">'
                           f'<title>backfill {event.count} frames {escape(rfc3339(event.start_ms))} .. '
                           f'{escape(rfc3339(event.end_ms))}</title></rect>')
            else:
                svg.append(f'<rect class="incident" x="{x(event.at_ms) - 1:.1f}" y="{y + 1}" width="2" '
                           f'height="{ROW - 4}" fill="{color}"><title>{escape(tip)}</title></rect>')
    axis = TOP + ROW * max(len(rows), 1) + 14
    svg.append(f'<text x="{LEFT}" y="{axis}">{escape(rfc3339(report.start_ms))}</text>')
    svg.append(f'<text x="{WIDTH}" y="{axis}" text-anchor="end">{escape(rfc3339(report.end_ms))}</text>')
    svg.append("</svg>")
    verdict = (f'<p class="bad">{len(report.gaps)} gap(s): windows in which no instance was subscribed</p>'
               if report.gaps else '<p class="ok">No gaps: every wanted channel was always captured.</p>')
    details = "\n".join(escape(line) for gap in report.gaps for line in gap_lines(gap))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>ssmd coverage</title>'
            f"<style>{_CSS}</style></head><body>"
            f"<h1>ssmd coverage {escape(rfc3339(report.start_ms))} .. {escape(rfc3339(report.end_ms))}</h1>"
            f"{verdict}{''.join(svg)}"
            f"<p>green: subscribed &middot; red: no instance subscribed &middot; blue: backfilled window "
            f"&middot; black: incident (disconnect, stall, seq gap, re-snapshot)</p>"
            f"{f'<pre>{details}</pre>' if details else ''}</body></html>\n")
