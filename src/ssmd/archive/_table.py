"""Plain aligned text tables for people; scripts use ``--json``."""

from __future__ import annotations

from collections.abc import Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in cells:
        lines.append("  ".join(_align(v, w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def _align(text: str, width: int) -> str:
    numeric = text.replace(",", "").replace(".", "").isdigit()
    return text.rjust(width) if numeric else text.ljust(width)
