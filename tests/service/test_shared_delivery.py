"""Several instances on one Redis ([delivery] shared): each node's events are sent by
exactly one live instance, and a dead instance's nodes are taken over and caught up.

Each instance is a full stack of its own (client, listener, service, router) on the
session's real Redis, its sink recording what it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from tests.service.conftest import make_policy
from tests.service.eventharness import RecordingSink
from thoonk_xmpp.service.delivery import SLOTS, DeliveryPolicy, slot_of
from thoonk_xmpp.service.events import ItemPublished
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, keys
from tools.localservers import RedisServer

from .conftest import ALICE, OWNER

POLICY = DeliveryPolicy(
    shared=True, lease_time=1.0, lease_interval=0.1, mark_interval=0.1, margin=0.2
)
#: Nodes enough to land in most slots.
NODES = [f"node-{n}" for n in range(40)]


@dataclass
class Instance:
    client: AsyncThoonk
    router: EventRouter
    sink: RecordingSink

    def items(self) -> list[tuple[str, str]]:
        return [(e.node, e.item_id) for e in self.sink.events if isinstance(e, ItemPublished)]


@contextlib.asynccontextmanager
async def instance(url: str, policy: DeliveryPolicy = POLICY) -> AsyncIterator[Instance]:
    async with AsyncThoonk.from_url(url, listen=True) as client:
        service = PubSubService(client, make_policy())
        sink = RecordingSink()
        router = EventRouter(service, sink, delivery=policy)
        client.listener.add_sink(router.on_notice)
        router.start()
        try:
            yield Instance(client, router, sink)
        finally:
            await router.aclose()


async def until(holds: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not holds():  # noqa: ASYNC110 - state moved by other tasks and processes
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


def split_evenly(*instances: Instance) -> bool:
    held = [i.router.slots for i in instances]
    everything = frozenset().union(*held)
    return everything == frozenset(range(SLOTS)) and sum(map(len, held)) == SLOTS and all(held)


async def test_instances_share_the_nodes_and_take_over_a_dead_ones(
    redis_server: RedisServer,
    redis_client: aioredis.Redis,  # a flushed database: no other test's nodes to deliver
) -> None:
    async with AsyncThoonk.from_url(redis_server.url) as app:
        setup = PubSubService(app, make_policy())
        for node in NODES:
            await setup.create_node(OWNER, node)
            await setup.subscribe(ALICE, node, ALICE.bare)
        async with instance(redis_server.url) as first, instance(redis_server.url) as second:
            await until(lambda: split_evenly(first, second), "two instances split the slots")
            for node in NODES:
                await (await app.feed(node, codec=BYTES)).publish(b"<x xmlns='t'/>", "one")
            expected = {(node, "one") for node in NODES}
            both = lambda: Counter(first.items() + second.items())  # noqa: E731
            await until(lambda: set(both()) >= expected, "every item delivered")
            await first.router.drain()
            await second.router.drain()
            assert both() == Counter(expected)  # each by exactly one instance
            mine = {n for n in NODES if slot_of(n) in first.router.slots}
            assert {n for n, _ in first.items()} == mine
            assert mine and mine != set(NODES)

            # the first one dies (no clean stop: its leases run out), items keep coming
            await first.router.aclose()
            await first.client.listener.stop()
            for node in NODES:
                await (await app.feed(node, codec=BYTES)).publish(b"<y xmlns='t'/>", "two")
            await until(
                lambda: second.router.slots == frozenset(range(SLOTS)),
                "the survivor holds every slot",
            )
            later = {(node, "two") for node in NODES}
            await until(lambda: set(second.items()) >= later, "the survivor caught up")
            taken_over = [e for e in second.sink.events if isinstance(e, ItemPublished)]
            replayed = {(e.node, e.item_id) for e in taken_over if e.replay}
            assert {(n, "two") for n in mine} <= replayed  # sent by the catch-up
            assert Counter(i for i in second.items() if i[1] == "two") == Counter(later)


async def test_a_clean_stop_hands_its_slots_over_at_once(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    async with instance(redis_server.url) as leaving, instance(redis_server.url) as staying:
        await until(lambda: split_evenly(leaving, staying), "two instances split the slots")
        await leaving.router.settle()
        await asyncio.sleep(3 * POLICY.lease_interval)  # its lease loop would have run again
        assert leaving.router.slots == frozenset()
        holders = await leaving.client.redis.mget([keys.delivery_lease(s) for s in range(SLOTS)])
        assert leaving.client.instance.encode() not in holders
        await until(
            lambda: staying.router.slots == frozenset(range(SLOTS)),
            "the other instance holds every slot well within the lease time",
            timeout=POLICY.lease_time,
        )


async def test_slots_handed_over_to_a_joining_instance_send_nothing_twice(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    """The instance letting slots go records what it sent of them above their
    watermarks; the one taking them sends only the rest. (The margin keeps every
    watermark behind every item here, so the taker's catch-up reads them all again.)"""
    behind = dataclasses.replace(POLICY, margin=60.0)
    async with AsyncThoonk.from_url(redis_server.url) as app:
        setup = PubSubService(app, make_policy())
        for node in NODES:
            await setup.create_node(OWNER, node)
            await setup.subscribe(ALICE, node, ALICE.bare)
        async with instance(redis_server.url, behind) as first:
            await until(lambda: first.router.slots == frozenset(range(SLOTS)), "one holds all")
            for node in NODES:
                await (await app.feed(node, codec=BYTES)).publish(b"<x xmlns='t'/>", "one")
            expected = {(node, "one") for node in NODES}
            await until(lambda: set(first.items()) >= expected, "every item delivered")
            async with instance(redis_server.url, behind) as second:
                await until(lambda: split_evenly(first, second), "two instances split the slots")
                await second.router.drain()
                assert second.items() == []  # its catch-up found them all sent
                for node in NODES:
                    await (await app.feed(node, codec=BYTES)).publish(b"<y xmlns='t'/>", "two")
                later = {(node, "two") for node in NODES}
                both = lambda: Counter(first.items() + second.items())  # noqa: E731
                await until(lambda: set(both()) >= later, "every later item delivered")
                await first.router.drain()
                await second.router.drain()
                assert both() == Counter(expected | later)
                assert {n for n, i in second.items()} == {
                    n for n in NODES if slot_of(n) in second.router.slots
                }


async def test_a_hand_over_after_a_lost_link_records_no_item_the_link_may_have_lost(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    """Items a catch-up sent just before the XMPP link was lost may not have reached the
    server: the instance that can no longer deliver hands its slots over without them,
    so the taker sends them again (as one instance alone would after the link's return)."""
    policy = dataclasses.replace(POLICY, margin=60.0, in_flight=60.0)
    async with AsyncThoonk.from_url(redis_server.url) as app:
        setup = PubSubService(app, make_policy())
        for node in NODES:
            await setup.create_node(OWNER, node)
            await setup.subscribe(ALICE, node, ALICE.bare)
        async with instance(redis_server.url, policy) as first:
            await until(lambda: first.router.slots == frozenset(range(SLOTS)), "one holds all")
            first.router.link_lost()
            for node in NODES:  # not sent live: the catch-up after the link's return sends them
                await (await app.feed(node, codec=BYTES)).publish(b"<x xmlns='t'/>", "one")
            first.router.link_up()
            expected = {(node, "one") for node in NODES}
            await until(lambda: set(first.items()) >= expected, "the catch-up sent them all")
            await first.router.drain()
            first.router.link_lost()  # within in_flight of those sends
            async with instance(redis_server.url, policy) as second:
                await until(
                    lambda: second.router.slots == frozenset(range(SLOTS)),
                    "the instance with a link holds every slot",
                )
                await until(lambda: set(second.items()) >= expected, "the taker sent them again")
