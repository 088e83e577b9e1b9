"""Helpers for the queue and job tests: extra clients, waiting for blocked consumers."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from thoonk_xmpp.thoonk import AsyncThoonk


class Clients:
    """Opens more AsyncThoonk clients (each with its own connection pool)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opened: list[AsyncThoonk] = []

    async def open(self) -> AsyncThoonk:
        client = AsyncThoonk.from_url(self.url)
        await client.connect()
        self.opened.append(client)
        return client

    async def aclose(self) -> None:
        for client in self.opened:
            await client.aclose()


async def blocked_on(redis: aioredis.Redis, command: str, count: int = 1) -> None:
    """Return once ``count`` clients are blocked in ``command`` (seen in CLIENT LIST)."""
    for _ in range(2000):
        if sum(c.get("cmd") == command for c in await redis.client_list()) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {count} clients ever blocked in {command}")


async def subscribed(redis: aioredis.Redis, channel: bytes, count: int = 1) -> None:
    """Return once ``count`` connections subscribe ``channel`` (PUBSUB NUMSUB)."""
    for _ in range(2000):
        ((_, subscribers),) = await redis.pubsub_numsub(channel)
        if subscribers >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {count} connections ever subscribed {channel!r}")
