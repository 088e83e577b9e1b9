"""The event router takes notices in batches: one read of the batch's nodes, events in
notice order, a broken node never holding back the others, a delete invalidating what
was read for its node.

Notices given to ``on_notice`` one after another without yielding to the loop form one
batch (queueing them does not suspend); real notices come from the listening client.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from thoonk_xmpp.service.events import ItemPublished, ItemRetracted, NodeDeleted, Recipient
from thoonk_xmpp.service.model import NotificationType, Subscription
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, Notice, NoticeKind, keys

from .conftest import ALICE, BOB, OWNER
from .eventharness import Harness, offer

HEADLINE = NotificationType.HEADLINE


def to(*subs: Subscription) -> tuple[Recipient, ...]:
    return tuple(sorted((Recipient(s.jid, (s.subid,)) for s in subs), key=lambda r: r.jid))


def publish(node: str, item_id: str, item: bytes = b"x") -> Notice:
    return Notice(NoticeKind.PUBLISH, node, item_id=item_id, item=item)


async def test_a_burst_of_thoonk_publishes_keeps_order_across_nodes(
    harness: Harness, app: AsyncThoonk
) -> None:
    service = harness.service
    subs = {}
    for node, actor in (("a", ALICE), ("b", BOB)):
        await service.create_node(OWNER, node)
        subs[node] = await service.subscribe(actor, node, actor.bare)
    feeds = {node: await app.feed(node, codec=BYTES) for node in ("a", "b")}
    expected = []
    for n in range(300):  # more than one batch
        node = "ab"[n % 2]
        await feeds[node].publish_many([(f"{n}".encode(), f"i{n}")])
        expected.append(ItemPublished(node, to(subs[node]), HEADLINE, f"i{n}", f"{n}".encode()))
    assert await harness.events() == expected


async def test_one_batch_reads_its_node_once(harness: Harness) -> None:
    service = harness.service
    await service.create_node(OWNER, "n")
    alice = await service.subscribe(ALICE, "n", ALICE.bare)
    reads: list[str] = []
    load_many = harness.router._load_many

    async def counting(nodes: list[str]) -> dict[str, object]:
        reads.extend(nodes)
        return await load_many(nodes)  # type: ignore[return-value]

    harness.router._load_many = counting  # type: ignore[assignment,method-assign]
    for n in range(5):
        await offer(harness.router, publish("n", f"i{n}"))
    assert await harness.events() == [
        ItemPublished("n", to(alice), HEADLINE, f"i{n}", b"x") for n in range(5)
    ]
    assert reads.count("n") == 1


async def test_a_node_that_cannot_be_read_does_not_hold_back_the_batch(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    service = harness.service
    await service.create_node(OWNER, "good")
    sub = await service.subscribe(ALICE, "good", ALICE.bare)
    # a key of the wrong type where the bad node's subscriptions belong
    await redis_client.set(keys.node_subscriptions("bad"), "not a hash")
    await offer(harness.router, publish("bad", "b1"))
    await offer(harness.router, publish("good", "g1"))
    await offer(harness.router, Notice(NoticeKind.RETRACT, "good", item_id="g1"))
    assert await harness.events() == [
        ItemPublished("good", to(sub), HEADLINE, "g1", b"x"),
        ItemRetracted("good", to(sub), HEADLINE, "g1"),
    ]


async def test_a_delete_in_a_batch_makes_later_notices_read_the_node_again(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    """Notices heard after their node's feed was removed from Redis, in one batch."""
    service = harness.service
    await service.create_node(OWNER, "gone")
    alice = await service.subscribe(ALICE, "gone", ALICE.bare)
    await harness.events()
    # the feed removed behind the router's back: no delete notice, subscriptions stay
    await redis_client.srem(keys.FEEDS, "gone")
    await redis_client.delete(*keys.all_keys("gone"))
    await offer(harness.router, publish("gone", "before"))
    await offer(harness.router, Notice(NoticeKind.DELETE, "gone"))
    await offer(harness.router, publish("gone", "after"))
    # routing the delete dropped the subscriptions: "after" reaches nobody
    assert await harness.events() == [
        ItemPublished("gone", to(alice), HEADLINE, "before", b"x"),
        NodeDeleted("gone", to(alice), HEADLINE, None),
    ]
    assert await harness.service.store.subscriptions("gone") == []


async def test_drain_waits_for_queued_notices(harness: Harness) -> None:
    service = harness.service
    await service.create_node(OWNER, "n")
    sub = await service.subscribe(ALICE, "n", ALICE.bare)
    await harness.events()
    for n in range(50):
        await offer(harness.router, publish("n", f"i{n}"))
    await harness.router.drain()
    delivered = [e for e in harness.sink.events if isinstance(e, ItemPublished) and e.node == "n"]
    assert delivered == [ItemPublished("n", to(sub), HEADLINE, f"i{n}", b"x") for n in range(50)]


async def test_an_unstarted_router_routes_at_once(service: PubSubService) -> None:
    from thoonk_xmpp.service.router import EventRouter

    from .eventharness import RecordingSink

    sink = RecordingSink()
    router = EventRouter(service, sink)
    await service.create_node(OWNER, "n")
    sub = await service.subscribe(ALICE, "n", ALICE.bare)
    await offer(router, publish("n", "i"))
    # not started: routed before on_notice returned, waiting in the event queue
    assert router._queue.qsize() == 1
    router.start()
    try:
        await router.drain()
    finally:
        await router.aclose()
    assert sink.events == [ItemPublished("n", to(sub), HEADLINE, "i", b"x")]


# --- inline routing at light load ---------------------------------------------------------


async def cached(harness: Harness, *nodes: str) -> None:
    """Make sure the nodes' states are cached (after every notice sent so far was heard)."""
    await harness.events()
    await harness.service.store.states_of(nodes)
    assert all(node in harness.service.store.states for node in nodes)


async def test_an_idle_router_delivers_a_notice_of_a_cached_node_before_returning(
    harness: Harness,
) -> None:
    service = harness.service
    await service.create_node(OWNER, "n")
    alice = await service.subscribe(ALICE, "n", ALICE.bare)
    await cached(harness, "n")
    await offer(harness.router, publish("n", "i1"))
    # no task ran in between: the event was handed to the sink inside on_notice
    assert harness.sink.events == [ItemPublished("n", to(alice), HEADLINE, "i1", b"x")]
    harness.sink.events.clear()


async def test_a_notice_of_a_cached_node_does_not_overtake_a_queued_one(
    harness: Harness,
) -> None:
    service = harness.service
    subs = {}
    for node in ("cold", "warm"):
        await service.create_node(OWNER, node)
        subs[node] = await service.subscribe(ALICE, node, ALICE.bare)
    await cached(harness, "warm")
    service.store.forget("cold")
    await offer(harness.router, publish("cold", "c1"))  # not cached: queued
    await offer(harness.router, publish("warm", "w1"))  # cached, but behind "c1"
    await offer(harness.router, publish("cold", "c2"))
    assert await harness.events() == [
        ItemPublished("cold", to(subs["cold"]), HEADLINE, "c1", b"x"),
        ItemPublished("warm", to(subs["warm"]), HEADLINE, "w1", b"x"),
        ItemPublished("cold", to(subs["cold"]), HEADLINE, "c2", b"x"),
    ]


async def test_an_event_routed_inline_waits_behind_pending_deliveries(
    harness: Harness,
) -> None:
    service = harness.service
    await service.create_node(OWNER, "n")
    alice = await service.subscribe(ALICE, "n", ALICE.bare)
    await cached(harness, "n")
    replay = ItemPublished("n", to(alice), HEADLINE, "old", b"x", replay=True)
    await harness.router._emit(replay)  # as send_last_item queues it
    await offer(harness.router, publish("n", "new"))
    assert await harness.events() == [
        replay,
        ItemPublished("n", to(alice), HEADLINE, "new", b"x"),
    ]
