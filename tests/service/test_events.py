"""The event router on a real listening AsyncThoonk: notices from the service and
from plain Thoonk clients become events for the right recipients, as the node
options say (eventharness explains how the absence of an event is proved)."""

from __future__ import annotations

import dataclasses
import json

import redis.asyncio as aioredis

from thoonk_xmpp.service.events import (
    ItemPublished,
    ItemRetracted,
    NodeConfigured,
    NodeDeleted,
    NodePurged,
    Recipient,
    SubscriptionChanged,
)
from thoonk_xmpp.service.model import (
    AccessModel,
    Affiliation,
    Item,
    NotificationType,
    Subscription,
    SubscriptionState,
)
from thoonk_xmpp.service.node_config import NodeConfig
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, Notice, NoticeKind, keys

from .conftest import ALICE, BOB, OWNER, REMOTE
from .eventharness import ADMIN, Harness, RecordingSink, offer, start_harness

HEADLINE = NotificationType.HEADLINE


async def node_with_subscribers(
    service: PubSubService, config: dict[str, list[str]] | None = None
) -> tuple[Subscription, Subscription]:
    await service.create_node(OWNER, "n", config)
    alice = await service.subscribe(ALICE, "n", ALICE.bare)
    bob = await service.subscribe(BOB, "n", BOB.bare + "/phone")
    return alice, bob


def recipients(*subs: Subscription) -> tuple[Recipient, ...]:
    return tuple(sorted((Recipient(s.jid, (s.subid,)) for s in subs), key=lambda r: r.jid))


# --- publish -------------------------------------------------------------------------------


async def test_publish_from_the_service_and_from_a_thoonk_app(
    harness: Harness, app: AsyncThoonk
) -> None:
    service = harness.service
    alice, bob = await node_with_subscribers(service)
    to = recipients(alice, bob)
    await service.publish(OWNER, "n", [("one", b"<a/>")])
    feed = await app.feed("n", codec=BYTES)
    await feed.publish(b"<b/>", id="two")
    await feed.publish(b"<b2/>", id="two")  # an edit is a new notification
    generated = await feed.publish(b"<c/>")
    assert await harness.events() == [
        ItemPublished("n", to, HEADLINE, "one", b"<a/>"),
        ItemPublished("n", to, HEADLINE, "two", b"<b/>"),
        ItemPublished("n", to, HEADLINE, "two", b"<b2/>"),
        ItemPublished("n", to, HEADLINE, generated, b"<c/>"),
    ]


async def test_a_thoonk_app_feed_notifies_service_subscribers(
    harness: Harness, app: AsyncThoonk
) -> None:
    feed = await app.feed("app", codec=BYTES)
    sub = await harness.service.subscribe(REMOTE, "app", REMOTE.bare + "/x")
    await feed.publish(b"hello", id="h")
    await feed.retract("h")
    assert await harness.events() == [
        ItemPublished("app", recipients(sub), HEADLINE, "h", b"hello"),
        ItemRetracted("app", recipients(sub), HEADLINE, "h"),
    ]


async def test_no_subscribers_no_event(harness: Harness) -> None:
    await harness.service.create_node(OWNER, "n")
    await harness.service.publish(OWNER, "n", [("a", b"x")])
    assert await harness.events() == []


async def test_deliver_payloads_off_sends_no_payload(harness: Harness) -> None:
    alice, bob = await node_with_subscribers(
        harness.service, {"pubsub#deliver_payloads": ["0"], "pubsub#notification_type": ["normal"]}
    )
    await harness.service.publish(OWNER, "n", [("a", b"secret")])
    assert await harness.events() == [
        ItemPublished("n", recipients(alice, bob), NotificationType.NORMAL, "a", None)
    ]


async def test_transient_node_notifies_without_storing(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    alice, _ = await node_with_subscribers(harness.service, {"pubsub#persist_items": ["0"]})
    await harness.service.unsubscribe(BOB, "n", BOB.bare + "/phone")
    await harness.service.publish(OWNER, "n", [("a", b"<x/>")])
    assert await harness.events() == [ItemPublished("n", recipients(alice), HEADLINE, "a", b"<x/>")]
    assert await redis_client.exists(keys.items("n")) == 0


async def test_deliver_notifications_off_silences_everything(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    service = harness.service
    await node_with_subscribers(
        service, {"pubsub#deliver_notifications": ["0"], "pubsub#notify_config": ["1"]}
    )
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2"), ("c", b"3")])
    await service.retract(OWNER, "n", ["a"])
    await service.retract(OWNER, "n", ["b"], notify=True)
    await service.purge_node(OWNER, "n")
    await service.configure_node(OWNER, "n", {"pubsub#title": ["quiet"]})
    await service.delete_node(OWNER, "n")
    assert await harness.events() == []
    assert await redis_client.exists(keys.node_subscriptions("n")) == 0


# --- retract and purge ------------------------------------------------------------------


async def test_notify_retract(harness: Harness) -> None:
    service = harness.service
    alice, bob = await node_with_subscribers(
        service, {"pubsub#max_items": ["2"], "pubsub#publish_node_full": ["retract-oldest"]}
    )
    to = recipients(alice, bob)
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
    await service.retract(OWNER, "n", ["b", "a"])
    await service.publish(OWNER, "n", [("c", b"3"), ("d", b"4"), ("e", b"5")])  # trims c
    assert await harness.events() == [
        ItemPublished("n", to, HEADLINE, "a", b"1"),
        ItemPublished("n", to, HEADLINE, "b", b"2"),
        ItemRetracted("n", to, HEADLINE, "b"),
        ItemRetracted("n", to, HEADLINE, "a"),
        ItemPublished("n", to, HEADLINE, "c", b"3"),
        ItemPublished("n", to, HEADLINE, "d", b"4"),
        ItemRetracted("n", to, HEADLINE, "c"),
        ItemPublished("n", to, HEADLINE, "e", b"5"),
    ]


async def test_notify_retract_off_unless_asked(harness: Harness) -> None:
    service = harness.service
    alice, bob = await node_with_subscribers(service, {"pubsub#notify_retract": ["0"]})
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2"), ("c", b"3")])
    await harness.events()
    await service.retract(OWNER, "n", ["a"])
    await service.retract(OWNER, "n", ["b"], notify=True)  # <retract notify='true'>
    assert await harness.events() == [ItemRetracted("n", recipients(alice, bob), HEADLINE, "b")]


async def test_discard_oldest_trims_silently(harness: Harness, app: AsyncThoonk) -> None:
    service = harness.service
    alice, bob = await node_with_subscribers(
        service, {"pubsub#max_items": ["2"], "pubsub#publish_node_full": ["discard-oldest"]}
    )
    to = recipients(alice, bob)
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2"), ("c", b"3")])  # trims a
    await service.retract(OWNER, "n", ["b"])  # an explicit retract is still announced
    # a Thoonk app trimming the node (two at once after max_items was lowered) is silent too
    feed = await app.feed("n", codec=BYTES)
    await feed.publish_many([(b"d", "d"), (b"e", "e"), (b"f", "f")])  # trims c, d
    await service.configure_node(OWNER, "n", {"pubsub#max_items": ["1"]})
    await feed.publish(b"g", id="g")  # trims e, f
    await feed.retract("g")
    assert await harness.events() == [
        ItemPublished("n", to, HEADLINE, "a", b"1"),
        ItemPublished("n", to, HEADLINE, "b", b"2"),
        ItemPublished("n", to, HEADLINE, "c", b"3"),
        ItemRetracted("n", to, HEADLINE, "b"),
        ItemPublished("n", to, HEADLINE, "d", b"d"),
        ItemPublished("n", to, HEADLINE, "e", b"e"),
        ItemPublished("n", to, HEADLINE, "f", b"f"),
        ItemPublished("n", to, HEADLINE, "g", b"g"),
        ItemRetracted("n", to, HEADLINE, "g"),
    ]
    assert (await app.get_config("n"))["pubsub#publish_node_full"] == "discard-oldest"


async def test_trims_are_silent_by_default(harness: Harness) -> None:
    service = harness.service
    alice, bob = await node_with_subscribers(service, {"pubsub#max_items": ["1"]})
    to = recipients(alice, bob)
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])  # trims a
    assert await harness.events() == [
        ItemPublished("n", to, HEADLINE, "a", b"1"),
        ItemPublished("n", to, HEADLINE, "b", b"2"),
    ]


async def test_retract_oldest_announces_trims(harness: Harness) -> None:
    service = harness.service
    alice, bob = await node_with_subscribers(
        service, {"pubsub#max_items": ["1"], "pubsub#publish_node_full": ["retract-oldest"]}
    )
    to = recipients(alice, bob)
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
    assert await harness.events() == [
        ItemPublished("n", to, HEADLINE, "a", b"1"),
        ItemRetracted("n", to, HEADLINE, "a"),
        ItemPublished("n", to, HEADLINE, "b", b"2"),
    ]
    # the option is read when the trim is routed: switching it takes effect at once
    await service.configure_node(OWNER, "n", {"pubsub#publish_node_full": ["discard-oldest"]})
    await service.publish(OWNER, "n", [("c", b"3")])
    assert await harness.events() == [ItemPublished("n", to, HEADLINE, "c", b"3")]
    await service.configure_node(OWNER, "n", {"pubsub#publish_node_full": ["retract-oldest"]})
    await service.publish(OWNER, "n", [("d", b"4")])
    assert await harness.events() == [
        ItemRetracted("n", to, HEADLINE, "c"),
        ItemPublished("n", to, HEADLINE, "d", b"4"),
    ]


async def test_purge_is_one_event(harness: Harness, app: AsyncThoonk) -> None:
    service = harness.service
    alice, bob = await node_with_subscribers(service)
    to = recipients(alice, bob)
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2"), ("c", b"3")])
    await harness.events()
    await service.purge_node(OWNER, "n")
    await service.publish(OWNER, "n", [("d", b"4")])
    await service.retract(OWNER, "n", ["d"])  # later retracts are reported again
    assert await harness.events() == [
        NodePurged("n", to, HEADLINE),
        ItemPublished("n", to, HEADLINE, "d", b"4"),
        ItemRetracted("n", to, HEADLINE, "d"),
    ]
    # a purge by a Thoonk app is reported the same way
    feed = await app.feed("n", codec=BYTES)
    await feed.publish_many([(b"x", "x"), (b"y", "y")])
    await feed.purge()
    assert await harness.events() == [
        ItemPublished("n", to, HEADLINE, "x", b"x"),
        ItemPublished("n", to, HEADLINE, "y", b"y"),
        NodePurged("n", to, HEADLINE),
    ]


async def test_retracts_owed_by_a_purge_are_not_swallowed_across_a_listener_reconnect(
    harness: Harness, thoonk: AsyncThoonk
) -> None:
    service = harness.service
    alice, bob = await node_with_subscribers(service)
    await harness.events()
    # a purge of 3 items announced, then the subscription lost before its retracts came
    await offer(harness.router, Notice(NoticeKind.PURGE, "n", count=3))
    await thoonk.listener.stop()
    await thoonk.listener.start()
    await service.publish(OWNER, "n", [("a", b"1")])
    await service.retract(OWNER, "n", ["a"])
    to = recipients(alice, bob)
    # "a" may come from the catch-up that follows the reconnect (with its delay stamp)
    events = [
        dataclasses.replace(e, replay=False, published_ms=None)
        if isinstance(e, ItemPublished)
        else e
        for e in await harness.events()
    ]
    assert events == [
        NodePurged("n", to, HEADLINE),
        ItemPublished("n", to, HEADLINE, "a", b"1"),
        ItemRetracted("n", to, HEADLINE, "a"),
    ]


async def test_purge_silent_without_notify_retract(harness: Harness) -> None:
    service = harness.service
    await node_with_subscribers(service, {"pubsub#notify_retract": ["0"]})
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
    await harness.events()
    await service.purge_node(OWNER, "n")
    assert await harness.events() == []


# --- config --------------------------------------------------------------------------------


async def test_notify_config(harness: Harness) -> None:
    service = harness.service
    alice, bob = await node_with_subscribers(service)
    to = recipients(alice, bob)
    await service.configure_node(OWNER, "n", {"pubsub#title": ["not announced"]})
    assert await harness.events() == []
    await service.configure_node(OWNER, "n", {"pubsub#notify_config": ["1"]})
    new = NodeConfig(title="not announced", notify_config=True)
    assert await harness.events() == [NodeConfigured("n", to, HEADLINE, new)]
    await service.configure_node(OWNER, "n", {"pubsub#deliver_payloads": ["0"]})
    assert await harness.events() == [NodeConfigured("n", to, HEADLINE, None)]


# --- delete ---------------------------------------------------------------------------------


async def test_delete_with_redirect_then_everything_is_forgotten(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    service = harness.service
    alice, bob = await node_with_subscribers(service, {"pubsub#notification_type": ["normal"]})
    await service.set_affiliations(OWNER, "n", {REMOTE.bare: Affiliation.PUBLISHER})
    await service.delete_node(OWNER, "n", redirect="xmpp:pubsub.example.org?;node=next")
    assert await harness.events() == [
        NodeDeleted(
            "n",
            recipients(alice, bob),
            NotificationType.NORMAL,
            "xmpp:pubsub.example.org?;node=next",
        )
    ]
    for key in (
        keys.node_subscriptions("n"),
        keys.node_affiliations("n"),
        keys.node_tombstone("n"),
    ):
        assert await redis_client.exists(key) == 0
    for jid in (ALICE.bare, BOB.bare):
        fields = await redis_client.hkeys(keys.jid_subscriptions(jid))
        assert not [f for f in fields if f.startswith(jid.encode() + b"\x00")]
    for jid in (OWNER.bare, REMOTE.bare):
        assert await redis_client.smembers(keys.jid_affiliations(jid)) == set()
    assert await service.own_subscriptions(ALICE) == []
    assert await service.own_affiliations(OWNER) == {}


async def test_notify_delete_off(harness: Harness, redis_client: aioredis.Redis) -> None:
    service = harness.service
    await node_with_subscribers(service, {"pubsub#notify_delete": ["0"]})
    await service.delete_node(OWNER, "n")
    assert await harness.events() == []
    assert await redis_client.exists(keys.node_subscriptions("n")) == 0
    assert await redis_client.exists(keys.node_tombstone("n")) == 0


async def test_delete_by_a_thoonk_app(
    harness: Harness, app: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    alice, bob = await node_with_subscribers(harness.service)
    await app.delete_feed("n")
    assert await harness.events() == [NodeDeleted("n", recipients(alice, bob), HEADLINE, None)]
    assert await redis_client.exists(keys.node_subscriptions("n")) == 0
    assert await redis_client.exists(keys.node_affiliations("n")) == 0


async def test_delete_reaches_whitelisted_subscribers_only(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    service = harness.service
    alice, _ = await node_with_subscribers(service)
    await service.configure_node(OWNER, "n", {"pubsub#access_model": ["whitelist"]})
    await service.set_affiliations(OWNER, "n", {ALICE.bare: Affiliation.MEMBER})
    await service.delete_node(OWNER, "n")
    assert await harness.events() == [NodeDeleted("n", recipients(alice), HEADLINE, None)]
    tombstone = await redis_client.get(keys.node_tombstone("n"))
    assert tombstone is None


# --- who gets events --------------------------------------------------------------------------


async def test_whitelist_members_only(harness: Harness) -> None:
    service = harness.service
    await service.create_node(OWNER, "n")
    stranger = await service.subscribe(REMOTE, "n", REMOTE.bare)  # while the node was open
    await service.configure_node(OWNER, "n", {"pubsub#access_model": ["whitelist"]})
    await service.set_affiliations(
        OWNER, "n", {ALICE.bare: Affiliation.MEMBER, BOB.bare: Affiliation.PUBLISHER}
    )
    alice = await service.subscribe(ALICE, "n", ALICE.bare + "/desk")
    bob = await service.subscribe(BOB, "n", BOB.bare)
    owner = await service.subscribe(OWNER, "n", OWNER.bare)
    await service.publish(OWNER, "n", [("a", b"1")])
    assert await harness.events() == [
        ItemPublished("n", recipients(alice, bob, owner), HEADLINE, "a", b"1")
    ]
    # back to open: the earlier subscriber hears again
    await service.configure_node(OWNER, "n", {"pubsub#access_model": [AccessModel.OPEN.value]})
    await service.publish(OWNER, "n", [("b", b"2")])
    assert await harness.events() == [
        ItemPublished("n", recipients(alice, bob, owner, stranger), HEADLINE, "b", b"2")
    ]


async def test_outcast_hears_nothing(harness: Harness) -> None:
    service = harness.service
    alice, bob = await node_with_subscribers(service)
    await service.set_affiliations(OWNER, "n", {BOB.bare: Affiliation.OUTCAST})
    await service.publish(OWNER, "n", [("a", b"1")])
    # but that its subscription ended (XEP-0060 §8.8.4)
    ended = SubscriptionChanged(
        "n", recipients(bob), NotificationType.NORMAL, bob.jid, bob.subid, SubscriptionState.NONE
    )
    assert await harness.events() == [
        ended,
        ItemPublished("n", recipients(alice), HEADLINE, "a", b"1"),
    ]


async def test_several_subscriptions_of_one_jid_are_one_recipient(harness: Harness) -> None:
    service = harness.service
    await service.create_node(OWNER, "n")
    first = await service.store.subscribe("n", ALICE.bare)
    second = await service.store.subscribe("n", ALICE.bare)
    phone = await service.subscribe(ALICE, "n", ALICE.bare + "/phone")
    await service.publish(OWNER, "n", [("a", b"1")])
    [event] = await harness.events()
    assert event.recipients == (
        Recipient(ALICE.bare, tuple(sorted((first.subid, second.subid)))),
        Recipient(phone.jid, (phone.subid,)),
    )


async def test_other_thoonk_types_raise_no_events(harness: Harness, app: AsyncThoonk) -> None:
    queue = await app.queue("queue")
    # even with a subscription stored by hand, a queue is not a node
    await harness.service.store.subscribe("queue", ALICE.bare)
    await queue.put("x")
    assert await harness.events() == []


async def test_a_failing_sink_does_not_stop_delivery(service: PubSubService) -> None:
    harness = await start_harness(service, RecordingSink(fail_first=True))
    try:
        await node_with_subscribers(service)
        await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
        events = await harness.events()
        assert [e.item_id for e in events if isinstance(e, ItemPublished)] == ["a", "b"]
    finally:
        await harness.router.aclose()


# --- last published item -------------------------------------------------------------------


async def test_send_last_item_on_subscribe(harness: Harness) -> None:
    service = harness.service
    await service.create_node(
        OWNER, "n", {"pubsub#send_last_published_item": ["on_sub"], "pubsub#title": ["t"]}
    )
    await service.publish(OWNER, "n", [("old", b"1"), ("last", b"2")])
    await harness.events()
    sub = await service.subscribe(ALICE, "n", ALICE.bare + "/new")
    last = await service.last_item("n")
    assert last is not None and last.published_ms is not None
    assert last == Item("last", b"2", last.published_ms)
    await harness.router.send_last_item(sub, last)
    assert await harness.events() == [
        ItemPublished(
            "n",
            recipients(sub),
            HEADLINE,
            "last",
            b"2",
            replay=True,
            published_ms=last.published_ms,
        )
    ]
    # nothing to send on an empty node
    await service.purge_node(OWNER, "n")
    await harness.events()
    await harness.router.send_last_item(sub, await service.last_item("n"))
    assert await harness.events() == []


async def test_send_last_item_honours_node_options(harness: Harness) -> None:
    service = harness.service
    await service.create_node(OWNER, "never")
    await service.create_node(
        OWNER,
        "bare",
        {"pubsub#send_last_published_item": ["on_sub"], "pubsub#deliver_payloads": ["0"]},
    )
    await service.create_node(
        OWNER,
        "quiet",
        {"pubsub#send_last_published_item": ["on_sub"], "pubsub#deliver_notifications": ["0"]},
    )
    sent: dict[str, Subscription] = {}
    for node in ("never", "bare", "quiet"):
        await service.publish(OWNER, node, [("i", b"payload")])
    await harness.events()
    lasts: dict[str, Item | None] = {}
    for node in ("never", "bare", "quiet"):
        sent[node] = await service.subscribe(ALICE, node, ALICE.bare)
        lasts[node] = await service.last_item(node)
        await harness.router.send_last_item(sent[node], lasts[node])
    bare_last = lasts["bare"]
    assert bare_last is not None
    assert await harness.events() == [
        ItemPublished(
            "bare",
            recipients(sent["bare"]),
            HEADLINE,
            "i",
            None,
            replay=True,
            published_ms=bare_last.published_ms,
        )
    ]


async def test_tombstone_carries_what_the_delete_event_needs(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    """Without a router the tombstone stays, holding the node options the event needs."""
    await service.create_node(
        OWNER,
        "n",
        {"pubsub#notification_type": ["normal"], "pubsub#access_model": ["whitelist"]},
    )
    await service.delete_node(OWNER, "n", redirect=None)
    facts = json.loads(await redis_client.get(keys.node_tombstone("n")))
    assert facts == {
        "redirect": None,
        "notify_delete": True,
        "notification_type": "normal",
        "access_model": "whitelist",
    }


async def test_legacy_json_string_config_node_notifies(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    await redis_client.sadd(keys.FEEDS, "old")
    await redis_client.set(keys.config("old"), json.dumps({"type": "feed"}))
    sub = await harness.service.subscribe(ALICE, "old", ALICE.bare)
    await harness.service.publish(ADMIN, "old", [("a", b"x")])
    assert await harness.events() == [ItemPublished("old", recipients(sub), HEADLINE, "a", b"x")]


async def test_late_delete_notice_spares_a_recreated_node(harness: Harness) -> None:
    service = harness.service
    await node_with_subscribers(service)
    await service.delete_node(OWNER, "n")
    await harness.events()
    await service.create_node(ALICE, "n")
    sub = await service.subscribe(BOB, "n", BOB.bare)
    # the delete notice of the old node, heard only now
    await offer(harness.router, Notice(NoticeKind.DELETE, "n"))
    assert await harness.events() == []
    assert await service.node_affiliations(ALICE, "n") == {ALICE.bare: Affiliation.OWNER}
    assert await service.node_subscriptions(ALICE, "n") == [sub]
