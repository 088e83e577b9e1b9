"""One job node worked by XMPP workers, a thoonk.js worker and a Thoonk worker of ours
together, through the real Prosody (XEP-0254 job nodes, README "Job and queue nodes").

500 jobs published over XMPP; two XMPP workers (subscribed, each finishing the item it is
handed with a result inside the retract), the original thoonk.js 0.5.5 (its ``job.get``
and ``job.finish`` with a result, ``tests/thoonkjs_fixtures.py``) and one
``AsyncThoonk`` worker of ours (``job.get``/``job.finish``) claim from the same job
feed. Every id is counted: each job finished exactly once, by one worker, and each
result reaches the XMPP publisher (a retract notification carrying it) and Thoonk apps
(a ``finish`` handler hears all 500; ``get_result`` calls waiting on every tenth job,
as many as a client's connection pool holds at once, get theirs).
"""

from __future__ import annotations

import asyncio
import contextlib
import xml.etree.ElementTree as ET

import pytest
import redis.asyncio as aioredis

from tests.integration.bridge_fixtures import (
    EVENT,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    form,
    pubsub,
)
from tests.thoonk.jobtools import subscribed
from tests.thoonkjs_fixtures import js, js_driver, js_node
from thoonk_xmpp.thoonk import AsyncThoonk, Empty
from thoonk_xmpp.thoonk.job import JobCounts
from thoonk_xmpp.xmpp import ns
from thoonk_xmpp.xmpp.payloads import DATA_NS
from tools.localservers import RedisServer
from tools.thoonkjs import JsPeer

__all__ = ["js", "js_driver", "js_node"]  # the thoonk.js fixtures this module uses

NODE = "mixed"
JOBS = 500
RESULT = ns.JOB_RESULT


class XmppWorker:
    """A subscriber of the job node: finishes each item handed to it, with a result."""

    def __init__(self, client: PubSubClient, label: str) -> None:
        self.client = client
        self.label = label
        self.done: list[str] = []
        self.task: asyncio.Task[None] | None = None

    async def join(self) -> None:
        """Directed presence to the service, then subscribe holding one job at a time."""
        self.client.xmpp.send_presence(pto=self.client.service_jid)
        attrs = f"node='{NODE}' jid='{self.client.jid}'"
        options = form(f"{ns.PUBSUB}#subscribe_options", {"pubsub#queue_requests": "1"})
        subscribe = f"<subscribe {attrs}/><options {attrs}>{options}</options>"
        await self.client.ok("set", pubsub(subscribe))
        self.task = asyncio.create_task(self._work())

    async def _work(self) -> None:
        while True:
            message = await self.client.events.get()
            for item in message.iterfind(f"{{{EVENT}}}event/{{{EVENT}}}items/{{{EVENT}}}item"):
                job_id = item.get("id", "")
                answer = (
                    f"<result xmlns='{RESULT}'><done xmlns='urn:t'>{self.label}</done></result>"
                )
                retract = f"<retract node='{NODE}'><item id='{job_id}'>{answer}</item></retract>"
                await self.client.ok("set", pubsub(retract))
                self.done.append(job_id)

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def our_worker(url: str, done: list[str]) -> None:
    async with AsyncThoonk.from_url(url) as thoonk:
        job = await thoonk.job(NODE)
        while True:
            try:
                claimed = await job.get(timeout=1)
            except Empty:
                continue
            await job.finish(claimed.id, "<ours xmlns='urn:t'/>")
            done.append(claimed.id)


async def wait_until(holds: object, what: str, seconds: float = 60) -> None:
    assert callable(holds)
    for _ in range(int(seconds * 100)):
        if holds():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def results_told(publisher: PubSubClient, count: int) -> dict[str, list[ET.Element]]:
    """The results in the publisher's retract notifications, by id, until ``count`` ids."""
    told: dict[str, list[ET.Element]] = {}
    while len(told) < count:
        message = await asyncio.wait_for(publisher.events.get(), 60)
        for retract in message.iterfind(f"{{{EVENT}}}event/{{{EVENT}}}items/{{{EVENT}}}retract"):
            told.setdefault(retract.get("id", ""), []).extend(retract.iter(f"{{{RESULT}}}result"))
    return told


@pytest.mark.slow
async def test_xmpp_thoonk_js_and_our_workers_share_one_job_node(
    bridge: Bridge,
    pubsub_client: PubSubClientFactory,
    js: JsPeer,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
) -> None:
    publisher = await pubsub_client()
    await publisher.create(NODE, {"thoonkx#node_kind": "job"})
    ids = [f"j{n}" for n in range(JOBS)]
    requests = {job_id: f"<task xmlns='urn:t'>{job_id}</task>" for job_id in ids}
    for start in range(0, JOBS, 50):
        await asyncio.gather(
            *(publisher.publish(NODE, i, requests[i]) for i in ids[start : start + 50])
        )
    job = await bridge.thoonk.job(NODE)
    assert len(await job.get_available_ids()) == JOBS
    heard: dict[str, list[str]] = {}
    bridge.thoonk.register_handler(
        "finish", lambda feed, job_id, result: heard.setdefault(job_id, []).append(result)
    )
    asked = {i: asyncio.create_task(job.get_result(i, timeout=120)) for i in ids[::10]}
    await subscribed(redis_client, f"job.finish:{NODE}".encode(), len(asked))

    # Two XMPP workers take the first jobs; then thoonk.js and ours join them.
    xmpp_workers = [XmppWorker(await pubsub_client(), f"xmpp{n}") for n in (1, 2)]
    for worker in xmpp_workers:
        await worker.join()
    await wait_until(lambda: all(w.done for w in xmpp_workers), "each XMPP worker's first job")
    js_client = await js.open_client()
    await js.start_worker(NODE, "js:", client=js_client)
    by_us: list[str] = []
    ours = asyncio.create_task(our_worker(redis_server.url, by_us))

    asked_for = await asyncio.wait_for(asyncio.gather(*asked.values()), 120)
    answers = dict(zip(asked, asked_for, strict=True))
    told = await results_told(publisher, JOBS)
    await wait_until(lambda: len(heard) == JOBS, "a finish notice of every job")
    by_js = await js.stop_worker(js_client)
    ours.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ours
    for worker in xmpp_workers:
        await worker.stop()

    # Each job finished exactly once, by one worker; every worker did some.
    by_worker = {w.label: w.done for w in xmpp_workers} | {"js": by_js, "ours": by_us}
    finished = [job_id for done in by_worker.values() for job_id in done]
    assert sorted(finished) == sorted(ids), "a job finished twice, or never"
    assert all(by_worker.values()), {label: len(done) for label, done in by_worker.items()}
    worker_of = {job_id: label for label, done in by_worker.items() for job_id in done}

    # Thoonk apps heard each result once; requesters got the request back with it.
    assert sorted(heard) == sorted(ids)
    assert all(len(results) == 1 for results in heard.values())
    for job_id, (request, result) in answers.items():
        assert request == requests[job_id].replace("'", '"')
        assert heard[job_id] == [result]
    for job_id, (result,) in heard.items():
        request = requests[job_id].replace("'", '"')
        label = worker_of[job_id]
        if label == "js":
            assert result == "js:" + request
        elif label == "ours":
            assert result == "<ours xmlns='urn:t'/>"
        else:
            assert ET.fromstring(result).text == label

    # The XMPP publisher was told each result once, in its retract notification.
    assert sorted(told) == sorted(ids)
    for job_id, results in told.items():
        assert len(results) == 1, job_id
        (payload,) = list(results[0])
        label = worker_of[job_id]
        if label == "js":
            assert payload.tag == f"{{{DATA_NS}}}data"
            assert payload.text == "js:" + requests[job_id].replace("'", '"')
        elif label == "ours":
            assert payload.tag == "{urn:t}ours"
        else:
            assert (payload.tag, payload.text) == ("{urn:t}done", label)
    assert await job.counts() == JobCounts(available=0, claimed=0, stalled=0, total=0)
