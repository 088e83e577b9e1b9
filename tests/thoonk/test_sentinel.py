"""Redis Sentinel: the client follows the master through a real failover.

A master, its replica and one Sentinel (quorum 1), all private on loopback. The master
is killed; the Sentinel promotes the replica; our client's next commands and its
listener's next subscription reach the new master, and nothing written before the
failover (and replicated) is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.thoonk import AsyncThoonk
from tools.localservers import RedisServer, SentinelServer


@pytest.fixture
def watched() -> Iterator[tuple[RedisServer, RedisServer, SentinelServer]]:
    with (
        RedisServer() as master,
        RedisServer(replica_of=master.port) as replica,
        SentinelServer(master.port) as sentinel,
    ):
        yield master, replica, sentinel


async def until(holds: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await holds():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


async def test_the_client_follows_the_master_through_a_failover(
    watched: tuple[RedisServer, RedisServer, SentinelServer],
) -> None:
    master, replica, sentinel = watched
    heard: list[str] = []
    async with AsyncThoonk.from_sentinel(
        [("127.0.0.1", sentinel.port)], sentinel.name, listen=True
    ) as client:
        client.register_handler("publish", lambda feed, item, item_id: heard.append(item_id))
        feed = await client.feed("news")
        await feed.publish("before", "b1")
        async with aioredis.Redis(port=replica.port) as direct:

            async def replicated() -> bool:
                return bool(await direct.exists("feed.items:news"))

            await until(replicated, "the replica has the item")
        master.stop()  # the master dies
        async with aioredis.Redis(port=replica.port) as direct:

            async def promoted() -> bool:
                return (await direct.info("replication"))["role"] == "master"

            await until(promoted, "the Sentinel promotes the replica")

        async def published() -> bool:
            try:
                await feed.publish("after", "a1")
            except Exception:
                return False
            return True

        await until(published, "a publish reaches the new master")
        assert await feed.get_ids() == ["b1", "a1"]  # nothing lost across the failover
        await client.listener.wait_ready()
        await feed.publish("later", "l1")

        async def heard_it() -> bool:
            return "l1" in heard

        await until(heard_it, "the listener hears the new master")


async def test_the_service_settings_reach_redis_through_the_sentinels(
    watched: tuple[RedisServer, RedisServer, SentinelServer],
) -> None:
    from thoonk_xmpp.settings import Settings
    from thoonk_xmpp.xmpp.runner import _thoonk

    master, _, sentinel = watched
    settings = Settings.from_mapping(
        {
            "component": {"jid": "pubsub.localhost", "secret": "s"},
            "redis": {
                "url": "redis://127.0.0.1:1/0",  # only its password and database count
                "sentinels": [f"127.0.0.1:{sentinel.port}"],
                "sentinel_master": sentinel.name,
            },
        },
        {},
    )
    async with _thoonk(settings.redis) as client:
        await (await client.feed("through")).publish("x", "x1")
    async with aioredis.Redis(port=master.port) as direct:
        assert await direct.hget("feed.items:through", "x1") == b"x"
