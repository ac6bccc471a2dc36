"""The merged view: one copy of the exchange's data out of several connections' copies (docs/redundancy.md).

Redundant connector instances publish the same exchange messages into one stream, and the archiver keeps every
copy with its origin (instance, connection). :class:`Merger` decides, line by line in archive order, which lines
the merged view shows; :func:`merge` applies it to frames. Deduplication happens here, at read time, because only
here is it authoritative: it works across files and days, beyond any JetStream duplicate window, and for frames
with no natural key. What identifies a message is the feed's business (:meth:`ssmd.feed.base.Feed.identity`):

- trades: once per trade id, whichever connection (or REST backfill) delivered it;
- order books: per market, one connection's snapshot+delta chain; the view switches to another connection only at
  a snapshot, and only when the current chain is broken (a seq gap on its sid, its connection ended, or it began
  without a snapshot), so that applying the view's book frames naively gives the exchange's book;
- everything else (tickers, lifecycle): by content, as a multiset per origin: a line is shown iff its origin has
  now sent that content more often than any other origin has, so a connection's own true duplicates stay and
  other connections' copies go;
- coverage lines are bookkeeping, not data: never shown;
- lines of unknown origin (archives written before origins, single-connection captures) are shown as they are.

Memory is bounded by time (the clock of the lines: received time where known, else the exchange's time): a content
key is forgotten between ``window_s`` and twice that after its last copy, a trade id ``trade_window_s`` after its
trade. A copy arriving later than that is shown again (for trades counted in ``stats["late"]``).
"""

from __future__ import annotations

import heapq
import mmap
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

from ssmd.archive_format.lines import FileLines
from ssmd.archive_format.members import record_origins
from ssmd.coverage.events import is_coverage
from ssmd.feed.base import Identity

Origin = tuple[str | None, str | None]
"""``(instance, connection)`` of a line (:class:`ssmd.archive_format.members.Origin`); ``None`` (or both parts
``None``) where the archive does not say."""

WINDOW_S = 600.0
"""Content keys (tickers, lifecycle) are remembered at least this long after their last copy: two live connections
deliver copies of one message within seconds, 10 minutes also covers a connector that published a backlog late."""
TRADE_WINDOW_S = 6 * 3600.0
"""Trade ids are remembered by exchange time this long: a REST backfill re-delivers trades of an outage after the
connector is back, so the window must cover the longest outage a backfill repairs (ids are few: ~100 bytes each)."""
STALE_S = 30.0
"""A connection silent this long has ended for the merge: another connection's snapshot may take its books over.
Switching at a snapshot is always correct, so a false alarm costs nothing but a switch."""


_UNKNOWN = (None, None)


def for_feed(name: str) -> Merger:
    """A merger with feed ``name``'s identity; a directory that names no known feed gets the interface's default
    (byte-identical frames of different connections are copies)."""
    from ssmd.feed.registry import get_feed

    identify: Callable[[bytes], Identity]
    try:
        identify = get_feed(name).identity
    except (KeyError, ImportError):
        identify = _content
    return Merger(identify)


def _content(raw: bytes) -> Identity:
    return Identity("other", key=raw)


class _Line(Protocol):
    @property
    def raw(self) -> bytes: ...
    @property
    def origin(self) -> Origin | None: ...
    @property
    def received_ns(self) -> int | None: ...


L = TypeVar("L", bound=_Line)


class _Chain:
    """The book chain the view follows for one market: ``origin``'s stream ``sid`` since a snapshot (``headless``:
    since a delta, the snapshot was not seen), valid while its sid's gap count is still ``gaps``."""

    __slots__ = ("broken", "gaps", "headless", "origin", "sid")

    def __init__(self, origin: Origin, sid: int | None, gaps: int, headless: bool = False) -> None:
        self.origin = origin
        self.sid = sid
        self.gaps = gaps
        self.headless = headless
        self.broken = False


class _Stream:
    """One connection's book stream (``sid``): the last ``seq`` and how many gaps it has had."""

    __slots__ = ("gaps", "seq")

    def __init__(self) -> None:
        self.seq: int | None = None
        self.gaps = 0


class Merger:
    """Decides, line by line in archive order, whether a line belongs to the merged view (:meth:`admit`).

    ``stats`` counts what was left out and why: ``trade`` (another copy of a shown trade), ``content`` (another
    origin's copy of a ticker/lifecycle/...), ``book`` (frames of a chain the view does not follow, or of a
    broken chain), ``coverage`` (coverage lines), and ``late`` counts copies shown again because their key had
    been forgotten (see the module docstring)."""

    def __init__(self, identify: Callable[[bytes], Identity], window_s: float = WINDOW_S,
                 trade_window_s: float = TRADE_WINDOW_S, stale_s: float = STALE_S) -> None:
        self._identify = identify
        self._window_ms = int(window_s * 1000)
        self._trade_window_ms = int(trade_window_s * 1000)
        self._stale_ms = int(stale_s * 1000)
        self._clock = 0
        self._recent: dict[int, dict[Origin, int]] = {}
        self._older: dict[int, dict[Origin, int]] = {}
        self._rotated: int | None = None
        self._trades: set[bytes] = set()
        self._trade_minutes: dict[int, list[bytes]] = {}
        self._minute_heap: list[int] = []
        self._forgotten_before = -1
        self._chains: dict[str, _Chain] = {}
        self._streams: dict[tuple[Origin, int | None], _Stream] = {}
        self._seen: dict[Origin, int] = {}
        self.stats: Counter[str] = Counter()

    def admit(self, raw: bytes, origin: Origin | None, received_ns: int | None = None) -> bool:
        """True if the line is part of the merged view. Call for every line, in archive order."""
        if is_coverage(raw):
            self.stats["coverage"] += 1
            return False
        if origin is None or origin == _UNKNOWN:
            return True
        ident = self._identify(raw)
        now = received_ns // 1_000_000 if received_ns is not None else ident.ts_ms
        if now is not None and now > self._clock:
            self._clock = now
        now = self._clock
        self._seen[origin] = now
        kind = ident.kind
        if kind == "trade":
            keep = self._trade(ident)
        elif kind == "delta":
            keep = self._delta(ident, origin)
        elif kind == "snapshot":
            keep = self._snapshot(ident, origin, now)
        else:
            keep = self._other(ident, origin, now)
        if not keep:
            self.stats["trade" if kind == "trade" else "book" if kind in ("delta", "snapshot") else "content"] += 1
        return keep

    # -- trades ------------------------------------------------------------------------------------------------

    def _trade(self, ident: Identity) -> bool:
        key = ident.key or b""
        if key in self._trades:
            return False
        minute = (ident.ts_ms if ident.ts_ms is not None else self._clock) // 60_000
        self._forget_trades()
        if minute <= self._forgotten_before:
            self.stats["late"] += 1  # its copies may have been forgotten: shown, and not remembered either
            return True
        self._trades.add(key)
        bucket = self._trade_minutes.get(minute)
        if bucket is None:
            bucket = self._trade_minutes[minute] = []
            heapq.heappush(self._minute_heap, minute)
        bucket.append(key)
        return True

    def _forget_trades(self) -> None:
        horizon = (self._clock - self._trade_window_ms) // 60_000
        heap = self._minute_heap
        while heap and heap[0] < horizon:
            minute = heapq.heappop(heap)
            self._trades.difference_update(self._trade_minutes.pop(minute))
            self._forgotten_before = max(self._forgotten_before, minute)

    # -- order books -------------------------------------------------------------------------------------------

    def _stream(self, ident: Identity, origin: Origin) -> _Stream:
        """The line's book stream, with a gap counted when its ``seq`` does not follow the last one."""
        key = (origin, ident.sid)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream()
        seq = ident.seq
        if seq is not None:
            if stream.seq is not None and seq != stream.seq + 1:
                stream.gaps += 1
            stream.seq = seq
        return stream

    def _valid(self, chain: _Chain) -> bool:
        if chain.broken or chain.headless:
            return False
        stream = self._streams.get((chain.origin, chain.sid))
        return stream is None or stream.gaps == chain.gaps

    def _snapshot(self, ident: Identity, origin: Origin, now: int) -> bool:
        stream = self._stream(ident, origin)
        market = ident.market or ""
        chain = self._chains.get(market)
        if chain is not None and chain.origin != origin and self._valid(chain):
            current = chain.origin
            ended = current[0] == origin[0] or now - self._seen.get(current, now) > self._stale_ms
            if not ended:
                return False  # the view follows a healthy chain of another connection
        self._chains[market] = _Chain(origin, ident.sid, stream.gaps)
        return True

    def _delta(self, ident: Identity, origin: Origin) -> bool:
        stream = self._stream(ident, origin)
        market = ident.market or ""
        chain = self._chains.get(market)
        if chain is None:  # no snapshot seen (the read began mid-chain): follow this one until a snapshot comes
            self._chains[market] = _Chain(origin, ident.sid, stream.gaps, headless=True)
            return True
        if chain.origin != origin:
            return False
        if chain.sid != ident.sid:  # the connection subscribed the market again and its snapshot is missing
            chain.broken = True
            return False
        if chain.headless:
            return stream.gaps == chain.gaps
        return self._valid(chain)

    # -- everything else ---------------------------------------------------------------------------------------

    def _other(self, ident: Identity, origin: Origin, now: int) -> bool:
        if ident.sid is not None and ident.seq is not None:  # control replies may advance a book stream's seq
            stream = self._streams.get((origin, ident.sid))
            if stream is not None and stream.seq is not None and ident.seq > stream.seq:
                stream.seq = ident.seq
        # Two generations instead of a per-key expiry: a key lives from ``window`` to twice that after its last
        # copy, and a line costs two dict lookups at most.
        if self._rotated is None:
            self._rotated = now
        elif now - self._rotated >= self._window_ms:
            self._older = self._recent if now - self._rotated < 2 * self._window_ms else {}
            self._recent = {}
            self._rotated = now
        body = ident.key or b""
        key = hash(body) << 32 | zlib.crc32(body)  # 96 bits: no false "copy" among billions of keys
        counts = self._recent.get(key)
        if counts is None:
            counts = self._older.pop(key, None)
            if counts is None:
                self._recent[key] = {origin: 1}
                return True
            self._recent[key] = counts
        mine = counts.get(origin, 0) + 1
        counts[origin] = mine
        return all(mine > n for o, n in counts.items() if o != origin)


def dropped_lines(files: Iterable[tuple[str, Path, str]]) -> dict[Path, list[int]]:
    """The line numbers (1-based) the merged view leaves out of each file, for readers that decode files in bulk
    (export). ``files``: ``(feed, path, line format)`` in archive order; files it keeps whole are absent. Coverage
    lines are not counted (a bulk reader knows them as frames it does not export). Damage is not reported here:
    the bulk reader reports it."""
    mergers: dict[str, Merger] = {}
    out: dict[Path, list[int]] = {}
    for feed, path, fmt in files:
        merger = mergers.get(feed)
        if merger is None:
            merger = mergers[feed] = for_feed(feed)
        if not has_origins(path):  # its lines pass the merge untouched: no need to decompress it
            continue
        admit = merger.admit
        dropped = [number for number, raw, _, origin in FileLines(path, str(path), fmt, _ignore).with_origins()
                   if origin is not None and not is_coverage(raw) and not admit(raw, origin)]
        if dropped:
            out[path] = dropped
    return out


def has_origins(path: Path) -> bool:
    """Whether any line of the file records its origin (read from the gzip members' headers, not decompressed):
    a file without is read as it is, coverage lines aside."""
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return any(origin is not None for origin in record_origins(data))
    except (OSError, ValueError):  # unreadable or empty: the bulk reader reports it
        return False


def _ignore(kind: str, where: str, detail: str) -> None:
    return None


def merge(lines: Iterable[L], identify: Callable[[bytes], Identity], merger: Merger | None = None) -> Iterator[L]:
    """The lines of ``lines`` that belong to the merged view, in order (``merger``: to read its ``stats``)."""
    m = merger if merger is not None else Merger(identify)
    admit = m.admit
    for line in lines:
        if admit(line.raw, line.origin, line.received_ns):
            yield line
