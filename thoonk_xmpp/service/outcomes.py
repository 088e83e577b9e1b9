"""Writes whose Redis connection dropped with them in flight: find out what happened.

No write has a timeout of ours (a hung Redis runs it when it resumes, and the
answer waits for that).  When the connection drops with the write in flight,
the write either ran or never will: once Redis answers again, the service
looks at the state it would have left (``happened``) and answers with that
outcome, running the write again only when the state says it did not happen.
The state is a proxy: another client changing the same items in between can
mislead it (a purge's feed refilled looks like a purge that never ran).  The
service uses this for publish, retract, purge and delete; its other writes
whose connection dropped are answered with an error and may have been made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from thoonk_xmpp.thoonk import ConnectionLost

from .errors import OutcomeUnknown

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Longest wait, in seconds, for Redis to answer again before giving up on an outcome.
PATIENCE = 60.0


async def settled(
    write: Callable[[], Awaitable[T]],
    happened: Callable[[], Awaitable[T | None]],
    *,
    patience: float = PATIENCE,
) -> T:
    """Run ``write``; after a lost connection, its result if ``happened`` finds it done.

    ``happened`` returns the write's result when the write took effect, or
    None when it did not (then it is run again).  Raises
    :class:`~.errors.OutcomeUnknown` when Redis stays away for ``patience`` seconds.
    """
    try:
        return await write()
    except ConnectionLost as exc:
        lost = exc
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    delay = 0.05
    while True:
        try:
            done = await happened()
            if done is not None:
                log.info("a write in flight when Redis went away had taken effect")
                return done
            return await write()
        except (ConnectionLost, RedisConnectionError, RedisTimeoutError):
            if loop.time() + delay > deadline:
                raise OutcomeUnknown(str(lost)) from lost
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
