"""Queue: each item goes to exactly one consumer, oldest first (high priority first).

Consumers take from the right of ``feed.ids``: a normal put pushes on the left
(LPUSH), a high-priority put on the right (RPUSH), as thoonk.py and the
contract do. thoonk.js 0.5.x pushes the other way round (contract §6), so its
puts into the same queue come out in the opposite order.

Taking an item (pop the id, read and delete the item) is one script, so no
crash can leave an id popped with its item still stored, or the reverse.
A consumer that finds the queue empty waits with a command that changes
nothing (see :func:`wait_for_list`) and tries again.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Iterable
from enum import IntEnum
from typing import TYPE_CHECKING, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import keys
from .base import FeedObject
from .errors import ConnectionLost, Empty
from .names import new_ids
from .replies import blist, integer

if TYPE_CHECKING:
    import redis.asyncio as aioredis

T = TypeVar("T")

# A wait longer than this is split into several BLMOVE calls: a blocked read
# must end before the connection's socket timeout (redis-py 8: 5 s by default).
_MAX_WAIT = 2.0


class Priority(IntEnum):
    """Where a put goes in a queue or job feed."""

    #: Back of the line (LPUSH).
    NORMAL = 0
    #: Front of the line (RPUSH): taken before every normal item.
    HIGH = 1


def priority_push(priority: Priority | bool) -> str:
    """The push command for ``priority`` (``True`` means high, as in thoonk.py)."""
    if not isinstance(priority, int) or int(priority) not in (0, 1):
        raise ValueError(f"priority must be Priority.NORMAL or Priority.HIGH, got {priority!r}")
    return "RPUSH" if priority else "LPUSH"


def ordered_puts(items: list[bytes], push: str) -> tuple[list[bytes], list[bytes]]:
    """New ids for ``items`` and the scripts' ``id, item, ...`` arguments.

    The arguments are ordered so that the first item given is the first taken
    (a batch of RPUSHes goes in reversed).
    """
    ids = new_ids(len(items))
    pairs = list(zip(ids, items, strict=True))
    if push == "RPUSH":
        pairs.reverse()
    return ids, [part for pair in pairs for part in pair]


def deadline_after(timeout: float | None, block: bool = True) -> float | None:
    """Loop time at which a wait of ``timeout`` seconds ends (None: never).

    ``timeout`` 0 waits forever, like thoonk.py's ``BRPOP key 0``; ``block=False``
    does not wait at all (and takes no timeout).
    """
    if not block:
        if timeout is not None:
            raise ValueError("block=False does not wait: leave timeout out")
        return asyncio.get_running_loop().time()
    if timeout is None or timeout == 0:
        return None
    if isinstance(timeout, bool) or not timeout > 0:
        raise ValueError(f"timeout must be None or >= 0 seconds, got {timeout!r}")
    return asyncio.get_running_loop().time() + timeout


def _longest_wait(redis: aioredis.Redis) -> float:
    """How long one BLMOVE may block: half the socket timeout, at most ``_MAX_WAIT``.

    Redis may answer a timed-out BLMOVE up to ~100 ms late (it checks at its
    ``hz`` rate), so blocking gets need a socket timeout of 0.3 s or more.
    """
    socket_timeout = redis.connection_pool.connection_kwargs.get("socket_timeout")
    if isinstance(socket_timeout, int | float) and socket_timeout > 0:
        return max(0.001, min(_MAX_WAIT, socket_timeout / 2))
    return _MAX_WAIT


async def wait_for_list(redis: aioredis.Redis, key: bytes, deadline: float | None) -> bool:
    """Block until the list ``key`` is not empty; False once ``deadline`` has passed.

    ``BLMOVE key key RIGHT RIGHT`` moves the tail onto itself: it returns as
    soon as the list holds something and leaves it as it was, so a waiting
    client never holds an id outside Redis (a BRPOP would, until its caller
    wrote the id somewhere). Every waiter wakes; the caller retries its script
    and those that lose the race wait again.
    """
    wait = _longest_wait(redis)
    if deadline is not None:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining < 0.001:
            return False
        wait = min(remaining, wait)
    try:
        # Not redis.blmove(): it types the timeout as int; Redis takes fractions.
        await redis.execute_command(  # type: ignore[no-untyped-call]
            "BLMOVE", key, key, "RIGHT", "RIGHT", f"{wait:.3f}"
        )
    except ResponseError as exc:
        if "WRONGTYPE" in str(exc):
            return True  # the caller's script reports it as WrongFeedType
        raise
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise ConnectionLost(str(exc)) from exc
    return True


class PriorityPuts(FeedObject[T], abc.ABC):
    """Base of Queue and Job: puts at either end of ``feed.ids``, a batch in one script."""

    NORMAL = Priority.NORMAL
    HIGH = Priority.HIGH

    async def put(self, item: T, priority: Priority | bool = Priority.NORMAL) -> str:
        """Add ``item``; ``HIGH`` priority puts it before every waiting one. Returns its id."""
        (new_id,) = await self.put_many([item], priority)
        return new_id

    async def put_many(
        self, items: Iterable[T], priority: Priority | bool = Priority.NORMAL
    ) -> list[str]:
        """Add several items in one atomic call; they are taken in the order given."""
        push = priority_push(priority)
        encoded = [self.codec.encode(i) for i in items]
        if not encoded:
            return []
        ids, args = ordered_puts(encoded, push)
        await self._put(push, args)
        return self._ids_text(ids)

    @abc.abstractmethod
    async def _put(self, push: str, args: list[bytes]) -> None:
        """Run the type's put script with ``push`` and the ``id, item, ...`` arguments."""


class Queue(PriorityPuts[T]):
    """A Thoonk queue (``type=queue``). Open with ``await thoonk.queue(name)``.

    Nothing is published for queue traffic.
    """

    type_name = "queue"

    async def _put(self, push: str, args: list[bytes]) -> None:
        await self._run(
            "queue/put",
            (keys.FEEDS, self._ids, keys.config(self.name), self._items, keys.publishes(self.name)),
            (push, *args),
        )

    async def get(self, timeout: float | None = None, *, block: bool = True) -> T:
        """Take the next item, waiting up to ``timeout`` seconds (None or 0: forever).

        ``block=False`` takes an item only if one is waiting. Raises Empty when
        nothing came in time. Cancelling a waiting ``get`` loses nothing.
        """
        deadline = deadline_after(timeout, block)
        while True:
            taken = await self._run(
                "queue/get", (keys.FEEDS, self._ids, keys.config(self.name), self._items), ()
            )
            if taken is not None:
                return self._decode(blist(taken)[1])
            if not await wait_for_list(self.redis, self._ids, deadline):
                raise Empty(self.name, timeout if block else 0)

    async def get_ids(self) -> list[str]:
        """Ids of the waiting items, in the order they will be taken."""
        return self._ids_text(blist(await self.redis.lrange(self._ids, 0, -1))[::-1])

    async def count(self) -> int:
        """Number of waiting items."""
        return integer(await self.redis.llen(self._ids))

    length = count
