"""Fixtures shared by the Thoonk tests (the servers and clients come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap
from tools.localservers import RedisServer

from .jobtools import Clients


@pytest.fixture
async def tap(redis_client: aioredis.Redis) -> AsyncIterator[Tap]:
    """A started raw tap on the flushed database."""
    async with Tap(redis_client) as wire:
        yield wire


@pytest.fixture
async def clients(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> AsyncIterator[Clients]:
    """Extra AsyncThoonk clients on the flushed database, closed at the end."""
    pool = Clients(redis_server.url)
    yield pool
    await pool.aclose()
