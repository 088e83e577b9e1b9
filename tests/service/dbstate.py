"""Whole-database snapshots and a raw pub/sub tap: a refused request must change
no key and publish no notice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.thoonk.replies import optional_bytes

State = dict[bytes, tuple[bytes, Any]]
E = TypeVar("E", bound=BaseException)

#: Channel the tap publishes to itself: everything before it was published earlier.
MARK = b"test.service.mark"


async def snapshot(redis: aioredis.Redis) -> State:
    """Every key with its Redis type, full value and TTL presence (no DUMP, diffs read well)."""
    state: State = {}
    async for key in redis.scan_iter(count=1000):
        kind = optional_bytes(await redis.type(key)) or b"none"
        value: Any
        match kind:
            case b"string":
                value = await redis.get(key)
            case b"list":
                value = await redis.lrange(key, 0, -1)
            case b"hash":
                value = sorted((await redis.hgetall(key)).items())
            case b"set":
                value = sorted(await redis.smembers(key))
            case b"zset":
                value = await redis.zrange(key, 0, -1, withscores=True)
            case _:
                value = None
        state[key] = (kind, value)
    return state


class Tap:
    """A ``PSUBSCRIBE *`` connection: every message any subscriber would get."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.pubsub = redis.pubsub()

    async def __aenter__(self) -> Tap:
        await self.pubsub.psubscribe(b"*")
        while True:
            message = await self.pubsub.get_message(timeout=10)
            if message is not None and message["type"] == "psubscribe":
                return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pubsub.aclose()  # type: ignore[no-untyped-call]

    async def rest(self) -> list[tuple[bytes, bytes]]:
        """Every message since the last call, up to a mark published now."""
        await self.redis.publish(MARK, b"")
        seen: list[tuple[bytes, bytes]] = []

        async def collect() -> None:
            while True:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is None or message["type"] != "pmessage":
                    continue
                if message["channel"] == MARK:
                    return
                seen.append((bytes(message["channel"]), bytes(message["data"])))

        await asyncio.wait_for(collect(), 10)
        return seen


async def refused(redis: aioredis.Redis, expected: type[E], request: Awaitable[Any]) -> E:
    """Await ``request``; it must raise ``expected`` and change and publish nothing."""
    async with Tap(redis) as tap:
        before = await snapshot(redis)
        with pytest.raises(expected) as caught:
            await request
        after = await snapshot(redis)
        published = await tap.rest()
    assert after == before
    assert published == []
    return caught.value
