"""The client's connection pool: more concurrent commands than connections wait their turn."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from thoonk_xmpp.thoonk import AsyncThoonk
from tools.localservers import RedisServer


async def _blocked_clients(redis_client: aioredis.Redis, count: int) -> None:
    """Wait until ``count`` clients block at the server (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        if (await redis_client.info("clients"))["blocked_clients"] >= count:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"never {count} blocked clients")
        await asyncio.sleep(0.01)


async def test_more_concurrent_commands_than_connections_wait_for_a_free_one(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    async with AsyncThoonk.from_url(redis_server.url, max_connections=4) as thoonk:
        waiting = [
            asyncio.ensure_future(thoonk.redis.blpop(["pool-test"], timeout=0)) for _ in range(10)
        ]
        await _blocked_clients(redis_client, 4)
        assert not any(task.done() for task in waiting)  # six wait for a connection, no error
        await redis_client.rpush("pool-test", *range(10))
        popped = await asyncio.wait_for(asyncio.gather(*waiting), 10)
    assert sorted(int(value) for _, value in popped) == list(range(10))
