"""Job and queue nodes on the real Redis: the scripts (service/lua/queue_*.lua) and the
dispatcher (service/dispatch.py) with a recording sink in place of the XMPP link."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap, refused
from thoonk_xmpp.service.delivery import DeliveryPolicy
from thoonk_xmpp.service.dispatch import Handing, QueueDispatcher
from thoonk_xmpp.service.errors import (
    BadRequest,
    ConfigurationRequired,
    Forbidden,
    ItemExists,
    ItemHeld,
    ItemNotFound,
    ItemNotHeld,
    PreconditionNotMet,
)
from thoonk_xmpp.service.model import Actor, Affiliation, NodeKind, NotificationType
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, Empty, Job, Notice, NoticeKind, Queue, keys

from .conftest import ALICE, BOB, OWNER
from .eventharness import RecordingSink

CAROL = Actor("carol@example.org")
TIMEOUT = 10.0


@dataclass
class QueueSinkRecord:
    """The dispatcher's sink interface, recording (and refusing while ``up`` is False)."""

    up: bool = True
    #: Item ids no message can carry.
    unsendable: set[str] = field(default_factory=set)
    handed: list[tuple[str, str, str, bytes]] = field(default_factory=list)
    #: (JID, item ids) of each event handing several items at once
    together: list[tuple[str, list[str]]] = field(default_factory=list)
    unlocks: list[tuple[str, str, str]] = field(default_factory=list)
    retracts: list[tuple[str, str, str, bytes | None]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def link_up(self) -> bool:
        return self.up

    def hand(
        self, node: str, jid: str, item_id: str, payload: bytes, kind: NotificationType
    ) -> Handing:
        if not self.up:
            return Handing.LINK_DOWN
        if item_id in self.unsendable:
            return Handing.UNSENDABLE
        self.handed.append((node, jid, item_id, payload))
        self.changed.set()
        return Handing.SENT

    def hand_together(
        self, node: str, jid: str, items: Sequence[tuple[str, bytes]], kind: NotificationType
    ) -> bool:
        if not self.up:
            return False
        self.handed += [(node, jid, item_id, payload) for item_id, payload in items]
        self.together.append((jid, [item_id for item_id, _ in items]))
        self.changed.set()
        return True

    def retracted_to_holder(
        self, node: str, jid: str, item_ids: Sequence[str], kind: NotificationType
    ) -> None:
        self.retracts += [(node, jid, item_id, None) for item_id in item_ids]
        self.changed.set()

    def unlocked(self, node: str, jid: str, item_id: str) -> None:
        self.unlocks.append((node, jid, item_id))
        self.changed.set()

    def retracted(
        self, node: str, jid: str, item_id: str, result: bytes | None, kind: NotificationType
    ) -> None:
        self.retracts.append((node, jid, item_id, result))
        self.changed.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), TIMEOUT)


@pytest.fixture
async def queues(service: PubSubService) -> AsyncIterator[tuple[QueueDispatcher, QueueSinkRecord]]:
    # never started: the dispatcher asks it only which nodes this instance delivers (all),
    # and a running router's delivery marks would be publishes during refused requests
    router = EventRouter(service, RecordingSink())
    sink = QueueSinkRecord()
    dispatcher = QueueDispatcher(service, router, sink, tick=0.2)
    dispatcher.start()
    try:
        yield dispatcher, sink
    finally:
        await dispatcher.aclose()


def options(requests: int) -> dict[str, list[str]]:
    return {"pubsub#queue_requests": [str(requests)]}


async def job_node(service: PubSubService, name: str = "jobs", **config: str) -> None:
    fields = {"thoonkx#node_kind": ["job"], **{k: [v] for k, v in config.items()}}
    await service.create_node(OWNER, name, fields)
    await service.set_affiliations(OWNER, name, {CAROL.bare: Affiliation.PUBLISHER})


async def test_each_subscriber_holds_its_queue_requests_most_free_first(
    service: PubSubService, queues: tuple[QueueDispatcher, QueueSinkRecord]
) -> None:
    dispatcher, sink = queues
    await job_node(service)
    # subscribed while no round runs: a round woken by alice's subscription could read the
    # node before bob's and hand alice the first item, which this test means to rule out
    await dispatcher.aclose()
    for actor, requests in ((ALICE, 1), (BOB, 3)):
        await service.subscribe(actor, "jobs", actor.bare + "/w", options(requests))
    dispatcher.start()
    ids = await service.put_queued(CAROL, "carol@example.org/p", "jobs", [(None, b"x")] * 6)
    await sink.until(lambda: len(sink.handed) == 4)
    assert await dispatcher.dispatch("jobs") == 0  # what they hold counts: both are full
    held = Counter(jid for _, jid, _, _ in sink.handed)
    assert held == {"alice@example.org/w": 1, "bob@example.org/w": 3}
    # the most free first: bob (3 free) before alice (1 free)
    assert sink.handed[0][1] == "bob@example.org/w"
    assert [item_id for _, _, item_id, _ in sink.handed] == ids[:4]
    holders = await service.queues.holders("jobs")
    assert holders == {item_id: jid for _, jid, item_id, _ in sink.handed}
    # the claims are Thoonk's own
    redis = service.thoonk.redis
    assert sorted(await redis.zrange(keys.claimed("jobs"), 0, -1)) == sorted(
        i.encode() for i in ids[:4]
    )
    assert await redis.llen(keys.ids("jobs")) == 2


async def test_without_queue_requests_a_queue_subscription_is_refused(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await job_node(service)
    await refused(redis_client, ConfigurationRequired, service.subscribe(ALICE, "jobs", ALICE.bare))
    await service.subscribe(ALICE, "jobs", ALICE.bare, options(2))


async def test_xmpp_subscribers_and_a_thoonk_worker_claim_each_job_once(
    service: PubSubService,
    queues: tuple[QueueDispatcher, QueueSinkRecord],
    app: AsyncThoonk,
) -> None:
    _, sink = queues
    await job_node(service)
    await service.subscribe(ALICE, "jobs", ALICE.bare, options(5))
    job = Job(app, "jobs", BYTES)
    total = 200
    done: list[str] = []

    finished_by_xmpp: list[str] = []

    def all_done() -> bool:
        return len(done) + len(finished_by_xmpp) == total

    async def thoonk_worker() -> None:
        while not all_done():
            try:
                claimed = await job.get(timeout=0.2)
            except Empty:
                continue
            await job.finish(claimed.id, b"thoonk")
            done.append(claimed.id)
            sink.changed.set()

    async def xmpp_worker() -> None:
        while True:
            await sink.until(lambda: len(finished_by_xmpp) < len(sink.handed) or all_done())
            if len(finished_by_xmpp) == len(sink.handed):
                return
            item_id = sink.handed[len(finished_by_xmpp)][2]
            await service.retract_queued(ALICE, "alice@example.org/w", "jobs", [item_id])
            finished_by_xmpp.append(item_id)

    worker = asyncio.ensure_future(thoonk_worker())
    ids = [await job.put(f"{n}".encode()) for n in range(total)]
    await asyncio.wait_for(asyncio.gather(worker, xmpp_worker()), 30)
    assert [item_id for _, _, item_id, _ in sink.handed] == finished_by_xmpp
    assert sorted(done + finished_by_xmpp) == sorted(ids)  # each once, by one of them
    assert done and sink.handed  # both took part
    assert int(await app.redis.get(keys.finishes("jobs"))) == total
    assert await app.redis.zcard(keys.claimed("jobs")) == 0
    assert await app.redis.hlen(keys.queue_holders("jobs")) == 0


async def test_items_the_link_cannot_take_go_back_to_the_front_uncounted(
    service: PubSubService, queues: tuple[QueueDispatcher, QueueSinkRecord]
) -> None:
    dispatcher, sink = queues
    await job_node(service)
    await service.subscribe(ALICE, "jobs", ALICE.bare, options(2))
    await dispatcher.aclose()  # only the calls below hand anything out
    ids = await service.put_queued(CAROL, CAROL.bare, "jobs", [(None, b"a"), (None, b"b")])
    sink.up = False
    assert await dispatcher.dispatch("jobs") == 0  # nothing handed while the link is down
    # the link takes nothing: both go back to the front, in their order
    dispatcher.sink = refusing = QueueSinkRecord()
    refusing_hand = refusing.hand
    refusing.hand = lambda *args: Handing.LINK_DOWN  # type: ignore[method-assign]
    redis = service.thoonk.redis
    assert await dispatcher.dispatch("jobs") == 0
    assert await redis.lrange(keys.ids("jobs"), 0, -1) == [i.encode() for i in reversed(ids)]
    assert await redis.zcard(keys.claimed("jobs")) == 0
    assert await redis.hlen(keys.cancelled("jobs")) == 0
    assert await redis.hlen(keys.queue_holders("jobs")) == 0
    refusing.hand = refusing_hand  # type: ignore[method-assign]
    assert await dispatcher.dispatch("jobs") == 2
    assert [item_id for _, _, item_id, _ in refusing.handed] == ids


async def test_claims_past_the_timeout_go_to_another_subscriber(
    service: PubSubService, queues: tuple[QueueDispatcher, QueueSinkRecord]
) -> None:
    _, sink = queues
    await job_node(service, **{"thoonkx#claim_timeout": "1"})
    await service.subscribe(ALICE, "jobs", ALICE.bare, options(1))
    (job_id,) = await service.put_queued(CAROL, CAROL.bare, "jobs", [(None, b"x")])
    await sink.until(lambda: len(sink.handed) == 1)
    await service.subscribe(BOB, "jobs", BOB.bare, options(1))
    await sink.until(lambda: len(sink.handed) == 2)
    assert sink.unlocks == [("jobs", ALICE.bare, job_id)]
    assert sink.handed[1][1:3] == (BOB.bare, job_id)  # not straight back to alice
    assert await service.thoonk.redis.hget(keys.cancelled("jobs"), job_id) == b"1"
    # alice no longer holds it
    await refused(
        service.thoonk.redis,
        ItemHeld,
        service.retract_queued(ALICE, ALICE.bare + "/w", "jobs", [job_id]),
    )


async def test_refused_retracts_and_unlocks_change_nothing(
    service: PubSubService,
    queues: tuple[QueueDispatcher, QueueSinkRecord],
    redis_client: aioredis.Redis,
) -> None:
    _, sink = queues
    await job_node(service)
    await service.subscribe(ALICE, "jobs", ALICE.bare, options(1))
    await service.subscribe(BOB, "jobs", BOB.bare, options(1))
    ids = await service.put_queued(CAROL, CAROL.bare, "jobs", [(None, b"1"), (None, b"2")])
    await sink.until(lambda: len(sink.handed) == 2)
    held = {item_id: jid for _, jid, item_id, _ in sink.handed}
    alices = next(i for i, jid in held.items() if jid == ALICE.bare)
    bobs = next(i for i, jid in held.items() if jid == BOB.bare)
    outsider = Actor("dave@example.org")
    cases = [
        (ItemNotFound, service.retract_queued(ALICE, ALICE.bare, "jobs", ["nope"])),
        (ItemHeld, service.retract_queued(ALICE, ALICE.bare, "jobs", [bobs])),
        (Forbidden, service.retract_queued(outsider, outsider.bare, "jobs", [alices])),
        (ItemNotFound, service.unlock(ALICE, ALICE.bare, "jobs", "nope")),
        (ItemHeld, service.unlock(ALICE, ALICE.bare, "jobs", bobs)),
        (ItemExists, service.put_queued(CAROL, CAROL.bare, "jobs", [(ids[0], b"again")])),
    ]
    for error, request in cases:
        await refused(redis_client, error, request)
    # given back (and not handed out again): nobody holds it now
    await queues[0].aclose()
    await service.queues.release("jobs", jids=[BOB.bare])
    await refused(
        redis_client, ItemNotHeld, service.retract_queued(BOB, BOB.bare + "/x", "jobs", [bobs])
    )
    await refused(redis_client, ItemNotHeld, service.unlock(BOB, BOB.bare, "jobs", bobs))


async def test_a_finish_tells_the_publisher_and_keeps_the_result(
    service: PubSubService,
    queues: tuple[QueueDispatcher, QueueSinkRecord],
    app: AsyncThoonk,
) -> None:
    _, sink = queues
    await job_node(service)
    by_xmpp, by_thoonk = await service.put_queued(
        CAROL, "carol@example.org/desk", "jobs", [("j1", b"q1"), ("j2", b"q2")]
    )
    job = Job(app, "jobs", BYTES)
    claimed = await job.get(timeout=TIMEOUT)
    await job.finish(claimed.id, b"by thoonk", timeout=None)
    await service.subscribe(ALICE, "jobs", ALICE.bare, options(1))
    await sink.until(lambda: len(sink.handed) == 1)
    other = sink.handed[0][2]
    done = await service.retract_queued(
        ALICE, ALICE.bare + "/w", "jobs", [other], {other: b"by xmpp"}
    )
    assert done.finished
    await sink.until(lambda: len(sink.retracts) == 2)
    told = {item_id: (jid, result) for _, jid, item_id, result in sink.retracts}
    assert told == {
        claimed.id: ("carol@example.org/desk", b"by thoonk"),
        other: ("carol@example.org/desk", b"by xmpp"),
    }
    page = await service.get_items(CAROL, "jobs", [by_xmpp, by_thoonk])
    assert {(i.id, i.payload, i.finished) for i in page.items} == {
        (claimed.id, b"by thoonk", True),
        (other, b"by xmpp", True),
    }
    assert await Job(app, "jobs", BYTES).get_result(other, block=False) == (
        b"q1" if other == "j1" else b"q2",
        b"by xmpp",
    )
    assert await app.redis.hlen(keys.queue_publishers("jobs")) == 0


async def test_unavailable_subscribers_give_back_and_leave(
    service: PubSubService, queues: tuple[QueueDispatcher, QueueSinkRecord]
) -> None:
    dispatcher, sink = queues
    await job_node(service)
    await service.subscribe(ALICE, "jobs", ALICE.bare + "/w", options(2))
    ids = await service.put_queued(CAROL, CAROL.bare, "jobs", [(None, b"1"), (None, b"2")])
    await sink.until(lambda: len(sink.handed) == 2)
    await service.subscribe(BOB, "jobs", BOB.bare, options(2))
    await dispatcher.unavailable(ALICE.bare + "/other")  # another resource: nothing
    assert len(await service.queues.holders("jobs")) == 2
    await dispatcher.unavailable(ALICE.bare + "/w")
    await sink.until(lambda: len(sink.handed) == 4)
    assert sorted(item_id for _, jid, item_id, _ in sink.handed[2:]) == sorted(ids)
    assert {jid for _, jid, _, _ in sink.handed[2:]} == {BOB.bare}
    assert [s.jid for s in await service.store.subscriptions("jobs")] == [BOB.bare]
    # a bare-JID subscription ends with any of its resources
    await dispatcher.unavailable(BOB.bare + "/laptop")
    assert await service.store.subscriptions("jobs") == []
    assert await service.thoonk.redis.hlen(keys.queue_holders("jobs")) == 0


async def test_a_queue_node_hands_each_item_once_and_takes_back_unsent_ones(
    service: PubSubService, queues: tuple[QueueDispatcher, QueueSinkRecord], app: AsyncThoonk
) -> None:
    dispatcher, sink = queues
    await service.create_node(OWNER, "q", {"thoonkx#node_kind": ["queue"]})
    queue = Queue(app, "q", BYTES)
    sink.up = False
    await queue.put(b"first")
    await queue.put(b"second")
    await service.subscribe(ALICE, "q", ALICE.bare, options(1))
    await service.subscribe(BOB, "q", BOB.bare, options(1))
    sink.up = True
    await sink.until(lambda: len(sink.handed) == 2)  # the tick finds what queue puts left
    assert sorted(payload for _, _, _, payload in sink.handed) == [b"first", b"second"]
    assert {jid for _, jid, _, _ in sink.handed} == {ALICE.bare, BOB.bare}
    assert await app.redis.hlen(keys.items("q")) == 0
    # an item the link could not take goes back to the front, payload and all
    await dispatcher.aclose()
    await queue.put(b"third")
    refusing = QueueSinkRecord()
    refusing.hand = lambda *args: Handing.LINK_DOWN  # type: ignore[method-assign]
    dispatcher.sink = refusing
    await dispatcher.dispatch("q")
    assert await queue.get(timeout=1) == b"third"


async def test_a_result_only_announced_is_kept_for_the_publisher(
    service: PubSubService,
    queues: tuple[QueueDispatcher, QueueSinkRecord],
    redis_client: aioredis.Redis,
) -> None:
    """A thoonk.js or thoonk.py worker keeps its result nowhere: it finishes in one
    transaction that deletes the job and announces "<id>\\0<result>" on job.finish."""
    _, sink = queues
    await job_node(service)
    (job_id,) = await service.put_queued(CAROL, "carol@example.org/desk", "jobs", [("j1", b"q")])
    claimed = await redis_client.rpop(keys.ids("jobs"))
    assert claimed == b"j1"
    async with redis_client.pipeline(transaction=True) as pipe:  # as thoonk.js finishes
        pipe.zrem(keys.claimed("jobs"), "j1")
        pipe.hdel(keys.cancelled("jobs"), "j1")
        pipe.zrem(keys.published("jobs"), "j1")
        pipe.incr(keys.finishes("jobs"))
        pipe.publish(keys.finish_channel("jobs"), b"j1\x00by js")
        pipe.hdel(keys.items("jobs"), "j1")
        await pipe.execute()
    await sink.until(lambda: len(sink.retracts) == 1)
    assert sink.retracts == [("jobs", "carol@example.org/desk", job_id, b"by js")]
    page = await service.get_items(CAROL, "jobs", [job_id])
    assert [(i.id, i.payload, i.finished) for i in page.items] == [("j1", b"by js", True)]


async def test_a_subscriber_asking_for_no_delivery_gets_no_jobs(
    service: PubSubService, queues: tuple[QueueDispatcher, QueueSinkRecord]
) -> None:
    dispatcher, sink = queues
    await job_node(service)
    paused = {**options(2), "pubsub#deliver": ["0"]}
    await service.subscribe(ALICE, "jobs", ALICE.bare, paused)
    (job_id,) = await service.put_queued(CAROL, CAROL.bare, "jobs", [(None, b"x")])
    assert await dispatcher.dispatch("jobs") == 0
    assert sink.handed == []
    await service.set_subscription_options(
        ALICE, "jobs", ALICE.bare, None, {"pubsub#deliver": ["1"]}
    )
    await sink.until(lambda: len(sink.handed) == 1)
    assert sink.handed[0][1:3] == (ALICE.bare, job_id)


async def test_only_the_instance_delivering_the_node_hands_its_items_out(
    service: PubSubService, queues: tuple[QueueDispatcher, QueueSinkRecord]
) -> None:
    """With [delivery] shared, an instance that does not lease the node's slot hands
    nothing out and tells no publisher: the slot's instance does."""
    dispatcher, sink = queues
    elsewhere = EventRouter(service, RecordingSink(), delivery=DeliveryPolicy(shared=True))
    assert not elsewhere.delivers("jobs")  # it leases no slot
    other_sink = QueueSinkRecord()
    other = QueueDispatcher(service, elsewhere, other_sink)
    await dispatcher.aclose()
    await job_node(service)
    await service.subscribe(ALICE, "jobs", ALICE.bare, options(1))
    (job_id,) = await service.put_queued(CAROL, CAROL.bare, "jobs", [(None, b"x")])
    assert await other.dispatch("jobs") == 0
    assert await service.thoonk.redis.llen(keys.ids("jobs")) == 1
    assert await dispatcher.dispatch("jobs") == 1
    assert sink.handed[0][1:3] == (ALICE.bare, job_id) and other_sink.handed == []


async def test_an_unsubscribed_worker_s_jobs_go_back_even_with_nobody_left(
    service: PubSubService,
    queues: tuple[QueueDispatcher, QueueSinkRecord],
    redis_client: aioredis.Redis,
) -> None:
    _, sink = queues
    await job_node(service)
    await service.subscribe(ALICE, "jobs", ALICE.bare, options(2))
    ids = await service.put_queued(CAROL, CAROL.bare, "jobs", [(None, b"1"), (None, b"2")])
    await sink.until(lambda: len(sink.handed) == 2)
    async with Tap(redis_client) as tap:
        await service.unsubscribe(ALICE, "jobs", ALICE.bare)

        async def given_back() -> None:  # the dispatcher announces what it gave back
            while (await tap.next())[0] != keys.ready_channel("jobs"):
                pass

        await asyncio.wait_for(given_back(), TIMEOUT)
    assert await redis_client.hlen(keys.queue_holders("jobs")) == 0
    assert sorted(await redis_client.lrange(keys.ids("jobs"), 0, -1)) == sorted(
        i.encode() for i in ids
    )
    assert await redis_client.hvals(keys.cancelled("jobs")) == [b"1", b"1"]


async def test_publish_options_are_preconditions_on_queue_nodes_too(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await job_node(service)
    wanted = {"pubsub#access_model": ["whitelist"]}
    await refused(
        redis_client,
        PreconditionNotMet,
        service.put_queued(CAROL, CAROL.bare, "jobs", [(None, b"x")], wanted),
    )
    held = {"thoonkx#node_kind": ["job"], "pubsub#access_model": ["open"]}
    assert len(await service.put_queued(CAROL, CAROL.bare, "jobs", [(None, b"x")], held)) == 1


async def test_several_finishes_are_routed_in_one_call_each_to_its_publisher(
    service: PubSubService, app: AsyncThoonk
) -> None:
    """The dispatcher hands the finishes it heard together to one script call: each job
    gets its own publisher (None for a Thoonk app's put), and a result is kept only for a
    job published over XMPP."""
    await job_node(service)
    await service.put_queued(CAROL, "carol@example.org/desk", "jobs", [("j1", b"q1")])
    await service.put_queued(CAROL, "carol@example.org/laptop", "jobs", [("j2", b"q2")])
    job = Job(app, "jobs", BYTES)
    by_thoonk = await job.put(b"q3")
    for _ in range(3):  # finished by Thoonk workers that announce no result
        await job.finish((await job.get(timeout=TIMEOUT)).id, timeout=None)
    told = await service.queues.finished("jobs", [("j1", b"r1"), (by_thoonk, b"r3"), ("j2", None)])
    assert told == ["carol@example.org/desk", None, "carol@example.org/laptop"]
    assert await app.redis.hlen(keys.queue_publishers("jobs")) == 0
    assert await service.queues.result("jobs", "j1") == b"r1"
    assert await service.queues.result("jobs", "j2") is None
    assert await service.queues.result("jobs", by_thoonk) is None
    assert await service.queues.finished("jobs", []) == []


async def test_an_item_no_message_can_carry_does_not_block_those_behind_it(
    service: PubSubService, queues: tuple[QueueDispatcher, QueueSinkRecord]
) -> None:
    dispatcher, sink = queues
    await job_node(service)
    await service.subscribe(ALICE, "jobs", ALICE.bare, options(1))
    await dispatcher.aclose()  # only the calls below hand anything out
    ids = await service.put_queued(CAROL, CAROL.bare, "jobs", [(None, b"a"), (None, b"b")])
    sink.unsendable.add(ids[0])
    assert await dispatcher.dispatch("jobs") == 1
    assert [item_id for _, _, item_id, _ in sink.handed] == ids[1:]
    # set aside as Thoonk's stall: out of the line, not claimed, not held
    redis = service.thoonk.redis
    assert await redis.smembers(keys.stalled("jobs")) == {ids[0].encode()}
    assert await redis.lrange(keys.ids("jobs"), 0, -1) == []
    assert await redis.zrange(keys.claimed("jobs"), 0, -1) == [ids[1].encode()]
    assert await dispatcher.dispatch("jobs") == 0  # never handed again


async def test_a_queue_put_with_an_item_id_too_long_is_refused(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await job_node(service)
    await refused(
        redis_client,
        BadRequest,
        service.put_queued(CAROL, CAROL.bare, "jobs", [("j" * 1024, b"x")]),
    )
    assert await service.put_queued(CAROL, CAROL.bare, "jobs", [("j" * 1023, b"x")]) == ["j" * 1023]


def batch_options(requests: int) -> dict[str, list[str]]:
    return {**options(requests), "thoonkx#queue_batch": ["1"]}


async def test_items_handed_at_once_go_in_one_event_only_to_a_batch_subscriber(
    service: PubSubService, queues: tuple[QueueDispatcher, QueueSinkRecord]
) -> None:
    dispatcher, sink = queues
    await job_node(service)
    await dispatcher.aclose()  # only the calls below hand anything out
    await service.subscribe(ALICE, "jobs", ALICE.bare, batch_options(3))
    await service.subscribe(BOB, "jobs", BOB.bare, options(3))
    put = await service.put_queued(CAROL, CAROL.bare, "jobs", [(f"j{n}", b"q") for n in range(6)])
    assert await dispatcher.dispatch("jobs") == 6
    held = await service.queues.holders("jobs")
    alices = sorted(i for i, jid in held.items() if jid == ALICE.bare)
    assert len(alices) == 3 and len(held) == 6 and set(held) == set(put)
    # Alice's three in one event; Bob's (no thoonkx#queue_batch) one message each
    assert [(jid, sorted(ids)) for jid, ids in sink.together] == [(ALICE.bare, alices)]
    subscription, queue_node = await service.subscription_options(ALICE, "jobs", ALICE.bare)
    assert queue_node and subscription.options.queue_batch


async def test_a_retract_of_several_jobs_finishes_them_all_with_their_results(
    service: PubSubService,
    queues: tuple[QueueDispatcher, QueueSinkRecord],
    app: AsyncThoonk,
) -> None:
    _, sink = queues
    await job_node(service)
    await service.subscribe(ALICE, "jobs", ALICE.bare, batch_options(3))
    await service.put_queued(
        CAROL, "carol@example.org/desk", "jobs", [(f"j{n}", f"q{n}".encode()) for n in range(3)]
    )
    await sink.until(lambda: len(sink.handed) == 3)
    results = {"j0": b"r0", "j2": b"r2"}  # j1 finished without a result
    done = await service.retract_queued(
        ALICE, ALICE.bare + "/w", "jobs", ["j2", "j0", "j1"], results
    )
    assert done.finished == ("j2", "j0", "j1")
    assert await app.redis.hlen(keys.items("jobs")) == 0
    assert await app.redis.zcard(keys.claimed("jobs")) == 0
    assert await app.redis.hlen(keys.queue_holders("jobs")) == 0
    assert await app.redis.get(keys.finishes("jobs")) == b"3"
    await sink.until(lambda: len(sink.retracts) == 3)
    told = {item_id: (jid, result) for _, jid, item_id, result in sink.retracts}
    assert told == {
        "j0": ("carol@example.org/desk", b"r0"),
        "j1": ("carol@example.org/desk", None),
        "j2": ("carol@example.org/desk", b"r2"),
    }
    job = Job(app, "jobs", BYTES)
    assert await job.get_result("j0", block=False) == (b"q0", b"r0")
    assert await job.get_result("j2", block=False) == (b"q2", b"r2")


@pytest.mark.parametrize("reason", ["unknown", "other-holder", "not-held", "twice"])
async def test_a_retract_of_several_jobs_with_one_refused_changes_nothing(
    service: PubSubService,
    queues: tuple[QueueDispatcher, QueueSinkRecord],
    redis_client: aioredis.Redis,
    reason: str,
) -> None:
    dispatcher, sink = queues
    await job_node(service)
    await service.subscribe(ALICE, "jobs", ALICE.bare, batch_options(2))
    await service.subscribe(BOB, "jobs", BOB.bare, options(1))
    await service.put_queued(CAROL, CAROL.bare, "jobs", [(f"j{n}", b"q") for n in range(3)])
    await sink.until(lambda: len(sink.handed) == 3)
    await dispatcher.aclose()  # nothing handed out again meanwhile
    held = await service.queues.holders("jobs")
    alices = sorted(i for i, jid in held.items() if jid == ALICE.bare)
    bobs = next(i for i, jid in held.items() if jid == BOB.bare)
    if reason == "not-held":  # Bob's job given back: nobody holds it now
        await service.queues.release("jobs", jids=[BOB.bare])
    error, bad = {
        "unknown": (ItemNotFound, "nope"),
        "other-holder": (ItemHeld, bobs),
        "not-held": (ItemNotHeld, bobs),
        "twice": (BadRequest, alices[0]),
    }[reason]
    # the refused item after a good one: the good one is not finished either
    ids = [alices[0], bad, alices[1]]
    raised = await refused(
        redis_client, error, service.retract_queued(ALICE, ALICE.bare, "jobs", ids)
    )
    if reason != "twice":
        assert bad in str(raised)
    # the first refused item's error: unknown before not held
    await refused(
        redis_client,
        ItemNotFound,
        service.retract_queued(ALICE, ALICE.bare, "jobs", [alices[0], "nope", bobs]),
    )


async def test_finishes_on_a_node_only_thoonk_apps_use_cost_no_command_a_job(
    service: PubSubService, app: AsyncThoonk
) -> None:
    """Thoonk workers finishing Thoonk puts: nothing of ours to forget beside the jobs, so
    the dispatcher's call looks once, not three times a job (HGET, HDEL, HDEL)."""
    await job_node(service)
    job = Job(app, "jobs", BYTES)
    ids = [await job.put(b"q") for _ in range(3)]

    async def calls(command: str) -> int:
        stats = await app.redis.info("commandstats")
        return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))

    before = {command: await calls(command) for command in ("hget", "hdel")}
    told = await service.queues.finished("jobs", [(i, b"r") for i in ids])
    assert told == [None, None, None]
    assert {command: await calls(command) for command in ("hget", "hdel")} == before


async def test_all_a_batch_subscriber_has_room_for_goes_in_one_event(
    service: PubSubService, queues: tuple[QueueDispatcher, QueueSinkRecord]
) -> None:
    """More than one script call's worth (64): still one call, so one event."""
    dispatcher, sink = queues
    await job_node(service)
    await dispatcher.aclose()  # only the call below hands anything out
    await service.subscribe(ALICE, "jobs", ALICE.bare, batch_options(90))
    await service.put_queued(CAROL, CAROL.bare, "jobs", [(f"j{n}", b"q") for n in range(100)])
    assert await dispatcher.dispatch("jobs") == 90
    assert [(jid, len(ids)) for jid, ids in sink.together] == [(ALICE.bare, 90)]


async def test_a_finish_heard_after_its_id_was_put_again_leaves_the_new_job_alone(
    service: PubSubService, app: AsyncThoonk
) -> None:
    """A finish notice is handled a moment after the finish: if the id was put again
    meanwhile (by another publisher) and handed out, the new job's publisher is not told
    the old job's result, and its holder can still finish it."""
    await job_node(service)
    await service.set_affiliations(OWNER, "jobs", {BOB.bare: Affiliation.PUBLISHER})
    await service.put_queued(CAROL, "carol@example.org/desk", "jobs", [("j1", b"q1")])
    job = Job(app, "jobs", BYTES)
    claimed = await job.get(timeout=TIMEOUT)
    await job.finish(claimed.id, b"carol's result", timeout=None)
    await service.put_queued(BOB, "bob@example.org/desk", "jobs", [("j1", b"q2")])
    await service.subscribe(ALICE, "jobs", ALICE.bare, options(1))
    handed = await service.queues.hand("jobs", NodeKind.JOB, [(ALICE.bare, 1)], 64)
    assert [(h.id, h.payload) for h in handed] == [("j1", b"q2")]
    assert await service.queues.finished("jobs", [("j1", b"carol's result")]) == [None]
    done = await service.retract_queued(ALICE, ALICE.bare + "/w", "jobs", ["j1"], {"j1": b"r2"})
    assert done.finished == ("j1",)
    assert await service.queues.finished("jobs", [("j1", b"r2")]) == ["bob@example.org/desk"]


async def test_a_subscription_ended_while_a_hand_out_reads_the_node_still_gives_back(
    service: PubSubService, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notice of a subscription's end can come while a hand-out is reading the node
    from before that end: the hand-out after it still gives back what the subscriber
    held, even with nobody left to hand to."""
    dispatcher = QueueDispatcher(service, EventRouter(service, RecordingSink()), QueueSinkRecord())
    await job_node(service)  # not started: it hears only the notices given to it here
    await service.subscribe(ALICE, "jobs", ALICE.bare, options(1))
    await service.put_queued(CAROL, CAROL.bare, "jobs", [("j1", b"1")])
    assert await dispatcher.dispatch("jobs") == 1
    read = service.store.states_of

    async def unsubscribed_meanwhile(nodes: Sequence[str]) -> object:
        states = await read(nodes)
        monkeypatch.undo()
        await service.unsubscribe(ALICE, "jobs", ALICE.bare)
        dispatcher.on_notice(Notice(NoticeKind.STATE, "jobs"))
        return states

    monkeypatch.setattr(service.store, "states_of", unsubscribed_meanwhile)
    await dispatcher.dispatch("jobs")  # with the subscription read before its end
    await dispatcher.dispatch("jobs")  # woken by the notice
    assert await redis_client.hlen(keys.queue_holders("jobs")) == 0
    assert await redis_client.lrange(keys.ids("jobs"), 0, -1) == [b"j1"]
