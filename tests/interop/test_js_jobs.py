"""Jobs shared with the original thoonk.js 0.5.5: put by one side, claimed and finished
by the other, cancel, stall, retry, retract, failure counts, claim timeouts, results.

thoonk.js's job API calls back: ``put(item, cb, high_priority, id, finish_cb)`` with
``(error, item, id)``, ``get(timeout, cb)`` with ``(error, item, id, timed_out)``,
``finish(id, cb, result)``, ``cancel``/``stall``/``retry``/``retract(id, cb)`` with
``(error, id)``. Where it differs from thoonk.py (contract 7, 11, 16.A), on purpose:

- job priorities agree with ours and thoonk.py (normal ``LPUSH``, high ``RPUSH``),
  unlike its queues;
- a put or a claim publishes nothing (thoonk.py: ``feed.publishes:``/``feed.claimed:``),
  so our ``job_put``/``job_claim`` handlers hear only our own and thoonk.py's;
- ``getNumOfFailures`` answers the stored text (``"2"``, or null for none);
- ``retry`` of a job that is not stalled still queues it again (it compares the
  SISMEMBER reply with null); our claim drops such a second copy;
- ``retract`` deletes from a misspelt ``feed:items:`` key, so the job's payload stays
  in ``feed.items`` (our ``get_ids`` and ``count`` still see it) until we retract it;
- a result with a NUL reaches thoonk.js's handlers cut at the NUL;
- a result is only announced (``job.finish``), never kept: our ``get_result`` hears it
  while it waits, and a thoonk.js requester hears ours through its finish callback;
- ``finish`` retries a lost WATCH race (another worker claimed meanwhile) with an
  undeclared ``timeout`` and throws, leaving the job claimed: with workers sharing a
  feed that happens at once, so the driver declares that global (as it declares
  ``redis`` for queue.js) and the retry runs as its authors meant.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.dbstate import snapshot
from tests.thoonk.dbtools import Recorder
from tests.thoonk.jobtools import subscribed
from thoonk_xmpp.thoonk import AsyncThoonk, Empty, Thoonk
from thoonk_xmpp.thoonk.job import JobCounts
from tools.localservers import RedisServer
from tools.thoonkjs import CB, JsPeer, recording


def recorder(thoonk: AsyncThoonk, *kinds: str) -> Recorder:
    rec = Recorder()
    for kind in kinds:
        thoonk.register_handler(kind, rec.handler(kind))
    return rec


async def js_job(js: JsPeer, name: str, method: str, *args: Any, client: int = 0) -> Any:
    """A thoonk.js job call (``CB`` among ``args``): its values after a null error."""
    error, *values = await js.call("job", name, method, *args, client=client)
    assert error is None, error
    return values[0] if len(values) == 1 else values


async def test_job_js_puts_we_work(js: JsPeer, thoonk: AsyncThoonk) -> None:
    rec = recorder(thoonk, "job_put", "job_claim", "finish")
    await js.open("job", "jobs")  # creates it
    _, first = await js_job(js, "jobs", "put", "task 1", CB)
    _, second = await js_job(js, "jobs", "put", "task 2", CB)
    _, urgent = await js_job(js, "jobs", "put", "urgent", CB, True)
    job = await thoonk.job("jobs")
    assert await job.get_available_ids() == [urgent, first, second]
    assert await job.get(timeout=1) == (urgent, "urgent", 0)
    assert await job.get(timeout=1) == (first, "task 1", 0)
    assert (await job.get(timeout=1)).id == second
    await job.finish(urgent)  # no result: no notice
    await job.finish(first, "result 1")
    await job.cancel(second)
    assert await rec.wait_for(4) == [  # no job_put: thoonk.js announces no put
        ("job_claim", "jobs", urgent),
        ("job_claim", "jobs", first),
        ("job_claim", "jobs", second),
        ("finish", "jobs", first, "result 1"),
    ]
    assert await js.notices(3) == [
        ["create", "jobs"],
        ["config", "jobs"],
        ["finish", "jobs", first, "result 1"],
    ]
    # thoonk.js claims the cancelled job and sees our failure count.
    assert await js_job(js, "jobs", "get", 1, CB) == ["task 2", second, False]
    assert await js_job(js, "jobs", "getNumOfFailures", second, CB) == "1"
    assert await js_job(js, "jobs", "finish", second, CB) == second  # no result
    assert await job.counts() == JobCounts(available=0, claimed=0, stalled=0, total=0)
    assert await job.get_failure_count(second) == 0
    assert await js.no_more_notices() == []
    assert len(rec.calls) == 4


async def test_job_we_put_js_works(js: JsPeer, thoonk: AsyncThoonk) -> None:
    rec = recorder(thoonk, "finish")
    job = await thoonk.job("work")
    await js.open("job", "work")
    normal = await job.put("normal")
    urgent = await job.put("urgent", job.HIGH)
    assert await js_job(js, "work", "get", 1, CB) == ["urgent", urgent, False]
    assert await js_job(js, "work", "get", 1, CB) == ["normal", normal, False]
    assert sorted(await job.get_claimed_ids()) == sorted([normal, urgent])
    await js_job(js, "work", "finish", urgent, CB, "done\x00with nul")
    await js_job(js, "work", "stall", normal, CB)
    assert await job.get_stalled_ids() == [normal]
    assert await job.get_claimed_ids() == []
    await job.retry(normal)
    assert await job.get_available_ids() == [normal]
    claimed = await job.get(timeout=1)
    assert claimed == (normal, "normal", 0)
    await job.finish(normal, "ours")
    assert await rec.wait_for(2) == [
        ("finish", "work", urgent, "done\x00with nul"),  # we split at the first NUL only
        ("finish", "work", normal, "ours"),
    ]
    assert await js.notices(4) == [
        ["create", "work"],
        ["config", "work"],
        ["finish", "work", urgent, "done"],  # thoonk.js cuts it at the NUL
        ["finish", "work", normal, "ours"],
    ]
    assert await job.get_result(normal, block=False) == ("normal", "ours")
    with pytest.raises(Empty):  # thoonk.js's finish keeps no result
        await job.get_result(urgent, block=False)
    assert await job.count() == 0


async def test_cancels_count_failures_both_ways(
    js: JsPeer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    job = await thoonk.job("c")
    job_id = await job.put("x")
    assert await js_job(js, "c", "get", 1, CB) == ["x", job_id, False]
    assert await js_job(js, "c", "cancel", job_id, CB) == job_id
    assert await job.get_failure_count(job_id) == 1
    assert await job.get(timeout=1) == (job_id, "x", 1)
    await job.cancel(job_id)
    assert await js_job(js, "c", "getNumOfFailures", job_id, CB) == "2"
    # Refused by thoonk.js, nothing changed: cancel or stall of a job nobody claimed.
    before = await snapshot(redis_client)
    assert await js.call("job", "c", "cancel", job_id, CB) == ["id unclaimed", job_id]
    assert await js.call("job", "c", "stall", job_id, CB) == ["id already claimed", job_id]
    assert await js.call("job", "c", "finish", job_id, CB, "r") == ["Job not claimed", job_id]
    assert await snapshot(redis_client) == before
    assert await js_job(js, "c", "get", 1, CB) == ["x", job_id, False]
    await js_job(js, "c", "finish", job_id, CB)
    assert await job.counts() == JobCounts(available=0, claimed=0, stalled=0, total=0)
    assert await job.get_failure_count(job_id) == 0


async def test_js_retry_of_a_claimed_job_is_dropped_by_our_claim(
    js: JsPeer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    job = await thoonk.job("r")
    job_id = await job.put("once")
    claimed = await job.get(timeout=1)
    assert await js_job(js, "r", "retry", claimed.id, CB) == job_id  # not stalled: queued again
    assert await redis_client.lrange(b"feed.ids:r", 0, -1) == [job_id.encode()]
    with pytest.raises(Empty):  # the second copy of a claimed job is not handed out
        await job.get(block=False)
    assert await redis_client.llen(b"feed.ids:r") == 0
    assert await job.get_claimed_ids() == [job_id]
    await job.finish(job_id)
    assert await job.count() == 0


async def test_js_retract_leaves_the_payload(
    js: JsPeer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    job = await thoonk.job("gone")
    kept = await job.put("kept")
    gone = await job.put("gone")
    stalled = await job.put("stalled")
    await job.get(timeout=1)  # kept
    await job.get(timeout=1)  # gone
    await job.get(timeout=1)  # stalled
    await job.stall(stalled)
    await job.cancel(kept)
    for job_id in (gone, stalled):
        assert await js_job(js, "gone", "retract", job_id, CB) == job_id
    assert await job.get_available_ids() == [kept]
    assert await job.get_claimed_ids() == []
    assert await job.get_stalled_ids() == []
    assert await redis_client.zrange(b"feed.published:gone", 0, -1) == [kept.encode()]
    # thoonk.js's HDEL went to `feed:items:gone`: the payloads are still there.
    assert sorted(await job.get_ids()) == sorted([kept, gone, stalled])
    for job_id in (gone, stalled):
        await job.retract(job_id)
    assert await job.get_ids() == [kept]
    assert await job.get(timeout=1) == (kept, "kept", 1)


async def test_our_reaper_gives_back_a_js_claim(js: JsPeer, thoonk: AsyncThoonk) -> None:
    job = await thoonk.job("slow")
    job_id = await job.put("work")
    assert await js_job(js, "slow", "get", 1, CB) == ["work", job_id, False]
    for _ in range(500):  # the thoonk.js worker never finishes it
        if await job.get_overdue_ids(timeout=0.05):
            break
        await asyncio.sleep(0.01)
    assert await job.reap(timeout=0.05) == [job_id]
    assert await job.get_available_ids() == [job_id]
    assert await js_job(js, "slow", "getNumOfFailures", job_id, CB) == "1"
    assert await js_job(js, "slow", "get", 1, CB) == ["work", job_id, False]
    assert await js_job(js, "slow", "finish", job_id, CB, "late") == job_id
    assert await job.count() == 0


# --- results ------------------------------------------------------------------------------


async def test_our_get_result_hears_a_js_worker(
    js: JsPeer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    """thoonk.js announces a result only on ``job.finish:<feed>``; a requester of ours waits there."""
    job = await thoonk.job("asked")
    await js.open("job", "asked")
    job_id = await job.put("6 * 7")
    waiting = asyncio.create_task(job.get_result(job_id, timeout=15))
    await subscribed(redis_client, b"job.finish:asked", 2)  # thoonk.js's listener and us
    assert await js_job(js, "asked", "get", 5, CB) == ["6 * 7", job_id, False]
    await js_job(js, "asked", "finish", job_id, CB, "42")
    assert await asyncio.wait_for(waiting, 20) == ("6 * 7", "42")
    with pytest.raises(Empty):  # nothing was kept: the answer came from the notice
        await job.get_result(job_id, block=False)


async def test_blocking_get_result_hears_a_js_worker(
    js: JsPeer, redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    with Thoonk("127.0.0.1", redis_server.port, 0) as thoonk:
        job = thoonk.job("asked")
        await js.open("job", "asked")
        job_id = job.put("6 * 7")
        waiting = asyncio.create_task(asyncio.to_thread(job.get_result, job_id, timeout=15))
        await subscribed(redis_client, b"job.finish:asked", 2)
        await js_job(js, "asked", "get", 5, CB)
        await js_job(js, "asked", "finish", job_id, CB, "42")
        assert await asyncio.wait_for(waiting, 20) == ("6 * 7", "42")


async def test_js_requester_hears_our_worker(js: JsPeer, thoonk: AsyncThoonk) -> None:
    await js.open("job", "asked")
    _, job_id = await js_job(js, "asked", "put", "6 * 7", CB, False, None, recording("done"))
    job = await thoonk.job("asked")
    claimed = await job.get(timeout=1)
    assert claimed == (job_id, "6 * 7", 0)
    await job.finish(claimed.id, "42", result=True)
    # The put's finish callback gets (error, feed, id, result); then the listener's notice.
    assert await js.notices(4) == [
        ["create", "asked"],
        ["config", "asked"],
        ["done", None, "asked", job_id, "42"],
        ["finish", "asked", job_id, "42"],
    ]


async def test_js_worker_and_ours_share_one_job_feed(
    js: JsPeer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    rec = recorder(thoonk, "finish")
    job = await thoonk.job("shared")
    await js.open("job", "shared")
    ids = []
    for n in range(30):
        ids.append(await job.put(f"ours {n}"))
        _, js_id = await js_job(js, "shared", "put", f"js {n}", CB)
        ids.append(js_id)
    worker = await js.open_client()
    await js.start_worker("shared", "js:", client=worker)
    stop = asyncio.Event()

    async def our_worker() -> list[str]:
        done = []
        while not stop.is_set():
            try:
                claimed = await job.get(timeout=0.2)
            except Empty:
                continue
            await job.finish(claimed.id, "py:" + claimed.item)
            done.append(claimed.id)
        return done

    ours = asyncio.create_task(our_worker())
    finished = await rec.wait_for(len(ids), timeout=30)
    stop.set()
    by_js = await js.stop_worker(worker)
    by_us = await ours
    assert sorted(by_js + by_us) == sorted(ids)  # each exactly once
    assert sorted(call[2] for call in finished) == sorted(ids)
    requests = dict(zip(ids, [f"{w} {n}" for n in range(30) for w in ("ours", "js")], strict=True))
    assert {call[2]: call[3] for call in finished} == {
        job_id: ("js:" if job_id in by_js else "py:") + requests[job_id] for job_id in ids
    }
    assert await job.counts() == JobCounts(available=0, claimed=0, stalled=0, total=0)
