"""The listener's subscribed connection: each message handed on inside ``data_received``.

A publish that trims a feed sends three notices; with redis-py's ``PubSub``
each woke a task.  Here (see :mod:`.resp`) they are parsed as the bytes
arrive and handed to ``on_message`` in the same callback, in order.
Pub/sub channels are server-wide, so the database number does not matter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from redis.exceptions import AuthenticationError, ResponseError

from .resp import RespConnectionError, RespProtocol

#: Called with (channel, payload) for each message, in order.
OnMessage = Callable[[bytes, bytes], None]


class NoticeConnection(RespProtocol):
    """One Redis connection in subscriber mode; opened with :meth:`RespProtocol.open`."""

    def __init__(self, on_message: OnMessage) -> None:
        super().__init__()
        self._on_message = on_message

    async def subscribe(self, patterns: Iterable[bytes], channels: Iterable[bytes]) -> None:
        """Subscribe; returns once Redis confirmed every pattern and channel."""
        patterns, channels = list(patterns), list(channels)
        try:
            if patterns:
                await self._send(("PSUBSCRIBE", *patterns), len(patterns))
            if channels:
                await self._send(("SUBSCRIBE", *channels), len(channels))
        except (ResponseError, AuthenticationError) as exc:
            raise RespConnectionError(f"Redis refused: {exc}") from None

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

    def _take(self, reply: Any) -> None:
        if isinstance(reply, list) and reply:
            kind = reply[0]
            if kind == b"pmessage" and len(reply) == 4:
                self._on_message(reply[2], reply[3])
                return
            if kind == b"message" and len(reply) == 3:
                self._on_message(reply[1], reply[2])
                return
        super()._take(reply)
