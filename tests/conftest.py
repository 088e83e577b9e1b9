"""Session-wide real servers: one private redis-server for the whole run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.thoonk import AsyncThoonk
from tools.localservers import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A raw client on a freshly flushed database."""
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def thoonk(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> AsyncIterator[AsyncThoonk]:
    """A listening AsyncThoonk on the flushed database."""
    async with AsyncThoonk.from_url(redis_server.url, listen=True) as client:
        yield client
