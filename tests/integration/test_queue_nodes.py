"""XEP-0254 job and queue nodes through the real Prosody: XMPP workers, results, errors."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.bridge_fixtures import (
    Bridge,
    PubSubClientFactory,
    StanzaError,
    form_values,
    pubsub,
)
from tests.integration.queueclients import (
    JOB_NODE,
    RESULT,
    Worker,
    collect,
    next_retract,
    subscribe_with,
    unlocks,
)
from tests.integration.streams import TIMEOUT
from thoonk_xmpp.thoonk import BYTES, Job, Queue, keys
from thoonk_xmpp.xmpp import ns


async def test_disco_advertises_queueing_and_the_node_kind(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    info = await owner.ok("get", f"<query xmlns='{ns.DISCO_INFO}'/>")
    features = {f.get("var") for f in info.iter(ns.tag(ns.DISCO_INFO, "feature"))}
    assert ns.QUEUEING in features
    await owner.create("jobs", JOB_NODE)
    info = await owner.ok("get", f"<query xmlns='{ns.DISCO_INFO}' node='jobs'/>")
    features = {f.get("var") for f in info.iter(ns.tag(ns.DISCO_INFO, "feature"))}
    assert ns.QUEUEING in features
    kinds = [
        v.text
        for f in info.iter(ns.tag(ns.DATA, "field"))
        if f.get("var") == "thoonkx#node_kind"
        for v in f.iter(ns.tag(ns.DATA, "value"))
    ]
    assert kinds == ["job"]
    stored = await bridge.thoonk.get_config("jobs")
    assert stored["type"] == "job" and stored["timeout"] == "60"


async def test_each_job_goes_to_one_worker_and_results_reach_the_publisher(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await owner.create("jobs", JOB_NODE)
    workers = [Worker(await pubsub_client(), "jobs") for _ in range(2)]
    for worker in workers:
        await worker.join()
    await owner.publish("jobs", "j1", "<task xmlns='urn:t'>one</task>")
    await owner.publish("jobs", "j2", "<task xmlns='urn:t'>two</task>")
    # one job each (queue_requests 1): neither gets both
    got = await asyncio.gather(*(w.next_job() for w in workers))
    assert sorted(job_id for job_id, _ in got) == ["j1", "j2"]
    claimed = await bridge.redis.zrange(keys.claimed("jobs"), 0, -1)
    assert sorted(claimed) == [b"j1", b"j2"]
    for worker, (job_id, _) in zip(workers, got, strict=True):
        reply = await worker.finish(job_id, "<done xmlns='urn:t'/>")
        assert reply.get("type") == "result"
        # the holder gets the retract notification
        assert (await next_retract(worker.client)).get("id") == job_id
    # the publisher gets each result
    told = {}
    for _ in range(2):
        retract = await next_retract(owner)
        told[retract.get("id")] = retract.find(f"{{{RESULT}}}result/{{urn:t}}done")
    assert set(told) == {"j1", "j2"} and all(v is not None for v in told.values())
    assert await bridge.redis.zcard(keys.claimed("jobs")) == 0
    assert await bridge.redis.hlen(keys.items("jobs")) == 0
    # the result is kept for retrieval by id
    items = await owner.ok("get", pubsub("<items node='jobs'><item id='j1'/></items>"))
    found = items.find(f"{{{ns.PUBSUB}}}items/{{{ns.PUBSUB}}}item/{{{RESULT}}}result")
    assert found is not None and found.find("{urn:t}done") is not None


async def test_a_thoonk_put_reaches_an_xmpp_worker_and_its_result_a_thoonk_requester(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await owner.create("jobs", JOB_NODE)
    worker = Worker(await pubsub_client(), "jobs")
    await worker.join()
    job = Job(bridge.thoonk, "jobs", BYTES)
    job_id = await job.put(b"<q xmlns='urn:t'>6*7</q>")
    handed, payload = await worker.next_job()
    assert handed == job_id and payload.text == "6*7"
    waiting = asyncio.ensure_future(job.get_result(job_id, timeout=TIMEOUT))
    await asyncio.sleep(0.2)  # get_result subscribes first
    await worker.finish(job_id, "<a xmlns='urn:t'>42</a>")
    request, result = await waiting
    assert request == b"<q xmlns='urn:t'>6*7</q>"
    assert result == b'<a xmlns="urn:t">42</a>'


async def test_unlock_gives_the_job_to_another_worker(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await owner.create("jobs", JOB_NODE)
    first = Worker(await pubsub_client(), "jobs")
    await first.join()
    await owner.publish("jobs", "j1")
    assert (await first.next_job())[0] == "j1"
    second = Worker(await pubsub_client(), "jobs")
    await second.join()
    unlocked = unlocks(first.client)
    await first.client.ok(
        "set", pubsub(f"<unlock xmlns='{ns.QUEUEING}' node='jobs'><item id='j1'/></unlock>")
    )
    assert await asyncio.wait_for(unlocked.get(), TIMEOUT) == "j1"
    assert (await second.next_job())[0] == "j1"
    assert await bridge.redis.hget(keys.cancelled("jobs"), "j1") == b"1"


@pytest.mark.parametrize("reason", ["unknown", "not-held", "other-holder", "outsider"])
async def test_refused_retracts_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory, reason: str
) -> None:
    owner = await pubsub_client()
    await owner.create("jobs", JOB_NODE)
    holder = Worker(await pubsub_client(), "jobs")
    await holder.join()
    await owner.publish("jobs", "j1")
    assert (await holder.next_job())[0] == "j1"
    other = Worker(await pubsub_client(), "jobs")
    await other.join()
    await owner.publish("jobs", "j2")
    assert (await other.next_job())[0] == "j2"
    if reason == "not-held":  # j2 back in the queue, nobody free to take it
        await owner.publish("jobs", "j3")
        await other.client.ok(
            "set", pubsub(f"<unlock xmlns='{ns.QUEUEING}' node='jobs'><item id='j2'/></unlock>")
        )
        assert (await other.next_job())[0] == "j3"
    job_id, sender, expected = {
        "unknown": ("nope", holder.client, ("cancel", "item-not-found")),
        "not-held": ("j2", other.client, ("wait", "unexpected-request")),
        "other-holder": ("j1", other.client, ("cancel", "conflict")),
        "outsider": ("j1", await pubsub_client(), ("auth", "forbidden")),
    }[reason]
    retract = pubsub(f"<retract node='jobs'><item id='{job_id}'/></retract>")
    assert await bridge.refuses(sender, "set", retract) == expected


async def test_a_queue_node_hands_each_item_once(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await owner.create("q", {"thoonkx#node_kind": "queue"})
    workers = [Worker(await pubsub_client(), "q") for _ in range(2)]
    for worker in workers:
        await worker.join()
    queue = Queue(bridge.thoonk, "q", BYTES)
    for n in range(6):
        await queue.put(f"<n xmlns='urn:t'>{n}</n>".encode())
    await owner.publish("q", "x1", "<n xmlns='urn:t'>x</n>")
    got = await collect(workers, 7)
    assert sorted(payload.text or "" for _, _, payload in got) == [*"012345", "x"]
    assert await bridge.redis.llen(keys.ids("q")) == 0


async def test_subscribing_to_a_queue_node_negotiates_queue_requests(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await owner.create("jobs", JOB_NODE)
    worker = await pubsub_client()
    # XEP-0254 §Subscribing: without options, the options form to fill in
    before = await bridge.state()
    reply = await worker.send("set", subscribe_with(worker, "jobs", None))
    assert await bridge.state() == before
    assert StanzaError.of(reply) == ("modify", "not-acceptable", "configuration-required")
    x = reply.find(f"{{{ns.PUBSUB}}}pubsub/{{{ns.PUBSUB}}}options/{{{ns.DATA}}}x")
    assert x is not None and x.get("type") == "form"
    (field,) = [f for f in x if f.get("var") == "pubsub#queue_requests"]
    assert field.find(ns.tag(ns.DATA, "required")) is not None
    # with options: the result carries them
    result = await worker.ok("set", subscribe_with(worker, "jobs", 3))
    x = result.find(f"{{{ns.PUBSUB}}}options/{{{ns.DATA}}}x")
    assert form_values(x)["pubsub#queue_requests"] == ["3"]
    # three held at once, the fourth waits for a finish
    job = Job(bridge.thoonk, "jobs", BYTES)
    ids = [await job.put(f"<n xmlns='urn:t'>{n}</n>".encode()) for n in range(4)]
    handed = Worker(worker, "jobs")
    got = [await handed.next_job() for _ in range(3)]
    assert [job_id for job_id, _ in got] == ids[:3]
    assert await bridge.redis.llen(keys.ids("jobs")) == 1
    await handed.finish(ids[0])
    assert (await handed.next_job())[0] == ids[3]
