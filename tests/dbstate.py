"""What tests see of Redis directly: whole-database snapshots (asyncio and blocking), a raw
pub/sub tap that records every (channel, payload) pair as bytes, the server clock, and
:func:`refused` — a refused request must change no key and publish no notice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
import redis
import redis.asyncio as aioredis

from thoonk_xmpp.thoonk import keys
from thoonk_xmpp.thoonk.replies import optional_bytes

#: Key → ``(type, value)``, or ``(type, value, EXPIRES)`` for a key with a TTL.
State = dict[bytes, tuple[Any, ...]]
E = TypeVar("E", bound=BaseException)

#: Third element of a snapshot entry whose key will expire (the TTL itself keeps moving).
EXPIRES = "expires"

#: Channel the tap publishes to itself: everything before it was published earlier.
MARK = b"test.tap.mark"


def _queue_reads(pipe: Any, kind: bytes, key: bytes) -> None:
    """Queue on ``pipe`` the read of ``key``'s full value (by its type), then its TTL."""
    match kind:
        case b"string":
            pipe.get(key)
        case b"list":
            pipe.lrange(key, 0, -1)
        case b"hash":
            pipe.hgetall(key)
        case b"set":
            pipe.smembers(key)
        case b"zset":
            pipe.zrange(key, 0, -1, withscores=True)
        case b"stream":
            pipe.xrange(key)
        case _:
            pipe.exists(key)  # a placeholder reply; the value is recorded as None
    pipe.pttl(key)


def _entry(kind: bytes, value: Any, pttl: int) -> tuple[Any, ...]:
    """One snapshot entry; hashes and sets sorted so a failing diff reads well."""
    match kind:
        case b"hash":
            value = sorted(value.items())
        case b"set":
            value = sorted(value)
        case b"string" | b"list" | b"zset" | b"stream":
            pass
        case _:
            value = None
    return (kind, value) if pttl < 0 else (kind, value, EXPIRES)


async def snapshot(client: aioredis.Redis) -> State:
    """Every key of the database with its Redis type, full value (zsets with scores) and
    whether it expires. No DUMP, so a failing comparison shows what changed.

    Presence keys are left out: they follow what the XMPP server says of its users
    (any client logging in or out meanwhile), not what a request did.  So are the
    delivery bookkeeping keys (watermarks, instances, leases), which the router moves on
    its own clock whatever the requests do."""
    state: State = {}
    async for key in client.scan_iter(count=1000):
        if key.startswith((keys.PRESENCE, keys.DELIVERY_PREFIX)):
            continue
        kind = optional_bytes(await client.type(key)) or b"none"
        pipe = client.pipeline()
        _queue_reads(pipe, kind, key)
        value, pttl = await pipe.execute()
        state[bytes(key)] = _entry(kind, value, pttl)
    return state


def snapshot_blocking(client: redis.Redis) -> State:
    """:func:`snapshot` for a blocking client."""
    state: State = {}
    for key in client.scan_iter(count=1000):
        kind = optional_bytes(client.type(key)) or b"none"
        pipe = client.pipeline()
        _queue_reads(pipe, kind, key)
        value, pttl = pipe.execute()
        state[bytes(key)] = _entry(kind, value, pttl)
    return state


async def redis_ms(client: aioredis.Redis) -> int:
    """The Redis server clock in epoch milliseconds."""
    seconds, micros = await client.time()
    return int(seconds) * 1000 + int(micros) // 1000


class Tap:
    """A raw ``PSUBSCRIBE *`` connection: what every subscriber would receive.

    Use ``async with Tap(client) as tap`` or call :meth:`start` and :meth:`close`.
    """

    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        self.pubsub = client.pubsub()

    async def start(self) -> None:
        await self.pubsub.psubscribe(b"*")

        async def confirmed() -> None:
            while True:
                message = await self.pubsub.get_message(timeout=1)
                if message is not None and message["type"] == "psubscribe":
                    return

        await asyncio.wait_for(confirmed(), 10)

    async def close(self) -> None:
        await self.pubsub.aclose()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> Tap:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _message(self) -> tuple[bytes, bytes]:
        while True:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is not None and message["type"] == "pmessage":
                return bytes(message["channel"]), bytes(message["data"])

    async def next(self, timeout: float = 10) -> tuple[bytes, bytes]:
        """The next message published anywhere."""
        return await asyncio.wait_for(self._message(), timeout)

    async def take(self, count: int) -> list[tuple[bytes, bytes]]:
        """The next ``count`` messages, in order."""
        return [await self.next() for _ in range(count)]

    async def rest(self) -> list[tuple[bytes, bytes]]:
        """Every message published since the last read, up to a mark we publish now."""
        await self.redis.publish(MARK, b"")
        seen: list[tuple[bytes, bytes]] = []

        async def collect() -> None:
            while (message := await self._message())[0] != MARK:
                seen.append(message)

        await asyncio.wait_for(collect(), 10)
        return seen


async def refused(client: aioredis.Redis, expected: type[E], request: Awaitable[Any]) -> E:
    """Await ``request``; it must raise ``expected`` and change and publish nothing."""
    async with Tap(client) as tap:
        before = await snapshot(client)
        with pytest.raises(expected) as caught:
            await request
        after = await snapshot(client)
        published = await tap.rest()
    assert after == before
    assert published == []
    return caught.value
