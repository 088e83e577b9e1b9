"""What subscription options do to delivery (XEP-0060 §6.3): deliver, subscription_type,
include_body, show-values, digests and leases, on a real listening AsyncThoonk and Redis.
Digests and leases are kept in Redis and acted on by a router started afresh too."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Mapping

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from thoonk_xmpp.service.events import (
    Digest,
    Event,
    ItemPublished,
    ItemRetracted,
    NodeConfigured,
    NodePurged,
    Recipient,
    SubscriptionChanged,
)
from thoonk_xmpp.service.model import NotificationType, Subscription, SubscriptionState
from thoonk_xmpp.service.node_config import NodeConfig
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.thoonk import keys

from .conftest import ALICE, BOB, OWNER
from .eventharness import Harness, RecordingSink

HEADLINE = NotificationType.HEADLINE
#: A subscription ended by its lease is told as an owner's removal: type normal.
NORMAL = NotificationType.NORMAL


def to(*subs: Subscription, body: bool = False) -> tuple[Recipient, ...]:
    return tuple(sorted((Recipient(s.jid, (s.subid,), body) for s in subs), key=lambda r: r.jid))


def after(seconds: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def two_subscribers(
    harness: Harness, alice_options: dict[str, list[str]], config: dict[str, list[str]]
) -> tuple[Subscription, Subscription]:
    service = harness.service
    await service.create_node(OWNER, "n", config)
    assert await harness.events() == []  # the creation's config notice routed before
    alice = await service.subscribe(ALICE, "n", ALICE.bare, alice_options)
    bob = await service.subscribe(BOB, "n", BOB.bare)
    return alice, bob


async def until(sink: RecordingSink, found: Callable[[Event], bool], timeout: float = 10) -> Event:
    """The first event the sink got (or gets within ``timeout``) that ``found`` accepts,
    taken from what it recorded."""

    async def wait() -> Event:
        while True:
            for at, event in enumerate(sink.events):
                if found(event):
                    del sink.events[at]
                    return event
            sink.changed.clear()
            await sink.changed.wait()

    return await asyncio.wait_for(wait(), timeout)


class Presences:
    """A presence source the test sets: bare JID → full JID → show."""

    def __init__(self) -> None:
        self.now: dict[str, dict[str, str]] = {}

    async def shows(self, bare: str) -> Mapping[str, str]:
        return dict(self.now.get(bare, {}))


async def test_deliver_off_gets_nothing_until_turned_on(harness: Harness) -> None:
    service = harness.service
    alice, bob = await two_subscribers(harness, {"pubsub#deliver": ["0"]}, {})
    await service.publish(OWNER, "n", [("a", b"<a/>")])
    assert await harness.events() == [ItemPublished("n", to(bob), HEADLINE, "a", b"<a/>")]
    await service.set_subscription_options(ALICE, "n", ALICE.bare, None, {"pubsub#deliver": ["1"]})
    await service.publish(OWNER, "n", [("b", b"<b/>")])
    assert await harness.events() == [ItemPublished("n", to(alice, bob), HEADLINE, "b", b"<b/>")]


async def test_a_nodes_subscription_hears_only_of_the_node(harness: Harness) -> None:
    service = harness.service
    alice, bob = await two_subscribers(
        harness, {"pubsub#subscription_type": ["nodes"]}, {"pubsub#notify_config": ["1"]}
    )
    await service.publish(OWNER, "n", [("a", b"<a/>")])
    await service.retract(OWNER, "n", ["a"])
    await service.configure_node(OWNER, "n", {"pubsub#title": ["News"]})
    await service.purge_node(OWNER, "n")
    config = NodeConfig(notify_config=True, title="News")
    assert await harness.events() == [
        ItemPublished("n", to(bob), HEADLINE, "a", b"<a/>"),
        ItemRetracted("n", to(bob), HEADLINE, "a"),
        NodeConfigured("n", to(alice, bob), HEADLINE, config),
        NodePurged("n", to(alice, bob), HEADLINE),
    ]


async def test_include_body_marks_the_recipient(harness: Harness) -> None:
    service = harness.service
    alice, bob = await two_subscribers(harness, {"pubsub#include_body": ["1"]}, {})
    await service.publish(OWNER, "n", [("a", b"<a/>")])
    (event,) = await harness.events()
    assert event.recipients == (
        Recipient(alice.jid, (alice.subid,), body=True),
        Recipient(bob.jid, (bob.subid,), body=False),
    )


async def test_show_values_follow_the_presence(harness: Harness) -> None:
    service = harness.service
    presences = Presences()
    harness.router.presence = presences
    alice, bob = await two_subscribers(harness, {"pubsub#show-values": ["online", "chat"]}, {})
    # presence is read as each event is routed: each step is routed before the next
    await service.publish(OWNER, "n", [("offline", b"<a/>")])
    assert await harness.events() == [ItemPublished("n", to(bob), HEADLINE, "offline", b"<a/>")]
    presences.now[ALICE.bare] = {ALICE.bare + "/phone": "away"}
    await service.publish(OWNER, "n", [("away", b"<a/>")])
    assert await harness.events() == [ItemPublished("n", to(bob), HEADLINE, "away", b"<a/>")]
    presences.now[ALICE.bare] = {ALICE.bare + "/phone": "away", ALICE.bare + "/pc": "chat"}
    await service.publish(OWNER, "n", [("chat", b"<a/>")])
    assert await harness.events() == [
        ItemPublished("n", to(bob), HEADLINE, "chat", b"<a/>"),
        ItemPublished("n", to(alice), HEADLINE, "chat", b"<a/>"),
    ]


async def test_a_full_jid_subscription_follows_that_resource(harness: Harness) -> None:
    service = harness.service
    presences = Presences()
    harness.router.presence = presences
    await service.create_node(OWNER, "n")
    phone = await service.subscribe(
        ALICE, "n", ALICE.bare + "/phone", {"pubsub#show-values": ["online"]}
    )
    presences.now[ALICE.bare] = {ALICE.bare + "/pc": "online", ALICE.bare + "/phone": "dnd"}
    await service.publish(OWNER, "n", [("a", b"<a/>")])
    assert await harness.events() == []
    presences.now[ALICE.bare] = {ALICE.bare + "/phone": "online"}
    await service.publish(OWNER, "n", [("b", b"<b/>")])
    assert await harness.events() == [ItemPublished("n", to(phone), HEADLINE, "b", b"<b/>")]


async def test_a_digest_gathers_in_redis_and_goes_as_one_message(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    service = harness.service
    alice, bob = await two_subscribers(
        harness, {"pubsub#digest": ["1"], "pubsub#digest_frequency": ["500"]}, {}
    )
    await service.publish(OWNER, "n", [("a", b"<a/>"), ("b", b"<b/>")])
    await service.retract(OWNER, "n", ["a"])
    assert await harness.events() == [
        ItemPublished("n", to(bob), HEADLINE, "a", b"<a/>"),
        ItemPublished("n", to(bob), HEADLINE, "b", b"<b/>"),
        ItemRetracted("n", to(bob), HEADLINE, "a"),
    ]
    assert await redis_client.llen(keys.digest("n", alice.subid)) == 3
    digest = await until(harness.sink, lambda e: isinstance(e, Digest))
    assert digest == Digest(
        "n",
        to(alice),
        HEADLINE,
        (
            ItemPublished("n", (), HEADLINE, "a", b"<a/>"),
            ItemPublished("n", (), HEADLINE, "b", b"<b/>"),
            ItemRetracted("n", (), HEADLINE, "a"),
        ),
    )
    assert await redis_client.exists(keys.digest("n", alice.subid), keys.DIGESTS_DUE) == 0


async def test_a_lease_ends_the_subscription_and_tells_the_subscriber(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    service = harness.service
    alice, bob = await two_subscribers(harness, {"pubsub#expire": [after(0.5)]}, {})
    ended = await until(harness.sink, lambda e: isinstance(e, SubscriptionChanged))
    assert ended == SubscriptionChanged(
        "n", to(alice), NORMAL, alice.jid, alice.subid, SubscriptionState.NONE
    )
    assert await service.node_subscriptions(OWNER, "n") == [bob]
    assert await redis_client.exists(keys.SUBSCRIPTION_LEASES) == 0
    await service.publish(OWNER, "n", [("a", b"<a/>")])
    assert await harness.events() == [ItemPublished("n", to(bob), HEADLINE, "a", b"<a/>")]


async def test_a_lease_ending_is_told_to_the_owners_of_a_notify_sub_node(
    harness: Harness,
) -> None:
    alice, _ = await two_subscribers(
        harness, {"pubsub#expire": [after(0.5)]}, {"pubsub#notify_sub": ["1"]}
    )
    told = await until(
        harness.sink,
        lambda e: (
            isinstance(e, SubscriptionChanged)
            and e.recipients == (Recipient(OWNER.bare, ()),)
            and e.state == SubscriptionState.NONE
        ),
    )
    assert told == SubscriptionChanged(
        "n", (Recipient(OWNER.bare, ()),), HEADLINE, alice.jid, alice.subid, SubscriptionState.NONE
    )
    ended = await until(
        harness.sink, lambda e: isinstance(e, SubscriptionChanged) and e.recipients == to(alice)
    )
    assert ended == SubscriptionChanged(
        "n", to(alice), NORMAL, alice.jid, alice.subid, SubscriptionState.NONE
    )


async def test_leases_and_digests_outlive_the_router(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    service = harness.service
    await harness.router.aclose()  # a component that stopped
    await service.create_node(OWNER, "n")
    leased = await service.subscribe(ALICE, "n", ALICE.bare, {"pubsub#expire": [after(0.3)]})
    digest = await service.subscribe(
        BOB, "n", BOB.bare, {"pubsub#digest": ["1"], "pubsub#digest_frequency": ["300"]}
    )
    await service.publish(OWNER, "n", [("a", b"<a/>")])
    # nothing routed the publish: the digest gathers on the catch-up of the next start
    await asyncio.sleep(0.4)  # both are due now, with no component running
    sink = RecordingSink()
    router = EventRouter(service, sink)
    service.thoonk.listener.add_sink(router.on_notice)
    router.start()
    try:
        ended = await until(sink, lambda e: isinstance(e, SubscriptionChanged))
        assert ended == SubscriptionChanged(
            "n", to(leased), NORMAL, leased.jid, leased.subid, SubscriptionState.NONE
        )
        sent = await until(sink, lambda e: isinstance(e, Digest))
        assert sent.recipients == to(digest)
    finally:
        await router.aclose()


async def test_an_item_missed_in_a_gap_is_gathered_once_by_the_catch_up(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    service = harness.service
    await service.create_node(OWNER, "n")
    sub = await service.subscribe(
        ALICE, "n", ALICE.bare, {"pubsub#digest": ["1"], "pubsub#digest_frequency": ["60000"]}
    )
    await service.subscribe(BOB, "n", BOB.bare)  # its event, dropped, says x was routed
    router = harness.router
    router.link_lost()
    dropped = router.ledger.dropped
    await service.publish(OWNER, "n", [("x", b"<x/>")])
    async with asyncio.timeout(10):
        while router.ledger.dropped == dropped:  # noqa: ASYNC110 - moved by the routing task
            await asyncio.sleep(0.005)
    router.link_up()
    await harness.events()  # the catch-up done (the marker comes after it)
    gathered = await redis_client.lrange(keys.digest("n", sub.subid), 0, -1)
    assert len(gathered) == 1


async def test_leases_are_still_ended_after_redis_failed_once(harness: Harness) -> None:
    options = harness.router._options
    real = options.due_leases
    failures: list[int] = []

    async def fails_once(now_ms: int, limit: int = 100) -> list[tuple[str, str]]:
        if not failures:
            failures.append(now_ms)
            raise RedisError("Redis went away")
        return await real(now_ms, limit)

    options.due_leases = fails_once  # type: ignore[method-assign]
    alice, _ = await two_subscribers(harness, {"pubsub#expire": [after(0.3)]}, {})
    ended = await until(harness.sink, lambda e: isinstance(e, SubscriptionChanged))
    assert failures and ended.node == "n"
    assert isinstance(ended, SubscriptionChanged) and ended.subid == alice.subid
