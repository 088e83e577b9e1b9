"""Test helpers that look at Redis directly: full-database snapshots and a raw
pub/sub tap that records every (channel, payload) pair as bytes."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from thoonk_xmpp.thoonk.replies import optional_bytes

State = dict[bytes, tuple[bytes, Any]]

#: Channel the tap publishes to itself to prove that nothing else came before.
MARK = b"test.tap.mark"


async def snapshot(redis: aioredis.Redis) -> State:
    """Every key with its Redis type and full value, readable in a failing diff (no DUMP)."""
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


async def redis_ms(redis: aioredis.Redis) -> int:
    """The Redis server clock in epoch milliseconds."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


class Tap:
    """A raw ``PSUBSCRIBE *`` connection: what every subscriber would receive."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.pubsub = redis.pubsub()

    async def start(self) -> None:
        await self.pubsub.psubscribe(b"*")
        while True:
            message = await self.pubsub.get_message(timeout=10)
            if message is not None and message["type"] == "psubscribe":
                return

    async def close(self) -> None:
        await self.pubsub.aclose()  # type: ignore[no-untyped-call]

    async def next(self, timeout: float = 10) -> tuple[bytes, bytes]:
        async def wait() -> tuple[bytes, bytes]:
            while True:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None and message["type"] == "pmessage":
                    return bytes(message["channel"]), bytes(message["data"])

        return await asyncio.wait_for(wait(), timeout)

    async def take(self, count: int) -> list[tuple[bytes, bytes]]:
        """The next ``count`` messages, in order."""
        return [await self.next() for _ in range(count)]

    async def rest(self) -> list[tuple[bytes, bytes]]:
        """Every message published since the last read, up to a mark we publish now."""
        await self.redis.publish(MARK, b"")
        seen: list[tuple[bytes, bytes]] = []
        while True:
            message = await self.next()
            if message[0] == MARK:
                return seen
            seen.append(message)


class Recorder:
    """Collects handler calls as tuples ``(kind, *args)``; waits for a count."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._changed = asyncio.Event()

    def handler(self, kind: str) -> Any:
        def record(*args: Any) -> None:
            self.calls.append((kind, *args))
            self._changed.set()

        return record

    async def wait_for(self, count: int, timeout: float = 10) -> list[tuple[Any, ...]]:
        async def wait() -> None:
            while len(self.calls) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)
        return self.calls
