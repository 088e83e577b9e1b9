"""Subscription options in Redis: written with the subscription, changed atomically, gone with
it, refused without a trace, and seen by every component through the state notice
(XEP-0060 §6.3, §6.4)."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.dbstate import refused
from thoonk_xmpp.service.errors import (
    Forbidden,
    InvalidOptions,
    InvalidSubId,
    NodeNotFound,
    NotSubscribed,
    SubIdRequired,
)
from thoonk_xmpp.service.model import Affiliation
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.service.sub_options import DEFAULT, ShowValue, SubscriptionOptions
from thoonk_xmpp.thoonk import AsyncThoonk, keys
from tools.localservers import RedisServer

from .conftest import ADMIN, ALICE, BOB, OWNER, make_policy

IN_AN_HOUR = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
EXPIRE = IN_AN_HOUR.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def stored_options(redis: aioredis.Redis, node: str) -> dict[str, str]:
    raw = await redis.hgetall(keys.node_subscription_options(node))
    return {k.decode(): v.decode() for k, v in raw.items()}


async def leases(redis: aioredis.Redis) -> list[tuple[bytes, float]]:
    return list(await redis.zrange(keys.SUBSCRIPTION_LEASES, 0, -1, withscores=True))


@pytest.fixture
async def other(redis_server: RedisServer) -> AsyncIterator[PubSubService]:
    """A second service on its own client: another component on the same Redis."""
    async with AsyncThoonk.from_url(redis_server.url, listen=True) as client:
        yield PubSubService(client, make_policy())


async def test_subscribe_with_options_stores_them_with_the_subscription(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    sub = await service.subscribe(
        ALICE, "n", ALICE.bare, {"pubsub#deliver": ["0"], "pubsub#expire": [EXPIRE]}
    )
    assert not sub.options.deliver and sub.options.expire is not None
    assert await stored_options(redis_client, "n") == {sub.subid: f'{{"d":"0","e":"{EXPIRE}"}}'}
    assert await leases(redis_client) == [
        (b"n\x00" + sub.subid.encode(), float(sub.options.expire_ms or 0))
    ]
    (listed,) = await service.node_subscriptions(OWNER, "n")
    assert listed.options == sub.options
    (state_sub,) = (await service.store.state("n")).subscriptions
    assert state_sub.options == sub.options
    (mine,) = await service.store.jid_subscriptions(ALICE.bare)
    assert mine.options == sub.options


async def test_default_options_store_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    sub = await service.subscribe(ALICE, "n", ALICE.bare)
    assert sub.options is DEFAULT
    assert await stored_options(redis_client, "n") == {}
    assert await redis_client.exists(keys.SUBSCRIPTION_LEASES) == 0


async def test_options_are_read_set_and_set_back_to_the_defaults(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    sub = await service.subscribe(ALICE, "n", ALICE.bare + "/phone")
    # the bare JID names the subscriptions of its resources
    found, queue_node = await service.subscription_options(ALICE, "n", ALICE.bare)
    assert (found, queue_node) == (sub, False)
    changed = await service.set_subscription_options(
        ALICE, "n", ALICE.bare + "/phone", None, {"pubsub#show-values": ["online"]}
    )
    assert changed.options == SubscriptionOptions(show_values=(ShowValue.ONLINE,))
    assert (await service.subscription_options(ALICE, "n", ALICE.bare))[0].options == (
        changed.options
    )
    await service.set_subscription_options(
        ALICE, "n", ALICE.bare, sub.subid, {"pubsub#expire": [EXPIRE]}
    )
    assert len(await leases(redis_client)) == 1
    back = await service.set_subscription_options(
        ALICE,
        "n",
        ALICE.bare,
        None,
        {"pubsub#show-values": [s.value for s in ShowValue], "pubsub#expire": [""]},
    )
    assert back.options == DEFAULT
    assert await stored_options(redis_client, "n") == {}
    assert await leases(redis_client) == []


async def test_subscribing_again_with_options_changes_the_subscription(
    service: PubSubService,
) -> None:
    await service.create_node(OWNER, "n")
    first = await service.subscribe(ALICE, "n", ALICE.bare)
    again = await service.subscribe(ALICE, "n", ALICE.bare, {"pubsub#include_body": ["1"]})
    assert again.subid == first.subid and again.options.include_body


async def test_refusals_change_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    sub = await service.subscribe(ALICE, "n", ALICE.bare + "/a", {"pubsub#deliver": ["0"]})
    await service.subscribe(BOB, "n", BOB.bare + "/a")
    await service.subscribe(BOB, "n", BOB.bare + "/b")
    bad = {"pubsub#deliver": ["1"], "pubsub#digest_frequency": ["never"]}
    error = await refused(
        redis_client,
        InvalidOptions,
        service.set_subscription_options(ALICE, "n", ALICE.bare, None, bad),
    )
    assert error.field == "pubsub#digest_frequency"
    await refused(
        redis_client, InvalidOptions, service.subscribe(ALICE, "n", ALICE.bare + "/a", bad)
    )
    await refused(redis_client, InvalidOptions, service.subscribe(ALICE, "n", ALICE.bare, bad))
    await refused(
        redis_client,
        Forbidden,
        service.set_subscription_options(ALICE, "n", BOB.bare + "/a", None, {}),
    )
    await refused(
        redis_client, SubIdRequired, service.set_subscription_options(BOB, "n", BOB.bare, None, {})
    )
    await refused(
        redis_client,
        InvalidSubId,
        service.set_subscription_options(ALICE, "n", ALICE.bare, "nope", {}),
    )
    await refused(
        redis_client,
        NotSubscribed,
        service.set_subscription_options(ALICE, "n", ALICE.bare + "/z", None, {}),
    )
    await refused(
        redis_client,
        NodeNotFound,
        service.set_subscription_options(ALICE, "none", ALICE.bare, None, {}),
    )
    # a service admin may manage anyone's options
    await service.set_subscription_options(
        ADMIN, "n", ALICE.bare, sub.subid, {"pubsub#deliver": ["1"]}
    )
    assert (await service.subscription_options(ALICE, "n", ALICE.bare))[0].options == DEFAULT


async def test_options_and_leases_go_with_their_subscription(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    expiring = {"pubsub#expire": [EXPIRE]}
    sub = await service.subscribe(ALICE, "n", ALICE.bare, expiring)
    await service.unsubscribe(ALICE, "n", ALICE.bare)
    assert await stored_options(redis_client, "n") == {}
    assert await leases(redis_client) == []

    await service.subscribe(BOB, "n", BOB.bare, expiring)
    await service.set_affiliations(OWNER, "n", {BOB.bare: Affiliation.OUTCAST})
    assert await stored_options(redis_client, "n") == {}
    assert await leases(redis_client) == []

    sub = await service.subscribe(ALICE, "n", ALICE.bare, expiring)
    await service.store.drop_node("n")
    assert await redis_client.exists(keys.node_subscription_options("n")) == 0
    assert await leases(redis_client) == []
    assert sub.subid


async def test_the_default_options_of_the_service_and_of_a_node(service: PubSubService) -> None:
    assert await service.default_subscription_options() == (DEFAULT, False)
    await service.create_node(OWNER, "n")
    assert await service.default_subscription_options("n") == (DEFAULT, False)
    with pytest.raises(NodeNotFound):
        await service.default_subscription_options("none")


async def test_a_change_by_another_component_is_seen_after_its_notice(
    service: PubSubService, other: PubSubService
) -> None:
    await service.create_node(OWNER, "n")
    sub = await service.subscribe(ALICE, "n", ALICE.bare)
    assert (await service.store.state("n")).subscriptions[0].options == DEFAULT  # cached
    await other.set_subscription_options(ALICE, "n", ALICE.bare, None, {"pubsub#deliver": ["0"]})
    async with asyncio.timeout(3.0):
        # polls the cached state until the state notice lands
        while (await service.store.state("n")).subscriptions[0].options.deliver:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert sub.subid == (await service.store.state("n")).subscriptions[0].subid
