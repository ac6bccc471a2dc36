"""``--replay``: play archived frames (docs/archive-format.md) as the live feed, with their original spacing.

Each archived frame is re-addressed to every subscriber that wants it: its ``sid``/``seq`` are the subscriber's,
its ``msg`` is the archived one. Spacing follows ``msg.ts_ms``/``ts`` divided by ``--speed``; frames with no
timestamp follow the previous one at once. Playback waits for the first subscriber. Lines that are not JSON
frames are sent as they are, to every session
with a subscription (they were data on the original connection too).
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ssmd.kalshi.frames import frame_time_ms
from ssmd.sim.markets import LIFECYCLE, ORDERBOOK, TICKER, TRADE, Event

if TYPE_CHECKING:
    from ssmd.sim.server import SimServer

CHANNEL_OF = {
    "ticker": TICKER, "ticker_v2": TICKER, "trade": TRADE, "orderbook_snapshot": ORDERBOOK,
    "orderbook_delta": ORDERBOOK, "market_lifecycle_v2": LIFECYCLE, "event_lifecycle": LIFECYCLE,
    "event_fee_update": LIFECYCLE,
}
BATCH = 2000
"""Frames read per blocking file read (done off the event loop)."""


def archive_files(source: Path) -> list[Path]:
    """A single file, or every ``*.jsonl.gz`` under a directory in name order (= time order by layout)."""
    if source.is_file():
        return [source]
    return sorted(source.rglob("*.jsonl.gz"))


def _lines(files: list[Path]) -> Iterator[bytes]:
    for path in files:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                line = line.rstrip(b"\n")
                if line:
                    yield line


def _frame(line: bytes) -> tuple[dict[str, Any] | None, bytes]:
    """Parse one archive line; envelope lines (``{"subject", "data", ...}``) yield their ``data``."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, line
    if isinstance(obj, dict) and "data" in obj and "subject" in obj:
        data = obj["data"]
        if isinstance(data, str):
            return _frame(data.encode())
        obj = data
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        return None, line
    return obj, line


def to_event(obj: dict[str, Any]) -> Event | None:
    channel = CHANNEL_OF.get(obj["type"])
    msg = obj.get("msg")
    if channel is None or not isinstance(msg, dict):
        return None
    ticker = msg.get("market_ticker") or msg.get("event_ticker") or msg.get("series_ticker") or ""
    return Event(channel, obj["type"], str(ticker), orjson.dumps(msg))


async def replay(server: SimServer, source: Path, speed: float | None) -> None:
    """Play ``source`` once. Playback starts when the first subscription exists: a replay nobody hears is lost."""
    await server.first_subscription.wait()
    files = archive_files(Path(source))
    lines = _lines(files)
    loop = asyncio.get_running_loop()
    wall0: float | None = None
    ts0: int | None = None
    while True:
        batch = await asyncio.to_thread(lambda: [line for _, line in zip(range(BATCH), lines, strict=False)])
        if not batch:
            break
        pending: list[Event] = []
        for line in batch:
            while server.paused or server.stalled:
                server.dispatch(pending)
                pending = []
                await asyncio.sleep(0.05)
                wall0 = None  # restart the clock after a pause
            obj, raw = _frame(line)
            if obj is None:
                server.dispatch(pending)
                pending = []
                for session in list(server.sessions):
                    if session.subs:
                        session.deliver_raw(raw)
                        session.flush()
                continue
            ev = to_event(obj)
            if ev is None:
                continue
            if ev.ticker:
                server.replay_tickers.add(ev.ticker)
            ts = frame_time_ms(obj) if speed is not None else None
            if ts is not None:
                if wall0 is None or ts0 is None:
                    wall0, ts0 = loop.time(), ts
                wait = wall0 + (ts - ts0) / 1000 / speed - loop.time()  # type: ignore[operator]
                if wait > 0.002:
                    server.dispatch(pending)
                    pending = []
                    await asyncio.sleep(wait)
            pending.append(ev)
            if len(pending) >= 500:
                server.dispatch(pending)
                pending = []
                await asyncio.sleep(0)
        server.dispatch(pending)
    server.stats["replay_done"] = True
