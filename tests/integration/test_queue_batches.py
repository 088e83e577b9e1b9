"""XEP-0254 workers that take several jobs at once through the real Prosody: the items
handed at once in one event (``thoonkx#queue_batch``), several jobs finished in one
retract (all or none)."""

from __future__ import annotations

import pytest

from tests.integration.bridge_fixtures import Bridge, PubSubClientFactory, pubsub
from tests.integration.queueclients import JOB_NODE, RESULT, Worker, retract_of, retracts
from thoonk_xmpp.thoonk import BYTES, Job, keys
from thoonk_xmpp.xmpp import ns


async def test_a_batch_worker_gets_jobs_in_one_event_and_finishes_them_in_one_retract(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await owner.create("jobs", JOB_NODE)
    for n in range(3):
        await owner.publish("jobs", f"j{n}", f"<task xmlns='urn:t'>{n}</task>")
    job = Job(bridge.thoonk, "jobs", BYTES)
    by_thoonk = await job.put(b"<q xmlns='urn:t'>6*7</q>")
    worker = Worker(await pubsub_client(), "jobs", 4, batch=True)
    await worker.join()
    handed = await worker.next_event_items()
    assert sorted(job_id for job_id, _ in handed) == sorted(["j0", "j1", "j2", by_thoonk])
    assert {job_id: payload.text for job_id, payload in handed}[by_thoonk] == "6*7"
    results: dict[str, str | None] = {
        "j0": "<a xmlns='urn:t'>0</a>",
        "j1": None,  # finished without a result
        "j2": "<a xmlns='urn:t'>2</a>",
        by_thoonk: "<a xmlns='urn:t'>42</a>",
    }
    reply = await worker.client.send("set", retract_of("jobs", results))
    assert reply.get("type") == "result"
    # the holder: one message naming every job it finished
    told_holder = retracts(await worker.client.next_event())
    assert [r.get("id") for r in told_holder] == list(results)
    # the XMPP publisher: each of its jobs, with its result
    told = {}
    for _ in range(3):
        for retract in retracts(await owner.next_event()):
            told[retract.get("id")] = retract.find(f"{{{RESULT}}}result")
    assert set(told) == {"j0", "j1", "j2"}
    assert told["j1"] is None
    for job_id in ("j0", "j2"):
        result = told[job_id]
        assert result is not None and result.find("{urn:t}a") is not None
    # the Thoonk requester: its result
    request, result = await job.get_result(by_thoonk, block=False)
    assert (request, result) == (b"<q xmlns='urn:t'>6*7</q>", b'<a xmlns="urn:t">42</a>')
    assert await bridge.redis.hlen(keys.items("jobs")) == 0
    assert await bridge.redis.zcard(keys.claimed("jobs")) == 0
    assert await bridge.redis.get(keys.finishes("jobs")) == b"4"


async def test_without_queue_batch_each_job_comes_in_a_message_of_its_own(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await owner.create("jobs", JOB_NODE)
    for n in range(3):
        await owner.publish("jobs", f"j{n}", f"<task xmlns='urn:t'>{n}</task>")
    worker = Worker(await pubsub_client(), "jobs", 3)
    await worker.join()
    events = [await worker.next_event_items() for _ in range(3)]
    assert [len(items) for items in events] == [1, 1, 1]
    assert sorted(items[0][0] for items in events) == ["j0", "j1", "j2"]


@pytest.mark.parametrize("reason", ["unknown", "other-holder", "not-held"])
async def test_a_retract_of_several_jobs_with_one_refused_changes_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory, reason: str
) -> None:
    owner = await pubsub_client()
    await owner.create("jobs", JOB_NODE)
    for n in range(2):
        await owner.publish("jobs", f"j{n}")
    holder = Worker(await pubsub_client(), "jobs", 2, batch=True)
    await holder.join()
    assert sorted(i for i, _ in await holder.next_event_items()) == ["j0", "j1"]
    other = Worker(await pubsub_client(), "jobs")
    await other.join()
    await owner.publish("jobs", "j2")
    assert (await other.next_job())[0] == "j2"
    if reason == "not-held":  # j2 back in the line, and nobody free to take it
        await owner.publish("jobs", "j3")
        await other.client.ok(
            "set", pubsub(f"<unlock xmlns='{ns.QUEUEING}' node='jobs'><item id='j2'/></unlock>")
        )
        assert (await other.next_job())[0] == "j3"
    bad, expected = {
        "unknown": ("nope", ("cancel", "item-not-found")),
        "other-holder": ("j2", ("cancel", "conflict")),
        "not-held": ("j2", ("wait", "unexpected-request")),
    }[reason]
    retract = retract_of("jobs", {"j0": "<a xmlns='urn:t'/>", bad: None, "j1": None})
    assert await bridge.refuses(holder.client, "set", retract) == expected
    # nothing finished: the holder can still finish both of its jobs
    assert (await holder.client.send("set", retract_of("jobs", {"j0": None, "j1": None}))).get(
        "type"
    ) == "result"
