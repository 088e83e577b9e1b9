"""The listener's own subscribed Redis connection, read without a task per message.

redis-py's ``PubSub`` wakes a task and walks several coroutine layers for
every message; a publish that trims a feed sends three notices, and at light
load those layers are most of the time from the Redis reply to our
notification.  Here the bytes go into a hiredis reader inside the protocol's
``data_received``, and each message is handed on in the same callback.

The address and credentials come from the client's redis-py pool (TCP, TLS
or a Unix socket), so a ``rediss://`` or ``unix://`` URL works here too.
Pub/sub channels are server-wide, so the database number does not matter.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import hiredis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection

if TYPE_CHECKING:
    import redis.asyncio as aioredis

#: Called with (channel, payload) for each message, in order.
OnMessage = Callable[[bytes, bytes], None]


class NoticeConnectionError(ConnectionError):
    """The notice connection could not be opened or authenticated, or it was lost."""


class NoticeConnection(asyncio.Protocol):
    """One Redis connection in subscriber mode; see :meth:`open`."""

    def __init__(self, on_message: OnMessage) -> None:
        self._on_message = on_message
        self._reader = hiredis.Reader()
        self._transport: asyncio.Transport | None = None
        # replies to AUTH / (P)SUBSCRIBE, in the order the commands were sent
        self._waiting: deque[tuple[asyncio.Future[None], int]] = deque()
        self._paused = False
        #: Resolves (with an error) once the connection is gone.
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(
        cls, redis: aioredis.Redis, on_message: OnMessage, timeout: float = 10.0
    ) -> NoticeConnection:
        """Connect and authenticate to the server ``redis`` uses."""
        loop = asyncio.get_running_loop()
        # An unconnected redis-py connection: its public attributes are the address.
        template: Any = redis.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        try:
            async with asyncio.timeout(timeout):
                if isinstance(template, UnixDomainSocketConnection):
                    _, protocol = await loop.create_unix_connection(
                        lambda: cls(on_message), template.path
                    )
                else:
                    ssl = (
                        template.ssl_context.get() if isinstance(template, SSLConnection) else None
                    )
                    _, protocol = await loop.create_connection(
                        lambda: cls(on_message), template.host, template.port, ssl=ssl
                    )
                await protocol._authenticate(template)
        except TimeoutError:
            raise NoticeConnectionError(f"no answer from Redis within {timeout} s") from None
        except OSError as exc:
            raise NoticeConnectionError(f"cannot connect to Redis: {exc}") from exc
        return protocol

    async def _authenticate(self, template: Any) -> None:
        username, password = template.username, template.password
        provider = template.credential_provider
        if provider is not None:
            credentials = await provider.get_credentials_async()
            username, password = (None, *credentials)[-2:]
        if password is not None:
            words = ("AUTH", username, password) if username else ("AUTH", password)
            await self._command(words, 1)

    async def subscribe(self, patterns: Iterable[bytes], channels: Iterable[bytes]) -> None:
        """Subscribe; returns once Redis confirmed every pattern and channel."""
        patterns, channels = list(patterns), list(channels)
        if patterns:
            await self._command(("PSUBSCRIBE", *patterns), len(patterns))
        if channels:
            await self._command(("SUBSCRIBE", *channels), len(channels))

    async def _command(self, words: tuple[Any, ...], replies: int) -> None:
        if self._transport is None or self.closed.done():
            raise NoticeConnectionError("the notice connection is closed")
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((done, replies))
        self._transport.write(hiredis.pack_command(words))
        await done

    def pause(self) -> None:
        """Hand on no more messages until :meth:`resume` (the consumer must wait)."""
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def resume(self) -> None:
        """Hand on what arrived meanwhile, then read again."""
        if self._paused:
            self._paused = False
            self._drain()
            if not self._paused and self._transport is not None:
                self._transport.resume_reading()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # --- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        self._drain()

    def connection_lost(self, exc: Exception | None) -> None:
        error = NoticeConnectionError(f"Redis closed the notice connection ({exc or 'EOF'})")
        for done, _ in self._waiting:
            if not done.done():
                done.set_exception(error)
        self._waiting.clear()
        if not self.closed.done():
            self.closed.set_exception(error)
            self.closed.exception()  # retrieved: nobody may be awaiting it yet

    def _drain(self) -> None:
        while not self._paused:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self._fail(f"unreadable reply from Redis: {exc}")
                return
            if reply is False:
                return
            self._take(reply)

    def _take(self, reply: Any) -> None:
        if isinstance(reply, list) and reply:
            kind = reply[0]
            if kind == b"pmessage" and len(reply) == 4:
                self._on_message(reply[2], reply[3])
                return
            if kind == b"message" and len(reply) == 3:
                self._on_message(reply[1], reply[2])
                return
        if not self._waiting:
            return  # e.g. a confirmation nobody waits for any more
        done, left = self._waiting[0]
        if isinstance(reply, hiredis.ReplyError):
            self._waiting.popleft()
            if not done.done():
                done.set_exception(NoticeConnectionError(f"Redis refused: {reply}"))
            return
        if left > 1:
            self._waiting[0] = (done, left - 1)
            return
        self._waiting.popleft()
        if not done.done():
            done.set_result(None)

    def _fail(self, reason: str) -> None:
        self.connection_lost(NoticeConnectionError(reason))
        self.close()
