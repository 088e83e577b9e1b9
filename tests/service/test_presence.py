"""The presence store (service/presence.py) on the real test Redis."""

from __future__ import annotations

import redis.asyncio as aioredis

from thoonk_xmpp.service.presence import PresenceStore, Show, show_of
from thoonk_xmpp.thoonk import keys


async def test_a_new_resource_comes_online_once(redis_client: aioredis.Redis) -> None:
    store = PresenceStore(redis_client)
    assert await store.available("ann@example.org/phone") is True
    assert await store.available("ann@example.org/phone", Show.AWAY) is False
    assert await store.available("ann@example.org/laptop", Show.DND) is True
    assert await store.shows("ann@example.org") == {
        "ann@example.org/phone": Show.AWAY,
        "ann@example.org/laptop": Show.DND,
    }
    assert await redis_client.hgetall(keys.presence("ann@example.org")) == {
        b"ann@example.org/phone": b"away",
        b"ann@example.org/laptop": b"dnd",
    }


async def test_availability_of_full_and_bare_jids(redis_client: aioredis.Redis) -> None:
    store = PresenceStore(redis_client)
    await store.available("bo@example.org/a")
    await store.available("bo@example.org/b", Show.XA)
    assert await store.is_available("bo@example.org")
    assert await store.is_available("bo@example.org/a")
    assert not await store.is_available("bo@example.org/c")
    await store.unavailable("bo@example.org/a")
    assert not await store.is_available("bo@example.org/a")
    assert await store.shows("bo@example.org") == {"bo@example.org/b": Show.XA}
    await store.unavailable("bo@example.org/b")
    assert not await store.is_available("bo@example.org")
    assert await store.shows("bo@example.org") == {}
    assert not await redis_client.exists(keys.presence("bo@example.org"))


async def test_a_bare_unavailable_ends_every_resource(redis_client: aioredis.Redis) -> None:
    store = PresenceStore(redis_client)
    await store.available("cy@example.org/a")
    await store.available("cy@example.org/b")
    await store.unavailable("cy@example.org")
    assert not await store.is_available("cy@example.org")
    assert await store.available("cy@example.org/a") is True  # online again: news again


async def test_an_entity_without_resources_is_stored_under_its_bare_jid(
    redis_client: aioredis.Redis,
) -> None:
    store = PresenceStore(redis_client)
    assert await store.available("gateway.example.org") is True
    assert await store.is_available("gateway.example.org")
    assert await store.shows("gateway.example.org") == {"gateway.example.org": Show.ONLINE}


def test_show_texts() -> None:
    assert show_of(None) is Show.ONLINE
    assert show_of(" away ") is Show.AWAY
    assert show_of("sleeping") is Show.ONLINE  # not an RFC 6121 value: available
