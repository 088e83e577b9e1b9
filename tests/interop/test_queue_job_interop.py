"""Queues and jobs shared with thoonk.py 1.0.1.0, both directions.

thoonk.py quirks exercised on purpose (contract 6, 7, 16.A): its priority
queue put raises TypeError (before sending anything), ``get(timeout)`` raises
its own ``Empty``, a job put publishes ``<id>\\0<item>`` on the channel
``feed.publishes:<job>`` and a claim publishes ``<id>`` on
``feed.claimed:<job>``.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from tests.dbstate import snapshot
from tests.thoonk.dbtools import Recorder
from tests.thoonk.jobtools import subscribed
from thoonk_xmpp.thoonk import AsyncThoonk, Empty, Thoonk
from thoonk_xmpp.thoonk.job import JobCounts
from tools.localservers import RedisServer

from .conftest import Py2Error, Py2Peer

# --- queue -------------------------------------------------------------------------------


async def test_queue_ours_to_py2(py2: Py2Peer, thoonk: AsyncThoonk) -> None:
    queue = await thoonk.queue("q")
    await queue.put("a")
    await queue.put("b")
    await queue.put("urgent", queue.HIGH)
    got = [await py2.call("queue", "q", "get", 1) for _ in range(3)]
    assert got == ["urgent", "a", "b"]
    with pytest.raises(Py2Error) as caught:
        await py2.call("queue", "q", "get", 1)
    assert caught.value.name == "Empty"
    assert await queue.count() == 0


async def test_queue_py2_to_ours(
    py2: Py2Peer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    await py2.call("queue", "pq", "put", "x")
    await py2.call("queue", "pq", "put", "y")
    before = await snapshot(redis_client)
    with pytest.raises(Py2Error) as caught:  # thoonk.py's priority put is broken
        await py2.call("queue", "pq", "put", "z", True)
    assert caught.value.name == "TypeError"
    assert await snapshot(redis_client) == before
    queue = await thoonk.queue("pq")
    assert await queue.count() == 2
    assert [await queue.get(timeout=1), await queue.get(timeout=1)] == ["x", "y"]
    with pytest.raises(Empty):
        await queue.get(block=False)
    assert await redis_client.hlen(b"feed.items:pq") == 0
    assert await redis_client.get(b"feed.publishes:pq") == b"2"


async def test_queue_mixed_producers_keep_fifo(py2: Py2Peer, thoonk: AsyncThoonk) -> None:
    queue = await thoonk.queue("mix")
    await queue.put("ours 1")
    await py2.call("queue", "mix", "put", "py 2")
    await queue.put("ours 3")
    assert [await py2.call("queue", "mix", "get", 1) for _ in range(2)] == ["ours 1", "py 2"]
    assert await queue.get(timeout=1) == "ours 3"


# --- job ---------------------------------------------------------------------------------


async def test_job_py2_puts_we_work(py2: Py2Peer, thoonk: AsyncThoonk) -> None:
    rec = Recorder()
    for kind in ("job_put", "job_claim", "finish"):
        thoonk.register_handler(kind, rec.handler(kind))
    await thoonk.create_feed("jobs", {"type": "job"})
    assert await py2.notices(1) == [["create", "jobs"]]
    await py2.subscribed("jobs")
    first = await py2.call("job", "jobs", "put", "task 1")
    second = await py2.call("job", "jobs", "put", "task 2")
    assert await rec.wait_for(2) == [
        ("job_put", "jobs", "task 1", first),
        ("job_put", "jobs", "task 2", second),
    ]
    job = await thoonk.job("jobs")
    assert await job.get(timeout=1) == (first, "task 1", 0)
    assert (await job.get(timeout=1)).id == second
    await job.finish(first, "result 1")
    await job.cancel(second)
    assert await rec.wait_for(5) == [
        ("job_put", "jobs", "task 1", first),
        ("job_put", "jobs", "task 2", second),
        ("job_claim", "jobs", first),
        ("job_claim", "jobs", second),
        ("finish", "jobs", first, "result 1"),
    ]
    assert await py2.notices(1) == [["finish", "jobs", first, "result 1"]]
    # thoonk.py claims the cancelled job and sees our failure count.
    assert await py2.call("job", "jobs", "get", 1) == [second, "task 2", 1]
    assert await py2.call("job", "jobs", "get_failure_count", second) == 1
    await py2.call("job", "jobs", "finish", second)  # no result: no notice
    assert await job.counts() == JobCounts(available=0, claimed=0, stalled=0, total=0)
    assert await py2.call("job", "jobs", "get_ids") == []
    assert await py2.no_more_notices() == []


async def test_job_we_put_py2_works(py2: Py2Peer, thoonk: AsyncThoonk) -> None:
    rec = Recorder()
    for kind in ("finish", "job_claim"):
        thoonk.register_handler(kind, rec.handler(kind))
    job = await thoonk.job("work")
    assert await py2.notices(1) == [["create", "work"]]
    await py2.subscribed("work")
    normal = await job.put("normal")
    urgent = await job.put("urgent", job.HIGH)
    assert await py2.call("job", "work", "get", 1) == [urgent, "urgent", 0]
    assert await py2.call("job", "work", "get", 1) == [normal, "normal", 0]
    assert sorted(await job.get_claimed_ids()) == sorted([normal, urgent])
    await py2.call("job", "work", "finish", urgent, "done\x00with nul")
    await py2.call("job", "work", "stall", normal)
    assert await job.get_stalled_ids() == [normal]
    await job.retry(normal)
    assert await job.get_available_ids() == [normal]
    assert await rec.wait_for(3) == [
        ("job_claim", "work", urgent),
        ("job_claim", "work", normal),
        ("finish", "work", urgent, "done\x00with nul"),
    ]
    # Our own finish notices reach thoonk.py too; a result stored by us only.
    claimed = await job.get(timeout=1)
    await job.finish(claimed.id, "ours")
    assert await py2.notices(2) == [
        ["finish", "work", urgent, "done\x00with nul"],
        ["finish", "work", normal, "ours"],
    ]
    assert await job.get_result(normal, block=False) == ("normal", "ours")
    with pytest.raises(Empty):  # thoonk.py's finish stores no result
        await job.get_result(urgent, block=False)
    assert await job.count() == 0


async def test_py2_retracts_our_job(
    py2: Py2Peer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    job = await thoonk.job("r")
    kept = await job.put("kept")
    gone = await job.put("gone")
    await py2.call("job", "r", "retract", gone)
    assert await job.get_ids() == [kept]
    assert await job.get_available_ids() == [kept]
    assert await redis_client.zrange(b"feed.published:r", 0, -1) == [kept.encode()]


# --- results from a thoonk.py worker -----------------------------------------------------


async def test_our_get_result_hears_a_py2_worker(
    py2: Py2Peer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    """thoonk.py announces a result only on ``job.finish:<feed>``; a requester of ours waits there."""
    job = await thoonk.job("asked")
    await py2.subscribed("asked")
    job_id = await job.put("6 * 7")
    waiting = asyncio.create_task(job.get_result(job_id, timeout=15))
    await subscribed(redis_client, b"job.finish:asked", 2)  # thoonk.py's listener and us
    assert await py2.call("job", "asked", "get", 5) == [job_id, "6 * 7", 0]
    await py2.call("job", "asked", "finish", job_id, "42")
    assert await asyncio.wait_for(waiting, 20) == ("6 * 7", "42")
    with pytest.raises(Empty):  # nothing was kept: the answer came from the notice
        await job.get_result(job_id, block=False)


async def test_blocking_get_result_hears_a_py2_worker(
    py2: Py2Peer, redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    with Thoonk("127.0.0.1", redis_server.port, 0) as thoonk:
        job = thoonk.job("asked")
        await py2.subscribed("asked")
        job_id = job.put("6 * 7")
        waiting = asyncio.create_task(asyncio.to_thread(job.get_result, job_id, timeout=15))
        await subscribed(redis_client, b"job.finish:asked", 2)
        await py2.call("job", "asked", "get", 5)
        await py2.call("job", "asked", "finish", job_id, "42")
        query, result = await asyncio.wait_for(waiting, 20)
    assert (query, result) == ("6 * 7", "42")
