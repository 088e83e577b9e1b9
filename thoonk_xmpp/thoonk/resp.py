"""Our own Redis connections beside redis-py's pool, for the two hot paths.

redis-py wakes a task and walks several coroutine layers for every reply or
pub/sub message; at light load those layers cost more than the Redis work of
a publish.  A :class:`RespProtocol` feeds the bytes to a hiredis reader in
``data_received`` and settles replies in the same callback.

The address and credentials come from the client's redis-py pool (TCP, TLS or
a Unix socket; password, username or a credential provider; the database), so
every URL redis-py accepts works here too.  Replies are RESP2.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

import hiredis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    ExecAbortError,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError

if TYPE_CHECKING:
    import redis.asyncio as aioredis


class RespConnectionError(RedisConnectionError):
    """A connection of ours could not be opened or authenticated, or it was lost."""


# Error codes that redis-py gives a class of their own; LOADING is a connection
# error there (Redis is starting), so callers treat it like a lost connection.
_ERROR_CLASSES: dict[str, type[Exception]] = {
    "NOSCRIPT": NoScriptError,
    "LOADING": BusyLoadingError,
    "NOAUTH": AuthenticationError,
    "WRONGPASS": AuthenticationError,
    "NOPERM": NoPermissionError,
    "READONLY": ReadOnlyError,
    "OOM": OutOfMemoryError,
    "EXECABORT": ExecAbortError,
}


def reply_error(reply: hiredis.ReplyError) -> Exception:
    """The redis-py exception for an error reply (the whole message kept)."""
    text = str(reply)
    return _ERROR_CLASSES.get(text.partition(" ")[0], ResponseError)(text)


class RespProtocol(asyncio.Protocol):
    """One connection: commands written in order, replies settled in order."""

    def __init__(self) -> None:
        self._reader = hiredis.Reader()
        self._transport: asyncio.Transport | None = None
        # (future, replies it still waits for), in the order the commands were sent
        self._waiting: deque[tuple[asyncio.Future[Any], int]] = deque()
        self._paused = False
        #: Resolves (with an error) once the connection is gone.
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(
        cls, redis: aioredis.Redis, factory: Callable[[], Self], timeout: float = 10.0
    ) -> Self:
        """Connect, authenticate and select the database of the server ``redis`` uses."""
        loop = asyncio.get_running_loop()
        # An unconnected redis-py connection: its public attributes are the address.
        template: Any = redis.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        protocol: Self
        try:
            async with asyncio.timeout(timeout):
                if isinstance(template, UnixDomainSocketConnection):
                    _, protocol = await loop.create_unix_connection(factory, template.path)
                else:
                    ssl = (
                        template.ssl_context.get() if isinstance(template, SSLConnection) else None
                    )
                    host, port = template.host, template.port
                    pool = redis.connection_pool
                    if isinstance(pool, SentinelConnectionPool):  # the master after any failover
                        try:
                            host, port = await pool.get_master_address()  # type: ignore[no-untyped-call]
                        except RedisConnectionError as exc:  # none during a failover
                            raise RespConnectionError(str(exc)) from exc
                    transport, protocol = await loop.create_connection(factory, host, port, ssl=ssl)
                    raw = transport.get_extra_info("socket")
                    if raw is not None:  # dead peers are found by TCP keepalive
                        raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                try:
                    await protocol._authenticate(template)
                except BaseException:
                    protocol.close()
                    raise
        except TimeoutError:
            raise RespConnectionError(f"no answer from Redis within {timeout} s") from None
        except OSError as exc:
            raise RespConnectionError(f"cannot connect to Redis: {exc}") from exc
        return protocol

    async def _authenticate(self, template: Any) -> None:
        username, password = template.username, template.password
        provider = template.credential_provider
        if provider is not None:
            credentials = await provider.get_credentials_async()
            username, password = (None, *credentials)[-2:]
        try:
            if password is not None:
                await self.command("AUTH", *((username,) if username else ()), password)
            if getattr(template, "db", 0):
                await self.command("SELECT", template.db)
        except (ResponseError, AuthenticationError) as exc:
            raise RespConnectionError(f"Redis refused: {exc}") from None

    def command(self, *words: Any) -> asyncio.Future[Any]:
        """Send one command; the future settles with its reply (or its error)."""
        return self._send(words, 1)

    def _send(self, words: tuple[Any, ...], replies: int) -> asyncio.Future[Any]:
        if self._transport is None or self.closed.done():
            raise RespConnectionError("the connection to Redis is closed")
        # A str that came from non-UTF-8 bytes holds lone surrogates: send those bytes.
        words = tuple(
            w.encode("utf-8", "surrogateescape") if isinstance(w, str) else w for w in words
        )
        packed = hiredis.pack_command(words)  # may refuse an argument: nothing is queued then
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((done, replies))
        self._transport.write(packed)
        return done

    @property
    def is_closed(self) -> bool:
        return self.closed.done()

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
        error = RespConnectionError(f"Redis closed the connection ({exc or 'EOF'})")
        waiting = list(self._waiting)
        self._waiting.clear()
        for done, _ in waiting:
            if not done.done():
                done.set_exception(error)
        if not self.closed.done():
            self.closed.set_exception(error)
            self.closed.exception()  # retrieved: nobody may be awaiting it yet

    def _drain(self) -> None:
        while not self._paused:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self.connection_lost(RespConnectionError(f"unreadable reply from Redis: {exc}"))
                self.close()
                return
            if reply is False:
                return
            self._take(reply)

    def _take(self, reply: Any) -> None:
        """Settle the oldest command with ``reply``."""
        if not self._waiting:
            return  # e.g. a confirmation nobody waits for any more
        done, left = self._waiting[0]
        if isinstance(reply, hiredis.ReplyError):
            self._waiting.popleft()
            if not done.done():
                done.set_exception(reply_error(reply))
            return
        if left > 1:
            self._waiting[0] = (done, left - 1)
            return
        self._waiting.popleft()
        if not done.done():
            done.set_result(reply)
