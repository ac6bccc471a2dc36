"""The one pipelined JetStream publisher: a bounded window of publishes in flight, acks read here, retries with the
same ``Nats-Msg-Id``, rejections reported with the server's words. The connector, ``ssmd archive replay`` and the
agent's fires all publish through it.

Why not nats-py's ``publish_async``: it turns an error reply (stream full, wrong stream, ...) into an exception
raised inside its reply callback instead of on the future, so the future never completes and a rejection looks
like a timeout (nats-py 2.x, ``JetStream._handle_async_reply`` calls ``APIError.from_error``, which raises). It also
costs a future, a semaphore slot and a header dict encoded per message. Here every publish carries a reply subject
``{inbox}.{n}`` on one wildcard subscription, and the ack is matched by ``n``.

Why the protocol bytes are written here: nats-py's ``Client.publish`` validates and encodes every header on every
call, which was most of the connector's CPU per frame. Headers that are constant for a publisher
(``Nats-Expected-Stream``, ``Ssmd-Instance``, ...) are encoded once; each message's ``HPUB`` command is built once
when it is submitted and reused byte for byte by its retries. The bytes go into the client's own pending buffer
(``Client._pending``, flushed by its flusher task, the same path ``Client.publish`` takes), so ordering with
nats-py's other traffic and its reconnect handling are unchanged. Nothing is written while the client is not
connected: the window is re-sent after a reconnect instead. (Limit, as with ``Client.publish``: bytes appended just
before a connection drop is noticed stay in that buffer and nats-py flushes them first after reconnecting; they are
stored once, by msg-id, but can land ahead of older messages of the window that are re-sent.)

Acks are taken from the client's reader before its parser sees them: the publisher wraps the parser's ``parse``
and consumes the run of successful acks at the head of each buffer read off the socket (one regex match finds the
run, one ``findall`` splits it, both in C), then settles them together (one clock read, one wake-up, one callback),
with no ``Msg``, no coroutine and no header parse per ack: nats-py's parser spent more per ack than the rest of the
publisher per message. Whatever does not match (status replies, errors, a message cut by the end of the buffer,
other subscriptions' messages) is left for nats-py's own parser, and the reply subscription's message queue is
replaced by a direct call (no queue, no task switch). If a nats-py release changes those internals, the publisher
falls back to an ordinary subscription callback, only slower.

Retries: when an ack times out (while no other ack arrives either), an ack says "no responders"/an error and the
publisher retries rejections, or the client reconnected, *every* unacked message goes back to the front of the
queue in submit order and is sent again after a short back-off. A message that was in fact stored comes back as
a duplicate (same msg-id, inside the stream's duplicate window), so the stream holds each message once and in
submit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from typing import Any

import msgspec
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.protocol.parser import AWAITING_CONTROL_LINE

from ssmd.bus.headers import MSG_ID, encode_headers
from ssmd.runtime.tasks import cancel_all

log = logging.getLogger(__name__)

EXPECTED_STREAM = "Nats-Expected-Stream"
_MSG_ID_LINE = MSG_ID.encode() + b": "
_HDR_OPEN = b"NATS/1.0\r\n"
_CRLF = b"\r\n"
_DUPLICATE = b'"duplicate"'
"""In an ack only when true (nats-server omits it otherwise): the stream had the message already."""
_BACKOFF_MIN = 0.1
_BACKOFF_MAX = 2.0
_TICK = 0.2
_SUBJECT_CACHE_MAX = 200_000
_CUT_SHORT = 1024
"""A message cut by the end of a read and shorter than this (an ack) is completed before nats-py sees it."""
_BAD_IN_SUBJECT = re.compile(r"[\s]")


class TooLarge(ValueError):
    """The message is bigger than the server's ``max_payload``: the server would close the connection on it."""


def msg_id_header(msg_id: str) -> bytes:
    """The ``Nats-Msg-Id`` line alone: what most publishers need per message."""
    if "\r" in msg_id or "\n" in msg_id or not msg_id.strip():
        raise ValueError(f"Nats-Msg-Id {msg_id!r}: must be one non-blank line")
    return _MSG_ID_LINE + msg_id.encode() + _CRLF


class Outgoing(msgspec.Struct, gc=False):
    """One submitted message: its protocol bytes (built once, in ``parts`` that the client's writer joins: no copy of
    the payload per message) and what its owner wants back on the ack.

    A msgspec struct, built in C: one is made per message. Outside the garbage collector's tracking, so ``tag``
    (a type token, a signal name) must never refer back to it."""

    n: int
    subject: str
    parts: tuple[bytes, ...]
    size: int
    tag: Any
    t0: float
    sent_at: float = 0.0
    attempts: int = 0
    duplicate: bool = False
    """Set on the ack: the stream had it already (same msg-id, from an earlier try or another instance)."""


AckCallback = Callable[[list[Outgoing]], None]
"""``(messages)``: these messages are stored (acks come in runs: one call per run, in ack order)."""
FailCallback = Callable[[Outgoing, str], None]
"""``(message, reason)``: the message is given up on (rejected with ``retry_rejected=False``, or out of attempts)."""
RetryCallback = Callable[[int, str], None]
"""``(count, reason)``: ``count`` unacked messages go back to the queue, to be re-sent with their own msg-ids."""


class Publisher:
    """Pipelined, acked JetStream publishing over one nats-py client.

    ``submit`` never blocks (callers bound the queue: see :attr:`pending`, :meth:`wait_below`); a pump task sends at
    most ``max_in_flight`` unacked messages; a watchdog task retries a window whose acks stopped.

    ``retry_rejected``: an error ack is retried (with back-off, forever: the connector and the agent, which must not
    lose anything and report "not ready" meanwhile), or else reported through ``on_failed`` (replay, which counts
    it). ``max_attempts``: sends without an ack before ``on_failed`` (``None``: retry forever).
    """

    def __init__(
        self,
        nc: Client,
        stream: str | None,
        *,
        headers: Mapping[str, str] | None = None,
        max_in_flight: int = 4000,
        ack_timeout: float = 5.0,
        retry_rejected: bool = True,
        max_attempts: int | None = None,
        on_acked: AckCallback | None = None,
        on_failed: FailCallback | None = None,
        on_retry: RetryCallback | None = None,
        name: str = "publisher",
    ) -> None:
        for attr in ("_pending", "_pending_data_size", "_flush_pending", "_flush_queue", "_max_payload", "new_inbox"):
            if not hasattr(nc, attr):  # pinned nats-py internals (see the module doc): fail loudly, not corruptly
                raise RuntimeError(f"nats-py client has no {attr}: ssmd.bus.publish needs nats-py 2.x internals")
        self._nc = nc
        constant = dict(headers or {})
        if stream is not None:
            constant[EXPECTED_STREAM] = stream
        hdr_head = _HDR_OPEN + encode_headers(constant)
        self._hdr_fixed = len(hdr_head) + len(_CRLF)
        self._middle = b"%d %d %d\r\n" + hdr_head.replace(b"%", b"%%") + b"%s\r\n"
        """What follows ``HPUB {subject} {reply}``: ``{hdr_len} {total_len}``, the header block (constant lines, then
        the message's own) and the blank line that ends it. One ``%``-format per message."""
        self._max_in_flight = max_in_flight
        self._timeout = ack_timeout
        self._retry_rejected = retry_rejected
        self._max_attempts = max_attempts
        self._on_acked = on_acked
        self._on_failed = on_failed
        self._on_retry = on_retry
        self._name = name
        self._inbox = ""
        self._reply_head = b""
        self._cut = 0
        self._subjects: dict[str, bytes] = {}
        self._queue: deque[Outgoing] = deque()
        self._inflight: dict[int, Outgoing] = {}
        self._numbers = itertools.count(1)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._room = asyncio.Event()
        self._room_below = 0
        self._resume_at = 0.0
        self._backoff = _BACKOFF_MIN
        self._epoch = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._sub: Subscription | None = None
        self._parser: Any = None
        self._parse_before: Any = None
        self._parse_fast: Any = None
        self._ack_run: re.Pattern[bytes] | None = None
        self._ack_numbers: re.Pattern[bytes] | None = None
        self._ack_duplicates: re.Pattern[bytes] | None = None
        self.last_error: str | None = None
        """Why the last send was not acked; ``None`` again once everything pending then has been acked."""
        self._trouble_upto = 0
        """The newest message pending when ``last_error`` was set."""
        self.last_ack = 0.0
        self.acked = 0
        self.failed = 0

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        self._reply_head = f" {self._inbox}.".encode()
        self._subjects.clear()  # the heads cached hold the reply subject
        self._cut = len(self._inbox) + 1
        self._epoch = self._nc.stats["reconnects"]
        sub = await self._nc.subscribe(f"{self._inbox}.*", pending_bytes_limit=0)
        parser: Any = getattr(self._nc, "_ps", None)
        if (isinstance(getattr(sub, "_pending_queue", None), asyncio.Queue)
                and isinstance(getattr(parser, "buf", None), bytearray) and hasattr(parser, "state")):
            sub._pending_queue = _Direct(self._on_ack)  # type: ignore[assignment]
            # MSG {inbox}.{n} {sid} {size}\r\n{"stream":...}\r\n: a stored message's ack is one line of JSON that
            # starts with the stream (an error's starts with "error": nats-server writes the fields in that order)
            ack = rb"MSG %s\.%s " + str(sub._id).encode() + rb" \d+\r\n%s\r\n"
            inbox, payload = re.escape(self._inbox.encode()), rb'\{"stream":[^\r\n]*'
            self._ack_run = re.compile(b"(?:" + ack % (inbox, rb"\d+", payload) + b")+")
            self._ack_numbers = re.compile(ack % (inbox, rb"(\d+)", payload))
            self._ack_duplicates = re.compile(ack % (inbox, rb"(\d+)", payload + _DUPLICATE + rb"[^\r\n]*"))
            self._parser, self._parse_before = parser, parser.parse
            parser.parse = self._parse_fast = _scan_acks(parser, self._parse_before, self._take_acks)
        else:  # nats-py changed: the ordinary (slower) way
            await sub.unsubscribe()

            async def on_ack(msg: Msg) -> None:
                self._on_ack(msg)

            sub = await self._nc.subscribe(f"{self._inbox}.*", cb=on_ack)
        self._sub = sub
        self._tasks = [asyncio.create_task(self._pump(), name=f"{self._name}-pump"),
                       asyncio.create_task(self._watchdog(), name=f"{self._name}-watchdog")]

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks = []
        if self._parse_fast is not None and self._parser.parse is self._parse_fast:
            self._parser.parse = self._parse_before
        self._parser = self._parse_fast = self._parse_before = None
        if self._sub is not None and self._nc.is_connected:
            with contextlib.suppress(Exception):  # stopping: a connection going away is not news
                await self._sub.unsubscribe()
        self._sub = None

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return self._tasks

    # -- the caller's side ----------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Messages submitted and neither acked nor given up on (queued or in flight)."""
        return len(self._queue) + len(self._inflight)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def submit(self, subject: str, payload: bytes, headers: bytes, tag: Any = None, t0: float = 0.0) -> None:
        """Queue one message; never blocks. ``headers``: its own header lines (:func:`encode_headers`,
        :func:`msg_id_header`), which must include its ``Nats-Msg-Id``: a retry without one could store it twice.
        ``tag`` and ``t0`` come back on the :class:`Outgoing` given to the callbacks."""
        if _MSG_ID_LINE not in headers:
            raise ValueError(f"publish to {subject}: no {MSG_ID} header (a retry could store it twice)")
        self.submit_frame(subject, payload, headers, tag, t0)

    def submit_frame(self, subject: str, payload: bytes, headers: bytes, tag: Any = None, t0: float = 0.0) -> None:
        """:meth:`submit` for header lines that have a ``Nats-Msg-Id`` by construction
        (:meth:`ssmd.bus.headers.FrameHeaders.encode`): the connector's per-frame path, without the search for it."""
        head = self._subjects.get(subject)
        if head is None:
            head = self._subject_head(subject)
        hdr_len = self._hdr_fixed + len(headers)
        total = hdr_len + len(payload)
        if total > self._nc._max_payload:  # the property's value, without the call
            raise TooLarge(f"publish to {subject}: {total} bytes with headers, more than the server's max_payload "
                           f"({self._nc.max_payload})")
        n = next(self._numbers)
        middle = self._middle % (n, hdr_len, total, headers)
        self._queue.append(Outgoing(n, subject, (head, middle, payload, _CRLF),
                                    len(head) + len(middle) + len(payload) + 2, tag, t0))
        self._idle.clear()
        self._wake.set()

    def _subject_head(self, subject: str) -> bytes:
        if not subject or _BAD_IN_SUBJECT.search(subject):
            raise ValueError(f"subject {subject!r}: must be non-empty, without blanks")
        if len(self._subjects) >= _SUBJECT_CACHE_MAX:
            self._subjects.clear()
        head = self._subjects[subject] = b"HPUB " + subject.encode() + self._reply_head  # "... {inbox}." + n
        return head

    async def wait_idle(self, limit_s: float | None = None) -> int:
        """Wait until nothing is pending (at most ``limit_s`` s); return how many messages still are."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), limit_s)
        return self.pending

    async def wait_below(self, count: int) -> None:
        """Wait until fewer than ``count`` messages are pending: the caller's back-pressure."""
        while self.pending >= count:
            self._room_below = count
            self._room.clear()
            await self._room.wait()

    def abandon(self, reason: str) -> int:
        """Give up on every pending message (``on_failed`` for each, in submit order); return how many.
        For callers with a deadline of their own: nothing is sent while the client is disconnected, so no
        attempt count runs out then."""
        left = sorted([*self._inflight.values(), *self._queue], key=lambda item: item.n)
        self._inflight.clear()
        self._queue.clear()
        for item in left:
            self._give_up(item, reason)
        self._after_settle()
        return len(left)

    def stalled_for(self) -> float:
        """Seconds the oldest message in flight has waited with no ack at all arriving meanwhile (0: flowing)."""
        if not self._inflight:
            return 0.0
        oldest = next(iter(self._inflight.values()))
        return max(0.0, time.monotonic() - max(self.last_ack, oldest.sent_at))

    @property
    def reconnected(self) -> bool:
        """The client reconnected and the window has not been re-sent on the new connection yet."""
        return self._nc.stats["reconnects"] != self._epoch

    # -- sending --------------------------------------------------------------------------------------------

    async def _pump(self) -> None:
        nc = self._nc
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._send_available() and nc._flush_queue is not None and nc._flush_queue.empty():
                await nc._flush_pending()

    def _send_available(self) -> int:
        """Write what the window allows into the client's pending buffer; return how many messages."""
        nc = self._nc
        if not nc.is_connected or time.monotonic() < self._resume_at:
            return 0  # the watchdog wakes the pump again
        epoch = nc.stats["reconnects"]
        if epoch != self._epoch:
            # Messages sent on the previous connection may have no ack coming: re-send them before anything newer,
            # or newer ones would be stored first (JetStream drops the copies of those that did arrive).
            self._epoch = epoch
            if self._inflight:
                self._retry_all("NATS reconnected; re-sending unacked messages", pause=False)
            elif self._queue:
                self._trouble("NATS reconnected; no ack yet")  # a server without a quorum acks nothing
        queue, inflight = self._queue, self._inflight
        room = self._max_in_flight - len(inflight)
        if room <= 0 or not queue:
            return 0
        out = nc._pending
        now = time.monotonic()
        size = 0
        sent = 0
        while queue and sent < room:
            item = queue.popleft()
            item.sent_at = now
            item.attempts += 1
            inflight[item.n] = item
            out.extend(item.parts)
            size += item.size
            sent += 1
        nc._pending_data_size += size
        nc.stats["out_msgs"] += sent
        nc.stats["out_bytes"] += size
        return sent

    # -- acks -----------------------------------------------------------------------------------------------

    def _on_ack(self, msg: Msg) -> None:
        """An ack as a nats-py message: the way errors (status headers) and the fallback subscription come."""
        try:
            n = int(msg.subject[self._cut:])
        except ValueError:
            return  # not a reply of ours
        data = msg.data
        if msg.headers or not data or b'"error"' in data:
            item = self._inflight.pop(n, None)
            if item is None:
                return
            status = msg.headers.get("Status") if msg.headers else None
            reason = ("no stream answered (no responders)" if status == "503"
                      else f"no stream answered (status {status})" if status else _error_text(data))
            if self._retry_rejected:
                self._inflight[item.n] = item  # keep it in the retry set
                self._retry_all(reason)
            else:
                self._give_up(item, f"rejected by the stream: {reason}")
            return
        self._stored(n, data)

    def _take_acks(self, buf: bytes | bytearray) -> int:
        """Settle the run of stored-message acks at the head of ``buf`` (a read off the socket, or the parser's buffer
        when a read continues a cut message); return how many bytes it took. The run is found with one match and
        split with one ``findall``, both in C; nats-py parses the rest (see the module doc)."""
        assert self._ack_run is not None and self._ack_numbers is not None and self._ack_duplicates is not None
        run = self._ack_run.match(buf)
        if run is None:
            return 0
        end = run.end()
        duplicates: Collection[int] = ()
        if buf.find(_DUPLICATE, 0, end) >= 0:  # rare: only then a second pass for which
            duplicates = set(map(int, self._ack_duplicates.findall(buf, 0, end)))
        pop = self._inflight.pop
        stored = []
        for n in map(int, self._ack_numbers.findall(buf, 0, end)):
            item = pop(n, None)
            if item is not None:  # else: queued again meanwhile, and its next send's ack counts it
                if n in duplicates:
                    item.duplicate = True
                stored.append(item)
        if stored:
            self._settle(stored)
        return end

    def _stored(self, n: int, data: bytes) -> None:
        item = self._inflight.pop(n, None)
        if item is not None:
            item.duplicate = _DUPLICATE in data
            self._settle([item])

    def _settle(self, stored: list[Outgoing]) -> None:
        self.acked += len(stored)
        self.last_ack = time.monotonic()
        if self.last_error is not None and self._caught_up():
            log.info("%s: publish acks flowing again", self._name, extra={"pending": self.pending})
            self.last_error = None
        self._backoff = _BACKOFF_MIN
        if self._on_acked is not None:
            self._on_acked(stored)
        self._after_settle()

    def _after_settle(self) -> None:
        pending = len(self._queue) + len(self._inflight)
        if not pending:
            self._idle.set()
        elif self._queue and len(self._inflight) < self._max_in_flight:
            self._wake.set()
        if self._room_below and pending < self._room_below:
            self._room_below = 0
            self._room.set()

    def _trouble(self, reason: str) -> None:
        self.last_error = reason
        self._trouble_upto = self._queue[-1].n if self._queue else 0

    def _caught_up(self) -> bool:
        """Nothing that was pending when the trouble began still is. A few acks are no proof that acks flow again: a
        stream leader that lost its quorum still answers re-sent stored messages as duplicates, and commits what its
        last follower had taken, while everything newer goes unanswered. (The queue and the in-flight window are
        each in submit order, so their first messages are their oldest.)"""
        upto, inflight, queue = self._trouble_upto, self._inflight, self._queue
        return (not inflight or next(iter(inflight)) > upto) and (not queue or queue[0].n > upto)

    def _give_up(self, item: Outgoing, reason: str) -> None:
        self.failed += 1
        if self._on_failed is not None:
            self._on_failed(item, reason)
        else:
            log.error("%s: publish to %s failed: %s", self._name, item.subject, reason)
        self._after_settle()

    def _retry_all(self, reason: str, pause: bool = True) -> None:
        """Put every unacked message back at the front, in submit order, and pause before re-sending."""
        again = sorted(self._inflight.values(), key=lambda item: item.n)
        self._inflight.clear()
        if self._max_attempts is not None:
            spent = [item for item in again if item.attempts >= self._max_attempts]
            if spent:
                again = [item for item in again if item.attempts < self._max_attempts]
                for item in spent:
                    self._give_up(item, f"{reason} (after {item.attempts} attempts)")
        self._queue.extendleft(reversed(again))
        if self._on_retry is not None and again:
            self._on_retry(len(again), reason)
        if again and reason != self.last_error:
            log.warning("%s: JetStream publish not acked, retrying %d messages with the same Nats-Msg-Id: %s",
                        self._name, len(again), reason, extra={"queued": len(self._queue)})
        self._trouble(reason)  # until all of these are acked, paused or not
        if pause:
            self._resume_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, _BACKOFF_MAX)
        self._after_settle()

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(_TICK)
            now = time.monotonic()
            if self._inflight:
                oldest = next(iter(self._inflight.values()))
                waited = now - oldest.sent_at
                # Acks still arriving means a busy server, not a lost one: re-sending everything then would only
                # add load. Retry when no ack came for a whole timeout, or this message's ack looks truly lost.
                stalled = now - max(self.last_ack, oldest.sent_at) > self._timeout
                if waited > self._timeout and (stalled or waited > 3 * self._timeout):
                    self._retry_all(f"no ack within {waited:.1f}s")
            if self._queue and now >= self._resume_at and self._nc.is_connected:
                self._wake.set()


def _scan_acks(parser: Any, before: Any, take: Callable[[bytes | bytearray], int]) -> Any:
    """Wrap nats-py parser ``parser``'s ``parse``: between protocol messages (never inside one), ``take`` consumes
    what it recognises at the head of the buffer, and the parser's own ``parse`` (``before``) does the rest."""

    async def parse(data: bytes = b"") -> None:
        if parser.state == AWAITING_CONTROL_LINE:
            buf = parser.buf  # read each time: a reconnect gives the parser a new one
            if buf:  # the end of the last read is waiting: this read continues it
                buf.extend(data)
                del buf[:take(buf)]
            else:  # most reads: scan them where they are, keep only what is left
                buf.extend(memoryview(data)[take(data):])
            # A short message cut by the end of the read (an ack, most likely) waits here for its end rather than in
            # nats-py's parser, which would then parse the whole next read itself.
            if buf and not (len(buf) < _CUT_SHORT and buf.startswith(b"MSG ") and buf.count(b"\r\n") < 2):
                await before()
        else:
            await before(data)

    return parse


class _Direct:
    """Stands in for a subscription's message queue: each message is handled as it is parsed."""

    __slots__ = ("_handle",)

    def __init__(self, handle: Callable[[Msg], None]) -> None:
        self._handle = handle

    def put_nowait(self, msg: Msg) -> None:
        self._handle(msg)

    def qsize(self) -> int:
        return 0

    def empty(self) -> bool:
        return True

    def task_done(self) -> None:
        return None

    async def join(self) -> None:
        return None


def _error_text(data: bytes) -> str:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return f"unexpected ack {data[:200]!r}"
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return f"JetStream error {err.get('err_code') or err.get('code')}: {err.get('description')}"
    return f"unexpected ack {data[:200]!r}"
