"""``--replay``: play archived frames (docs/archive-format.md) as the live feed, with their original spacing.

The archive is read with ``ssmd.archive.open`` (the one reader of the format: files in archive order, ``1200_10``
after ``1200_2``; envelope lines unwrapped, ``data_b64`` included). Each archived frame is re-addressed to every
subscriber that wants it: its ``sid``/``seq`` are the subscriber's, its ``msg`` is the archived one. Spacing follows
``msg.ts_ms``/``ts`` divided by ``--speed``; frames with no timestamp follow the previous one at once. Playback
waits for the first subscriber. Frames that are not JSON data frames are sent as they are, to every session with
a subscription (they were data on the original connection too). Parts of the archive that cannot be read are
logged as warnings and skipped: a stand-in exchange keeps playing what it has.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ssmd.kalshi.frames import frame_time_ms
from ssmd.kalshi.sim.markets import LIFECYCLE, ORDERBOOK, TICKER, TRADE, Event

if TYPE_CHECKING:
    from ssmd.archive import ArchiveFrame, ArchiveReader
    from ssmd.kalshi.sim.server import SimServer

CHANNEL_OF = {
    "ticker": TICKER, "ticker_v2": TICKER, "trade": TRADE, "orderbook_snapshot": ORDERBOOK,
    "orderbook_delta": ORDERBOOK, "market_lifecycle_v2": LIFECYCLE, "event_lifecycle": LIFECYCLE,
    "event_fee_update": LIFECYCLE,
}
BATCH = 2000
"""Frames read per blocking file read (done off the event loop)."""


def open_archive(source: Path) -> ArchiveReader:
    """The frames to play: ``source`` is an archive root, feed dir, day dir or one ``.jsonl.gz`` file. Raises
    ``ssmd.archive.ArchiveError`` at once for a path that is not an archive."""
    import ssmd.archive

    return ssmd.archive.open(source, ignore_problems=True)


def _frame(frame: ArchiveFrame) -> dict[str, Any] | None:
    """The archived frame as a JSON object with a ``type``, or ``None`` for anything else (sent as it is)."""
    try:
        obj = orjson.loads(frame.raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        return None
    return obj


def to_event(obj: dict[str, Any]) -> Event | None:
    channel = CHANNEL_OF.get(obj["type"])
    msg = obj.get("msg")
    if channel is None or not isinstance(msg, dict):
        return None
    ticker = msg.get("market_ticker") or msg.get("event_ticker") or msg.get("series_ticker") or ""
    return Event(channel, obj["type"], str(ticker), orjson.dumps(msg))


async def replay(server: SimServer, frames: ArchiveReader, speed: float | None) -> None:
    """Play ``frames`` once. Playback starts when the first subscription exists: a replay nobody hears is lost."""
    await server.first_subscription.wait()
    loop = asyncio.get_running_loop()
    wall0: float | None = None
    ts0: int | None = None
    while True:
        batch = await asyncio.to_thread(lambda: list(itertools.islice(frames, BATCH)))
        if not batch:
            break
        pending: list[Event] = []
        for archived in batch:
            while server.paused or server.stalled:
                server.dispatch(pending)
                pending = []
                await asyncio.sleep(0.05)
                wall0 = None  # restart the clock after a pause
            obj = _frame(archived)
            if obj is None:
                server.dispatch(pending)
                pending = []
                for session in list(server.sessions):
                    if session.subs:
                        session.deliver_raw(archived.raw)
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
