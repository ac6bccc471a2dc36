"""JetStream publishes whose acks are futures, with rejections as exceptions.

nats-py's ``publish_async`` turns an error reply (stream full, wrong stream, ...) into an exception raised inside
its reply callback instead of on the future, so the future never completes and a rejection looks like a timeout
(nats-py 2.x, ``JetStream._handle_async_reply`` calls ``APIError.from_error``, which raises). This publisher reads
the ack replies itself: one wildcard inbox subscription, one future per message, the server's own error text.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription


class PublishRejected(Exception):
    """JetStream answered the publish with an error (e.g. ``maximum messages exceeded``)."""


class AckedPublisher:
    def __init__(self, nc: Client, stream: str) -> None:
        self._nc = nc
        self._headers = {"Nats-Expected-Stream": stream}
        self._inbox = nc.new_inbox()
        self._futures: dict[str, asyncio.Future[int]] = {}
        self._tokens = itertools.count(1)
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_reply)

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()

    async def publish(self, subject: str, payload: bytes) -> asyncio.Future[int]:
        """Send one message; the future resolves to its stream sequence or raises :class:`PublishRejected`."""
        token = str(next(self._tokens))
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._futures[token] = future
        await self._nc.publish(subject, payload, reply=f"{self._inbox}.{token}", headers=self._headers)
        return future

    def forget(self, future: asyncio.Future[int]) -> None:
        """Drop a future whose ack timed out, so a late reply cannot touch it."""
        for token, pending in list(self._futures.items()):
            if pending is future:
                del self._futures[token]
                return

    async def _on_reply(self, msg: Msg) -> None:
        future = self._futures.pop(msg.subject.rsplit(".", 1)[-1], None)
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get("Status") == "503":
            future.set_exception(PublishRejected("no stream captures this subject (no responders)"))
            return
        try:
            reply: Any = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            future.set_exception(PublishRejected(f"unreadable ack: {msg.data[:200]!r}"))
            return
        error = reply.get("error") if isinstance(reply, dict) else None
        if error or not isinstance(reply, dict) or not isinstance(reply.get("seq"), int):
            text = error.get("description", error) if isinstance(error, dict) else reply
            future.set_exception(PublishRejected(str(text)))
            return
        future.set_result(reply["seq"])
