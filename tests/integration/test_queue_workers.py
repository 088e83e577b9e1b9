"""XMPP workers and Thoonk workers on one job node, through the real Prosody: every job
done exactly once, results back to both worlds, and workers that vanish while holding jobs."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from tests.integration.bridge_fixtures import ADMIN, Bridge, PubSubClientFactory
from tests.integration.queueclients import JOB_NODE, RESULT, Worker, collect, next_retract
from tests.integration.streams import TIMEOUT
from thoonk_xmpp.service.model import Actor
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, Empty, Job, keys
from tools.localservers import RedisServer

JOBS = 500


class Tally:
    """Which worker finished which job, and how often; ``complete`` once ``total`` are."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done: Counter[str] = Counter()
        self.by: Counter[str] = Counter()
        self.complete = asyncio.Event()

    def count(self, job_id: str, worker: str) -> None:
        self.done[job_id] += 1
        self.by[worker] += 1
        if sum(self.done.values()) >= self.total:
            self.complete.set()


async def xmpp_worker(worker: Worker, tally: Tally) -> None:
    """Finish every job handed to ``worker`` with ``<r>`` holding the request's text."""
    while True:
        job_id, payload = await worker.next_job()
        reply = await worker.finish(job_id, f"<r xmlns='urn:t'>{payload.text}</r>")
        assert reply.get("type") == "result", job_id
        tally.count(job_id, worker.client.jid)


async def thoonk_worker(app: AsyncThoonk, tally: Tally) -> None:
    """The same with our Thoonk API: claim, finish with a result."""
    job = Job(app, "work", BYTES)
    while True:
        try:
            claimed = await job.get(timeout=0.5)
        except Empty:
            continue
        text = ET.fromstring(claimed.item).text
        await job.finish(claimed.id, f"<r xmlns='urn:t'>{text}</r>".encode())
        tally.count(claimed.id, "thoonk")


async def test_two_xmpp_workers_and_a_thoonk_worker_do_each_of_500_jobs_once(
    bridge: Bridge, pubsub_client: PubSubClientFactory, redis_server: RedisServer
) -> None:
    owner = await pubsub_client()
    await owner.create("work", JOB_NODE)
    workers = [Worker(await pubsub_client(), "work", queue_requests=4) for _ in range(2)]
    for worker in workers:
        await worker.join()
    tally = Tally(JOBS)
    job = Job(bridge.thoonk, "work", BYTES)
    async with AsyncThoonk.from_url(redis_server.url) as app:
        tasks = [asyncio.ensure_future(xmpp_worker(w, tally)) for w in workers]
        tasks.append(asyncio.ensure_future(thoonk_worker(app, tally)))
        try:
            # half from an XMPP publisher, half from a Thoonk app
            xmpp_ids = [f"x{n}" for n in range(JOBS // 2)]
            for job_id in xmpp_ids:
                await owner.publish("work", job_id, f"<q xmlns='urn:t'>{job_id}</q>")
            thoonk_ids = [
                await job.put(f"<q xmlns='urn:t'>t{n}</q>".encode()) for n in range(JOBS // 2)
            ]
            # the XMPP publisher hears every result of its jobs, whoever did them
            told: dict[str, str] = {}
            while len(told) < len(xmpp_ids):
                retract = await next_retract(owner)
                answer = retract.find(f"{{{RESULT}}}result/{{urn:t}}r")
                assert answer is not None
                told[retract.get("id", "")] = answer.text or ""
            assert told == {job_id: job_id for job_id in xmpp_ids}
            await asyncio.wait_for(tally.complete.wait(), 60)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    # every job exactly once, and every worker took part
    assert set(tally.done) == set(xmpp_ids) | set(thoonk_ids)
    assert set(tally.done.values()) == {1}
    assert all(tally.by[w.client.jid] > 0 for w in workers) and tally.by["thoonk"] > 0
    # a Thoonk requester gets the result of each of its jobs (kept by any worker of ours)
    for n, job_id in enumerate(thoonk_ids):
        _, result = await job.get_result(job_id, block=False)
        assert ET.fromstring(result).text == f"t{n}", result
    redis = bridge.redis
    assert int(await redis.get(keys.finishes("work"))) == JOBS
    assert await redis.zcard(keys.claimed("work")) == 0
    assert await redis.hlen(keys.items("work")) == 0
    assert await redis.hlen(keys.queue_holders("work")) == 0
    assert await redis.hlen(keys.queue_publishers("work")) == 0


async def test_a_dropped_worker_s_jobs_go_to_others_at_once_by_presence(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await owner.create("work", {**JOB_NODE, "thoonkx#claim_timeout": "600"})
    doomed = Worker(await pubsub_client(), "work", queue_requests=3)
    await doomed.join()
    for n in range(3):
        await owner.publish("work", f"j{n}")
    assert sorted(job_id for _, job_id, _ in await collect([doomed], 3)) == ["j0", "j1", "j2"]
    survivor = Worker(await pubsub_client(), "work", queue_requests=3)
    await survivor.join()
    transport = doomed.client.xmpp.transport
    assert transport is not None
    transport.abort()  # the connection drops: the server sends the service unavailable
    got = await collect([survivor], 3)
    assert sorted(job_id for _, job_id, _ in got) == ["j0", "j1", "j2"]
    redis = bridge.redis
    assert sorted(await redis.hvals(keys.cancelled("work"))) == [b"1"] * 3
    subscribers = await bridge.service.store.subscriptions("work")
    assert [s.jid for s in subscribers] == [survivor.client.jid]


# On a server granting the XEP-0356 presence privilege the service hears every logout:
# this one grants none, so a worker that sends the service no presence goes unnoticed.
@pytest.mark.parametrize("xmpp_server", ["prosody_unprivileged"], indirect=True)
async def test_without_presence_the_claim_timeout_hands_the_jobs_on(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await owner.create("work", {**JOB_NODE, "thoonkx#claim_timeout": "1"})
    silent = Worker(await pubsub_client(), "work", queue_requests=2, presence=False)
    await silent.join()
    await owner.publish("work", "j1")
    assert (await silent.next_job())[0] == "j1"
    other = Worker(await pubsub_client(), "work", queue_requests=2)
    await other.join()
    transport = silent.client.xmpp.transport
    assert transport is not None
    loop = asyncio.get_running_loop()
    started = loop.time()
    transport.abort()
    assert (await other.next_job())[0] == "j1"
    assert loop.time() - started < TIMEOUT
    assert await bridge.redis.hget(keys.cancelled("work"), "j1") == b"1"
    # no presence: the service cannot know it went, so it stays subscribed
    subscribers = {s.jid for s in await bridge.service.store.subscriptions("work")}
    assert subscribers == {silent.client.jid, other.client.jid}
    reply = await other.finish("j1")
    assert reply.get("type") == "result"


async def test_a_bounced_delivery_gives_the_job_back_and_ends_the_subscription(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    # (servers bounce normal messages to accounts that do not exist; headlines they drop)
    await owner.create("work", {**JOB_NODE, "pubsub#notification_type": "normal"})
    # an admin subscribes an account that does not exist: the server bounces its events
    ghost = f"ghost@{bridge.server.domain}"
    admin = Actor(ADMIN)
    await bridge.service.subscribe(admin, "work", ghost, {"pubsub#queue_requests": ["1"]})
    await owner.publish("work", "j1")
    worker = Worker(await pubsub_client(), "work")
    await worker.join()
    assert (await worker.next_job())[0] == "j1"
    assert [s.jid for s in await bridge.service.store.subscriptions("work")] == [worker.client.jid]
