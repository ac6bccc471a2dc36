"""The live status line: counters read from each service's /metrics and the simulator's /_sim/stats."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from ssmd.runtime.http import metric_total
from ssmd.up.pipeline import Plan, metrics_url


@dataclass
class Snapshot:
    at: float = 0.0
    sent: float | None = None
    received: float | None = None
    published: float | None = None
    buffered: float | None = None
    archived: float | None = None
    lag: float | None = None
    gaps: float | None = None
    fires: float | None = None
    files: int = 0
    errors: dict[str, str] = field(default_factory=dict)


class Probe:
    """Reads every counter the status line and the summary show; a service that does not answer is noted."""

    def __init__(self, plan: Plan, session: aiohttp.ClientSession) -> None:
        self.plan = plan
        self.session = session
        self._sent = LineCounter(plan.sent_log) if plan.sent_log is not None else None

    async def _metrics(self, name: str, url: str | None) -> tuple[str, str | None]:
        """The service's /metrics text, or ``None`` when it does not answer."""
        if url is None:
            return name, None
        try:
            async with self.session.get(url) as resp:
                return name, await resp.text() if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError):
            return name, None

    async def snapshot(self) -> Snapshot:
        plan = self.plan
        results = await asyncio.gather(
            self._metrics("connector", metrics_url(plan.connector)),
            self._metrics("archiver", metrics_url(plan.archiver)),
            self._metrics("agent", metrics_url(plan.agent)),
            asyncio.to_thread(self._count_sent),
            asyncio.to_thread(count_files, plan.archive_root),
        )
        by_name = dict(results[:3])
        snap = Snapshot(at=time.monotonic(), files=results[4])
        for name, samples in by_name.items():
            if samples is None:
                snap.errors[name] = "no /metrics"
        connector = by_name["connector"] or ""
        archiver = by_name["archiver"] or ""
        agent = by_name["agent"] or ""
        snap.received = metric_total(connector, "ssmd_connector_frames_received")
        snap.published = metric_total(connector, "ssmd_connector_frames_published")
        snap.buffered = metric_total(connector, "ssmd_connector_buffered_frames")
        snap.archived = metric_total(archiver, "ssmd_archiver_messages")
        snap.lag = metric_total(archiver, "ssmd_archiver_consumer_lag")
        snap.gaps = metric_total(archiver, "ssmd_archiver_gaps")
        snap.fires = metric_total(agent, "ssmd_agent_fires")
        snap.sent = results[3]
        return snap

    def _count_sent(self) -> float | None:
        return float(self._sent.count()) if self._sent is not None else None


class LineCounter:
    """Counts the simulator's sent-log lines incrementally (the log only grows), so a long demo stays cheap."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def count(self) -> int:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                while chunk := fh.read(1 << 20):
                    self.lines += chunk.count(b"\n")
                    self.offset += len(chunk)
        except FileNotFoundError:
            pass
        return self.lines


def count_files(root: Path) -> int:
    """Closed archive files (``.jsonl.gz``; the open ``.tmp`` file is not counted)."""
    return sum(1 for _ in root.rglob("*.jsonl.gz")) if root.exists() else 0


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def line(prev: Snapshot | None, cur: Snapshot, elapsed_s: float, restarts: int) -> str:
    """``[00:35] in 212/s | sent 7,431 | published 7,423 | archived 7,400 | lag 23 | fires 12 | files 3``."""
    rate = "-"
    if prev is not None and prev.received is not None and cur.received is not None and cur.at > prev.at:
        rate = f"{(cur.received - prev.received) / (cur.at - prev.at):,.0f}/s"
    minutes, seconds = divmod(int(elapsed_s), 60)
    parts = [f"[{minutes:02d}:{seconds:02d}] in {rate}"]
    if cur.sent is not None:
        parts.append(f"sent {_n(cur.sent)}")
    parts += [f"published {_n(cur.published)}", f"archived {_n(cur.archived)}", f"lag {_n(cur.lag)}",
              f"fires {_n(cur.fires)}", f"files {cur.files}"]
    if cur.gaps:
        parts.append(f"GAPS {_n(cur.gaps)}")
    if restarts:
        parts.append(f"restarts {restarts}")
    if cur.errors:
        parts.append("down: " + ",".join(sorted(cur.errors)))
    return " | ".join(parts)
