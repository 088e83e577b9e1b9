"""One pipelined connection of ours for the Lua scripts (see :mod:`.resp`).

Every mutating Thoonk operation is one EVALSHA; through redis-py each cost a
pool checkout, retry wrappers and a task wake-up for the reply, more than the
script itself at light load.  Here concurrent callers share one connection,
their commands pipelined in call order.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from .resp import RespProtocol

if TYPE_CHECKING:
    import redis.asyncio as aioredis


class CommandLink:
    """Sends commands on one connection, opened on first use and again after a loss.

    A command written before the connection was lost fails with
    :class:`~.resp.RespConnectionError` and is not sent again (it may have run).
    """

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._connection: RespProtocol | None = None
        self._opening = asyncio.Lock()

    async def call(self, *words: Any) -> Any:
        """Send one command and return its reply; an error reply raises redis-py's error.

        Not for blocking commands (BLPOP, …): every command behind one waits for it.
        """
        connection = self._connection
        if connection is None or connection.is_closed:
            connection = await self._open()
        return await connection.command(*words)

    async def _open(self) -> RespProtocol:
        async with self._opening:  # concurrent callers wait for one connection
            connection = self._connection
            if connection is None or connection.is_closed:
                connection = await RespProtocol.open(self._redis, RespProtocol)
                self._connection = connection
            return connection

    async def aclose(self) -> None:
        """Close the connection (a later call opens a new one)."""
        async with self._opening:  # not while one is being opened: it would stay open
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
            with contextlib.suppress(Exception):
                await connection.closed
