"""Pending subscriptions of ``authorize`` nodes in Redis (real Redis, the real router): where
they are kept, what their state notices carry, the events routed from them, races between
deciders, node deletion, and the admin CLI's view."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from tests.dbstate import snapshot
from thoonk_xmpp.service.errors import NotPending, PendingSubscription, SubscriptionRequired
from thoonk_xmpp.service.events import Recipient, SubscriptionChanged, SubscriptionRequested
from thoonk_xmpp.service.model import Affiliation, NotificationType, SubscriptionState
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.service.store import NodeStore
from thoonk_xmpp.service.subscription_events import subscription_events
from thoonk_xmpp.thoonk import AsyncThoonk, keys

from .admincli import AdminCli
from .conftest import ALICE, BOB, OWNER
from .eventharness import Harness

AUTHORIZE = {"pubsub#access_model": ["authorize"]}
NORMAL = NotificationType.NORMAL


async def test_a_request_waits_beside_the_subscriptions(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n", AUTHORIZE)

    asked = await service.subscribe(ALICE, "n", "alice@example.org/phone")

    assert asked.state == SubscriptionState.PENDING
    assert await redis_client.hgetall(keys.node_pending("n")) == {
        asked.subid.encode(): b"alice@example.org/phone"
    }
    assert await redis_client.hgetall(keys.node_subscriptions("n")) == {}
    state = await service.store.state("n")
    assert state.pending == (asked,) and state.subscriptions == ()
    assert await service.own_subscriptions(ALICE) == [asked]  # found through the JID index
    with pytest.raises(SubscriptionRequired):
        await service.get_items(ALICE, "n")


async def test_asking_twice_changes_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n", AUTHORIZE)
    await service.subscribe(ALICE, "n", ALICE.bare)
    before = await snapshot(redis_client)

    with pytest.raises(PendingSubscription):
        await service.subscribe(ALICE, "n", ALICE.bare)
    with pytest.raises(PendingSubscription):  # the script refuses too (another instance)
        await service.store.request_subscription("n", ALICE.bare)

    assert await snapshot(redis_client) == before


async def test_only_the_first_of_two_racing_decisions_counts(
    service: PubSubService, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n", AUTHORIZE)
    asked = await service.subscribe(ALICE, "n", ALICE.bare)
    other = NodeStore(thoonk, service.node_config_of)  # another instance's store

    outcomes = await asyncio.gather(
        service.store.decide_subscription(asked, True),
        other.decide_subscription(asked, False),
        return_exceptions=True,
    )

    assert sum(isinstance(o, NotPending) for o in outcomes) == 1
    won = next(o for o in outcomes if not isinstance(o, BaseException))
    subs = await redis_client.hgetall(keys.node_subscriptions("n"))
    assert (subs != {}) == (won.state == SubscriptionState.SUBSCRIBED)
    assert await redis_client.hgetall(keys.node_pending("n")) == {}


async def test_state_notices_carry_what_happened(service: PubSubService, harness: Harness) -> None:
    await service.create_node(OWNER, "n", AUTHORIZE)
    await service.set_affiliations(OWNER, "n", {"co@example.org": Affiliation.OWNER})
    asked = await service.subscribe(ALICE, "n", "alice@example.org/phone")
    await service.decide_subscription(OWNER, "n", asked.subid, None, True)
    denied = await service.subscribe(BOB, "n", BOB.bare)
    await service.decide_subscription(OWNER, "n", None, BOB.bare, False)

    owners = (Recipient("co@example.org", ()), Recipient(OWNER.bare, ()))
    alice = Recipient("alice@example.org/phone", (asked.subid,))
    subscribed, none = SubscriptionState.SUBSCRIBED, SubscriptionState.NONE
    assert await harness.events() == [
        SubscriptionRequested("n", owners, NORMAL, alice.jid, asked.subid),
        SubscriptionChanged("n", (alice,), NORMAL, alice.jid, asked.subid, subscribed),
        SubscriptionRequested("n", owners, NORMAL, BOB.bare, denied.subid),
        SubscriptionChanged(
            "n", (Recipient(BOB.bare, (denied.subid,)),), NORMAL, BOB.bare, denied.subid, none
        ),
    ]


async def test_a_request_decided_before_its_notice_is_routed_is_not_offered(
    service: PubSubService,
) -> None:
    """The router reads the node after the notice: a request no longer waiting is not sent."""
    await service.create_node(OWNER, "n", AUTHORIZE)
    asked = await service.subscribe(ALICE, "n", ALICE.bare)
    facts = [(SubscriptionState.PENDING.value, ALICE.bare, asked.subid)]
    waiting = await service.store.state("n")
    assert [type(e) for e in subscription_events(waiting, facts)] == [SubscriptionRequested]

    await service.decide_subscription(OWNER, "n", asked.subid, None, True)

    assert list(subscription_events(await service.store.state("n"), facts)) == []


async def test_deleting_the_node_drops_its_requests(
    service: PubSubService, harness: Harness, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n", AUTHORIZE)
    await service.subscribe(ALICE, "n", ALICE.bare)

    await service.delete_node(OWNER, "n")
    await harness.events()  # the delete notice routed: the bridge dropped the node's keys

    assert not await redis_client.exists(keys.node_pending("n"))
    assert await service.own_subscriptions(ALICE) == []


async def test_the_admin_cli_lists_and_denies_requests(
    cli: AdminCli, service: PubSubService
) -> None:
    await service.create_node(OWNER, "n", AUTHORIZE)
    asked = await service.subscribe(ALICE, "n", ALICE.bare)

    listed = await cli.ok("subscriptions", "list", "n", "--json")
    assert listed.json() == [
        {"node": "n", "jid": ALICE.bare, "subid": asked.subid, "subscription": "pending"}
    ]
    assert (
        await cli.ok("subscriptions", "list", "n")
    ).out == f"n\t{ALICE.bare}\t{asked.subid}\tpending\n"
    await cli.ok("subscriptions", "remove", "n", ALICE.bare)

    assert await service.node_subscriptions(OWNER, "n") == []
