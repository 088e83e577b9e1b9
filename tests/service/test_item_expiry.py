"""pubsub#item_expire on the real Redis: the expiring-nodes index, the sweep script (what it
removes, what it announces, what it leaves), and the router's sweep sending retract events."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from tests.dbstate import Tap, redis_ms, refused
from thoonk_xmpp.service.errors import InvalidNodeConfig
from thoonk_xmpp.service.events import ItemPublished, ItemRetracted
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk, keys

from .conftest import BOB, OWNER
from .eventharness import Harness, RecordingSink, start_harness


def everyone(node: str) -> bool:
    return True


async def age(client: aioredis.Redis, node: str, item_id: str, seconds: float) -> None:
    """Make item ``item_id`` look stored ``seconds`` ago (its score is its time in ms)."""
    then = await redis_ms(client) - round(seconds * 1000)
    assert await client.zadd(keys.ids(node), {item_id: then}, xx=True, ch=True) == 1


async def retract_heard(tap: Tap, node: str) -> None:
    """Until the tap hears a retract notice of ``node``."""
    while (await tap.next())[0] != keys.retract_channel(node):
        pass


async def ids(client: aioredis.Redis, node: str) -> list[bytes]:
    return list(await client.zrange(keys.ids(node), 0, -1))


async def test_expired_items_go_with_retract_notices_and_younger_ones_stay(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n", {"pubsub#item_expire": ["60"]})
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2"), ("c", b"3")])
    await age(redis_client, "n", "a", 61)
    await age(redis_client, "n", "b", 60.5)
    await age(redis_client, "n", "c", 59)

    async with Tap(redis_client) as tap:
        removed = await service.expiry.sweep(everyone)
        published = await tap.rest()

    assert removed == {"n": ["a", "b"]}
    assert published == [(keys.retract_channel("n"), b"a"), (keys.retract_channel("n"), b"b")]
    assert await ids(redis_client, "n") == [b"c"]
    assert await redis_client.hkeys(keys.items("n")) == [b"c"]


async def test_a_node_is_indexed_when_configured_with_item_expire(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "plain")
    await service.create_node(OWNER, "made", {"pubsub#item_expire": ["5"]})
    assert await redis_client.smembers(keys.EXPIRING_NODES) == {b"made"}

    await service.configure_node(OWNER, "plain", {"pubsub#item_expire": ["7"]})

    assert await redis_client.smembers(keys.EXPIRING_NODES) == {b"made", b"plain"}


async def test_nodes_that_no_longer_expire_leave_the_index(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    for node in ("kept", "unset", "deleted"):
        await service.create_node(OWNER, node, {"pubsub#item_expire": ["60"]})
        await service.publish(OWNER, node, [("i", b"x")])
    await service.configure_node(OWNER, "unset", {"pubsub#item_expire": ["max"]})
    await service.delete_node(OWNER, "deleted")
    await age(redis_client, "unset", "i", 3600)

    assert await service.expiry.sweep(everyone) == {}

    assert await redis_client.smembers(keys.EXPIRING_NODES) == {b"kept"}
    assert await ids(redis_client, "unset") == [b"i"]


async def test_only_the_nodes_this_instance_delivers_are_swept(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    for node in ("mine", "theirs"):
        await service.create_node(OWNER, node, {"pubsub#item_expire": ["1"]})
        await service.publish(OWNER, node, [("old", b"x")])
        await age(redis_client, node, "old", 10)

    assert await service.expiry.sweep(lambda node: node == "mine") == {"mine": ["old"]}

    assert await ids(redis_client, "theirs") == [b"old"]


async def test_a_node_a_thoonk_app_configured_is_found_by_the_start_up_scan(
    service: PubSubService, app: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    await app.create_feed("by-app", {"pubsub#item_expire": "30"})
    await app.create_feed("other", {"max_length": "5"})

    await service.expiry.index_all(service)

    assert await redis_client.smembers(keys.EXPIRING_NODES) == {b"by-app"}


async def test_ordered_nodes_refuse_item_expire_and_change_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "ordered", {"thoonkx#node_kind": ["sorted_feed"]})

    error = await refused(
        redis_client,
        InvalidNodeConfig,
        service.configure_node(OWNER, "ordered", {"pubsub#item_expire": ["5"]}),
    )
    assert error.field == "pubsub#item_expire"
    await refused(
        redis_client,
        InvalidNodeConfig,
        service.create_node(
            OWNER, "o2", {"thoonkx#node_kind": ["sorted_feed"], "pubsub#item_expire": ["5"]}
        ),
    )


async def test_a_bad_item_expire_is_refused_and_changes_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    for bad in ("0", "-5", "soon"):
        await refused(
            redis_client,
            InvalidNodeConfig,
            service.configure_node(OWNER, "n", {"pubsub#item_expire": [bad]}),
        )


async def test_the_router_expires_items_by_itself_with_retract_events(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    service = harness.service
    tap = Tap(redis_client)
    await tap.start()
    await service.create_node(OWNER, "told", {"pubsub#item_expire": ["1"]})
    await service.create_node(
        OWNER, "silent", {"pubsub#item_expire": ["1"], "pubsub#notify_retract": ["0"]}
    )
    for node in ("told", "silent"):
        await service.subscribe(BOB, node, BOB.bare)
        await service.publish(OWNER, node, [("old", b"x")])

    async def retracted() -> ItemRetracted:
        while True:
            for event in harness.sink.events:
                if isinstance(event, ItemRetracted):
                    return event
            harness.sink.changed.clear()
            await harness.sink.changed.wait()

    event = await asyncio.wait_for(retracted(), 10)

    assert (event.node, event.item_id) == ("told", "old")

    try:
        await asyncio.wait_for(retract_heard(tap, "silent"), 10)
    finally:
        await tap.close()
    assert await ids(redis_client, "silent") == []
    events = await harness.events()  # everything routed up to now, in order
    assert [(type(e), e.node, e.item_id) for e in events if e.node == "silent"] == [
        (ItemPublished, "silent", "old")
    ]


async def test_a_starting_router_expires_the_items_of_a_node_a_thoonk_app_configured(
    service: PubSubService, app: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    await app.create_feed("by-app", {"pubsub#item_expire": "1"})
    await (await app.feed("by-app")).publish("x", "old")

    async with Tap(redis_client) as tap:
        harness = await start_harness(service, RecordingSink())
        try:
            await asyncio.wait_for(retract_heard(tap, "by-app"), 10)
        finally:
            await harness.router.aclose()

    assert await ids(redis_client, "by-app") == []
