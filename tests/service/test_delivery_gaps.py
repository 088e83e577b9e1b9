"""Delivery across gaps, case by case: what a catch-up sends, holds, skips and logs.

The XMPP link's ups and downs are told to the router as the bridge tells it
(``link_lost`` / ``link_up``); notices are the real ones of the session's Redis, or
handed to the router as the listener hands them (``offer``) to queue them behind a
catch-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.metrics import Metrics
from thoonk_xmpp.service.delivery import DeliveryPolicy
from thoonk_xmpp.service.events import ItemPublished, ItemRetracted
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.settings import MetricsSettings
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, Notice, NoticeKind, keys
from thoonk_xmpp.xmpp.monitor import Monitor
from tools.localservers import RedisServer

from .conftest import ALICE, OWNER, make_policy
from .eventharness import Harness, RecordingSink, offer


def items(events: list[object], node: str = "n") -> list[tuple[str, bytes | None, bool]]:
    return [
        (e.item_id, e.payload, e.replay)
        for e in events
        if isinstance(e, ItemPublished) and e.node == node
    ]


def of_node(events: list[object], node: str = "n") -> list[str]:
    return [type(e).__name__ for e in events if getattr(e, "node", None) == node]


async def subscribed_node(service: PubSubService) -> None:
    await service.create_node(OWNER, "n")
    await service.subscribe(ALICE, "n", ALICE.bare)


async def test_an_older_edit_queued_behind_a_catch_up_does_not_follow_the_newer(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    await subscribed_node(harness.service)
    await harness.events()
    router = harness.router
    router.link_lost()
    # x stored as v1 then edited to v2 while the notices were lost (raw writes: no notice)
    seconds, micros = await redis_client.time()
    await redis_client.zadd(keys.ids("n"), {"x": seconds * 1000 + micros // 1000})
    await redis_client.hset(keys.items("n"), "x", b"v2")
    router.link_up()
    # their notices, queued behind the catch-up as a busy listener hands them on
    for version in (b"v1", b"v2"):
        await offer(router, Notice(NoticeKind.EDIT, "n", item_id="x", item=version))
    # (the catch-up may send the harness's marker ahead of the queued notices: ask twice)
    got = await harness.events() + await harness.events()
    assert items(got) == [("x", b"v2", True)]


async def until(holds: Callable[[], bool], what: str) -> None:
    async def poll() -> None:
        while not holds():  # noqa: ASYNC110 - moved by the listener's notices
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), 10)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def test_an_item_retracted_and_published_again_in_a_gap_is_sent_again(
    harness: Harness, app: AsyncThoonk
) -> None:
    await subscribed_node(harness.service)
    feed = await app.feed("n", codec=BYTES)
    await feed.publish(b"same", "x")
    assert items(await harness.events()) == [("x", b"same", False)]
    router = harness.router
    # x left long enough before the link went: it is not sent again as in flight
    await asyncio.sleep(router.ledger.policy.in_flight + 0.05)
    router.link_lost()
    dropped = router.ledger.dropped
    await feed.retract("x")
    await feed.publish(b"same", "x")  # the same id and content: a new item all the same
    await until(lambda: router.held == 1 and router.ledger.dropped == dropped + 1, "the gap")
    router.link_up()
    events = await harness.events()
    assert of_node(events) == ["ItemRetracted", "ItemPublished"]
    assert [e.item_id for e in events if isinstance(e, ItemRetracted)] == ["x"]
    assert items(events) == [("x", b"same", True)]


async def test_a_standby_keeps_nothing_for_later_and_leaves_deletes_alone(
    harness: Harness, app: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    await subscribed_node(harness.service)
    feed = await app.feed("n", codec=BYTES)
    await feed.publish(b"1", "x")
    await harness.events()
    router = harness.router
    router.link_lost()
    router.stand_by()  # another instance holds the JID and sends these events
    seen: list[NoticeKind] = []
    harness.service.thoonk.listener.add_sink(lambda notice: seen.append(notice.kind))
    await feed.retract("x")
    await app.delete_feed("n")
    await until(lambda: NoticeKind.DELETE in seen, "the delete notice")  # after the router's
    await router.drain()
    assert router.held == 0
    # the active instance's job: the deleted node's subscriptions stay for it to read
    assert await redis_client.hlen(keys.node_subscriptions("n")) == 1
    router.link_up()  # taking over
    assert of_node(await harness.events()) == []


async def test_a_new_subscribers_last_item_goes_out_during_a_gap(harness: Harness) -> None:
    service = harness.service
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("last", b"<x xmlns='t'/>")])
    harness.router.ledger.begin_gap()  # e.g. the notice subscription was just renewed
    subscription = await service.subscribe(ALICE, "n", ALICE.bare)
    await harness.router.send_last_item(subscription, await service.last_item("n"))
    harness.router.link_up()
    assert items(await harness.events()) == [("last", b"<x xmlns='t'/>", True)]


async def test_a_catch_up_cut_by_age_is_logged_only_for_nodes_it_cut(
    service: PubSubService,
    app: AsyncThoonk,
    redis_client: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await subscribed_node(service)
    await service.create_node(OWNER, "empty")
    await service.subscribe(ALICE, "empty", ALICE.bare)
    await app.create_feed("queue", {"type": "queue"})
    await (await app.feed("n", codec=BYTES)).publish(b"old", "old")
    await redis_client.zadd(keys.ids("n"), {"old": 1_000_000_000_000}, xx=True)  # in 2001
    router = EventRouter(service, RecordingSink(), delivery=DeliveryPolicy(catch_up_age=1))
    # every slot delivered up to long ago: older than the one second the catch-up reaches
    await redis_client.hset(keys.DELIVERY_WATERMARKS, mapping={str(s): 1 for s in range(64)})
    service.thoonk.listener.add_sink(router.on_notice)
    with caplog.at_level(logging.WARNING, "thoonk_xmpp.service.catch_up"):
        router.start()
        await router.drain()
        await router.aclose()
    cut = [r.getMessage() for r in caplog.records if "cut" in r.getMessage()]
    assert len(cut) == 1 and "'n'" in cut[0], cut


async def test_the_metrics_sample_survives_redis_going_away() -> None:
    with RedisServer() as own:
        async with AsyncThoonk.from_url(own.url, listen=True) as thoonk:
            service = PubSubService(thoonk, make_policy())
            router = EventRouter(service, RecordingSink(), delivery=DeliveryPolicy(shared=True))
            metrics = Metrics()
            monitor = Monitor(metrics, MetricsSettings(), service, router, _NoLink())  # type: ignore[arg-type]
            await monitor.sample()
            assert metrics.redis_up._value.get() == 1
            own.stop()
            await monitor.sample()  # must not raise
            assert metrics.redis_up._value.get() == 0


class _NoLink:
    """What the monitor reads of a component that never connected."""

    class _Flag:
        def is_set(self) -> bool:
            return False

    connected = _Flag()
    outbox_depth = 0


async def test_a_catch_up_reads_in_bounded_calls_and_misses_no_node(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    nodes = ["b1", "b2", "b3"]
    for node in nodes:
        await harness.service.create_node(OWNER, node)
        await harness.service.subscribe(ALICE, node, ALICE.bare)
    await harness.events()
    harness.router.link_lost()
    seconds, micros = await redis_client.time()
    now_ms = seconds * 1000 + micros // 1000
    async with redis_client.pipeline(transaction=False) as pipe:
        for node in nodes:  # 3 × 1,000 items stored while notices were lost: over one call
            pipe.zadd(keys.ids(node), {f"i{n}": now_ms + n for n in range(1000)})
            pipe.hset(keys.items(node), mapping={f"i{n}": b"x" for n in range(1000)})
        await pipe.execute()
    harness.router.link_up()
    events = await harness.events()
    for node in nodes:
        assert len(items(events, node)) == 1000, node
