"""Job feed behaviour: claim order, finish/cancel/stall/retry/retract, results, claim
timeouts, many workers; refused operations raise typed errors and change nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap, snapshot
from thoonk_xmpp.thoonk import (
    JSON,
    TEXT,
    AsyncThoonk,
    Empty,
    FeedNotFound,
    InvalidName,
    ItemNotFound,
    JobNotClaimed,
    JobNotStalled,
    WrongFeedType,
)
from thoonk_xmpp.thoonk.job import ClaimedJob, Job, JobCounts

from .jobtools import Clients, blocked_on, subscribed


async def test_put_claim_finish(thoonk: AsyncThoonk) -> None:
    job = await thoonk.job("work")
    assert job.type_name == "job"
    job_id = await job.put("task")
    assert await job.get_ids() == [job_id]
    assert await job.get_item(job_id) == "task"
    claimed = await job.get()
    assert claimed == ClaimedJob(job_id, "task", 0)
    got_id, item, failures = claimed  # unpacks as thoonk.py's (id, item, failures)
    assert (got_id, item, failures) == (claimed.id, claimed.item, claimed.failures)
    assert await job.counts() == JobCounts(available=0, claimed=1, stalled=0, total=1)
    await job.finish(job_id)
    assert await job.counts() == JobCounts(0, 0, 0, 0)
    assert await job.get_ids() == []
    assert await job.count() == 0


async def test_claim_order_and_priority(thoonk: AsyncThoonk) -> None:
    job = await thoonk.job("work")
    a, b = await job.put_many(["a", "b"])
    urgent = await job.put("urgent", priority=job.HIGH)
    x, y = await job.put_many(["x", "y"], Job.HIGH)
    c = await job.put("c", priority=False)
    assert await job.get_available_ids() == [x, y, urgent, a, b, c]
    assert [(await job.get(block=False)).item for _ in range(6)] == [
        "x",
        "y",
        "urgent",
        "a",
        "b",
        "c",
    ]
    # Claims in the same millisecond tie, and ties sort by id.
    assert sorted(await job.get_claimed_ids()) == sorted([x, y, urgent, a, b, c])
    assert await job.put_many([]) == []


async def test_cancel_requeues_at_the_back_and_counts_failures(thoonk: AsyncThoonk) -> None:
    job = await thoonk.job("work")
    first = await job.put("first")
    second = await job.put("second")
    assert (await job.get()).id == first
    await job.cancel(first)
    assert await job.get_failure_count(first) == 1
    assert await job.get_available_ids() == [second, first]
    assert (await job.get()).id == second
    again = await job.get()
    assert again == ClaimedJob(first, "first", 1)
    await job.cancel(first)
    await job.cancel(second)
    assert await job.failure_total() == 3  # over the jobs still there
    assert (await job.get()).failures == 2
    await job.finish(first)
    assert await job.get_failure_count(first) == 0
    assert await job.failure_total() == 1


async def test_stall_and_retry(thoonk: AsyncThoonk) -> None:
    job = await thoonk.job("work")
    job_id = await job.put("fragile")
    await job.get()
    await job.cancel(job_id)
    await job.get()
    await job.stall(job_id)
    assert await job.get_stalled_ids() == [job_id]
    assert await job.counts() == JobCounts(available=0, claimed=0, stalled=1, total=1)
    assert await job.get_failure_count(job_id) == 0  # stall clears the failures
    with pytest.raises(Empty):
        await job.get(block=False)
    await job.retry(job_id)
    assert await job.get_stalled_ids() == []
    assert await job.get(block=False) == ClaimedJob(job_id, "fragile", 0)


@pytest.mark.parametrize("state", ["waiting", "claimed", "stalled", "cancelled"])
async def test_retract_in_any_state(thoonk: AsyncThoonk, state: str) -> None:
    job = await thoonk.job("work")
    other = await job.put("other")
    job_id = await job.put("doomed", priority=job.HIGH)
    if state != "waiting":
        await job.get()
    if state == "stalled":
        await job.stall(job_id)
    if state == "cancelled":
        await job.cancel(job_id)
    await job.retract(job_id)
    assert await job.get_ids() == [other]
    assert await job.get_available_ids() == [other]
    assert await job.counts() == JobCounts(available=1, claimed=0, stalled=0, total=1)
    assert await job.get_failure_count(job_id) == 0
    with pytest.raises(ItemNotFound):
        await job.retract(job_id)


async def test_result_read_after_finish(thoonk: AsyncThoonk) -> None:
    job = await thoonk.job("work", codec=JSON)
    job_id = await job.put({"x": 2})
    await job.get()
    await job.finish(job_id, {"square": 4})
    assert await job.get_result(job_id, block=False) == ({"x": 2}, {"square": 4})
    assert await job.get_result(job_id) == ({"x": 2}, {"square": 4})  # not consumed


async def test_result_awaited_before_finish(
    thoonk: AsyncThoonk, clients: Clients, redis_client: aioredis.Redis
) -> None:
    job = await thoonk.job("work")
    worker = await (await clients.open()).job("work")
    job_id = await job.put("question")
    waiting = [asyncio.create_task(job.get_result(job_id)) for _ in range(2)]
    await subscribed(redis_client, b"job.finish:work", 2)
    claimed = await worker.get()
    await worker.finish(claimed.id, "answer")
    for task in waiting:
        assert await asyncio.wait_for(task, 10) == ("question", "answer")


async def test_result_edge_cases(thoonk: AsyncThoonk, redis_client: aioredis.Redis) -> None:
    job = await thoonk.job("work")
    silent = await job.put("no result")
    await job.get()
    await job.finish(silent)
    with pytest.raises(Empty):
        await job.get_result(silent, timeout=0.05)
    falsy = await job.put("empty result")
    await job.get()
    await job.finish(falsy, "")
    assert await job.get_result(falsy, block=False) == ("empty result", "")
    kept, brief = await job.put_many(["kept", "brief"])
    await job.get()
    await job.get()
    await job.finish(kept, "for ten minutes", timeout=600)
    assert 0 < await redis_client.pttl(b"thoonkx.job.result:work\x00" + kept.encode()) <= 600_000
    await job.finish(brief, "gone soon", timeout=0.05)
    key = b"thoonkx.job.result:work\x00" + brief.encode()
    for _ in range(500):
        if not await redis_client.exists(key):
            break
        await asyncio.sleep(0.01)
    with pytest.raises(Empty):
        await job.get_result(brief, block=False)


async def test_get_times_out_and_cancelled_get_loses_nothing(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    job = await thoonk.job("work")
    before = await snapshot(redis_client)
    with pytest.raises(Empty):
        await job.get(block=False)
    with pytest.raises(Empty):
        await job.get(timeout=0.05)
    assert await snapshot(redis_client) == before
    waiting = [asyncio.create_task(job.get()) for _ in range(3)]
    await blocked_on(redis_client, "blmove", 3)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    job_id = await job.put("kept")
    assert await job.counts() == JobCounts(available=1, claimed=0, stalled=0, total=1)
    assert (await job.get(block=False)).id == job_id


async def test_stale_ids_in_the_list_are_skipped(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    job = await thoonk.job("work")
    claimed_id = await job.put("claimed")
    stalled_id = await job.put("stalled")
    await job.get()
    await job.get()
    await job.stall(stalled_id)
    real = await job.put("real")
    # Second copies, as thoonk.py/js leave them when they "retry" an id not stalled,
    # and an id whose payload is gone.
    await redis_client.rpush(b"feed.ids:work", claimed_id, stalled_id, b"no-payload")
    assert (await job.get(block=False)).id == real
    with pytest.raises(Empty):
        await job.get(block=False)
    assert await job.counts() == JobCounts(available=0, claimed=2, stalled=1, total=3)


async def test_reap_requeues_overdue_claims(thoonk: AsyncThoonk) -> None:
    job = await thoonk.job("work")
    assert await job.reap() == []  # no timeout configured
    late, fresh = await job.put_many(["late", "fresh"])
    await job.get()
    await asyncio.sleep(0.05)
    await job.get()
    assert await job.get_overdue_ids() == []
    await thoonk.set_config("work", {"timeout": 30})
    assert await job.reap() == []
    assert await job.get_overdue_ids() == []
    overdue = await job.get_overdue_ids(timeout=0.04)
    assert late in overdue
    assert await job.reap(timeout=0.04, limit=1) == [late]
    assert await job.get_failure_count(late) == 1
    assert await job.get_available_ids() == [late]
    assert await job.get_claimed_ids() == [fresh]
    assert await job.get(block=False) == ClaimedJob(late, "late", 1)


async def test_reapers_in_parallel_requeue_each_claim_once(
    thoonk: AsyncThoonk, clients: Clients
) -> None:
    job = await thoonk.job("work")
    reapers = [await (await clients.open()).job("work") for _ in range(3)]
    ids = await job.put_many([f"job-{n}" for n in range(60)])
    for round_number in range(1, 4):
        for _ in ids:
            await job.get()
        await asyncio.sleep(0.03)
        results = await asyncio.gather(*(r.reap(timeout=0.01) for r in reapers))
        requeued = [job_id for result in results for job_id in result]
        assert sorted(requeued) == sorted(ids)  # every claim once, none twice
        assert {await job.get_failure_count(i) for i in ids} == {round_number}
        assert await job.counts() == JobCounts(available=60, claimed=0, stalled=0, total=60)


async def test_run_reaper_task(thoonk: AsyncThoonk) -> None:
    job = await thoonk.job("work", {"timeout": 0.05})
    job_id = await job.put("slow")
    await job.get()
    reaper = asyncio.create_task(job.run_reaper(interval=0.02))
    try:
        claimed = await job.get(timeout=30)
    finally:
        reaper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reaper
    assert claimed == ClaimedJob(job_id, "slow", 1)
    with pytest.raises(ValueError, match="interval"):
        await job.run_reaper(interval=0)


async def test_notices_through_the_listener(thoonk: AsyncThoonk) -> None:
    seen: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    for kind in ("job_put", "job_claim", "finish", "publish", "retract"):
        thoonk.register_handler(kind, lambda *args, kind=kind: seen.put_nowait((kind, *args)))
    job = await thoonk.job("work")
    job_id = await job.put("task")
    await job.get()
    await job.finish(job_id, "result")
    other = await job.put("other")
    await job.get()
    await job.finish(other)  # no result: no notice
    marker = await job.put("marker")
    events = [await asyncio.wait_for(seen.get(), 10) for _ in range(6)]
    assert events == [
        ("job_put", "work", "task", job_id),
        ("job_claim", "work", job_id),
        ("finish", "work", job_id, "result"),
        ("job_put", "work", "other", other),
        ("job_claim", "work", other),
        ("job_put", "work", "marker", marker),
    ]


async def test_many_workers_finish_every_job_exactly_once(
    thoonk: AsyncThoonk, clients: Clients
) -> None:
    job = await thoonk.job("bulk")
    workers = [await (await clients.open()).job("bulk") for _ in range(16)]
    payloads = [f"job-{n}" for n in range(2000)]
    finished: list[tuple[str, str]] = []
    done = asyncio.Event()

    async def work(worker: Job[str]) -> None:
        while not done.is_set():
            try:
                claimed = await worker.get(timeout=0.2)
            except Empty:
                continue
            await worker.finish(claimed.id)
            finished.append((claimed.id, claimed.item))
            if len(finished) == len(payloads):
                done.set()

    tasks = [asyncio.create_task(work(w)) for w in workers]
    ids: list[str] = []
    for start in range(0, len(payloads), 100):
        ids += await job.put_many(payloads[start : start + 100])
    await asyncio.wait_for(done.wait(), 100)
    await asyncio.gather(*tasks)
    assert len(finished) == len(payloads)
    assert sorted(finished) == sorted(zip(ids, payloads, strict=True))
    assert await job.counts() == JobCounts(0, 0, 0, 0)
    assert await thoonk.redis.get(b"feed.finishes:bulk") == b"2000"


# --- refused operations -----------------------------------------------------------------

Op = Callable[[Job[str]], Awaitable[Any]]

REFUSED: list[tuple[str, Op, type[Exception]]] = [
    ("finish waiting", lambda j: j.finish("waiting"), JobNotClaimed),
    ("finish waiting with result", lambda j: j.finish("waiting", "r"), JobNotClaimed),
    ("finish stalled", lambda j: j.finish("stalled"), JobNotClaimed),
    ("finish unknown", lambda j: j.finish("nope", "r", timeout=5), JobNotClaimed),
    ("cancel waiting", lambda j: j.cancel("waiting"), JobNotClaimed),
    ("cancel stalled", lambda j: j.cancel("stalled"), JobNotClaimed),
    ("cancel unknown", lambda j: j.cancel("nope"), JobNotClaimed),
    ("stall waiting", lambda j: j.stall("waiting"), JobNotClaimed),
    ("stall stalled", lambda j: j.stall("stalled"), JobNotClaimed),
    ("stall unknown", lambda j: j.stall("nope"), JobNotClaimed),
    ("retry waiting", lambda j: j.retry("waiting"), JobNotStalled),
    ("retry claimed", lambda j: j.retry("claimed"), JobNotStalled),
    ("retry unknown", lambda j: j.retry("nope"), JobNotStalled),
    ("retract unknown", lambda j: j.retract("nope"), ItemNotFound),
    ("finish empty id", lambda j: j.finish(""), InvalidName),
    ("finish NUL id", lambda j: j.finish("clai\x00med"), InvalidName),
    ("cancel NUL id", lambda j: j.cancel("\x00"), InvalidName),
    ("stall empty id", lambda j: j.stall(""), InvalidName),
    ("retry NUL id", lambda j: j.retry("a\x00"), InvalidName),
    ("retract empty id", lambda j: j.retract(""), InvalidName),
    ("get_result NUL id", lambda j: j.get_result("a\x00b", block=False), InvalidName),
    ("failure count NUL id", lambda j: j.get_failure_count("\x00"), InvalidName),
    ("finish bad keep time", lambda j: j.finish("claimed", "r", timeout=0), ValueError),
    ("reap bad timeout", lambda j: j.reap(timeout=-1), ValueError),
    ("reap bad limit", lambda j: j.reap(limit=0), ValueError),
    ("put bad priority", lambda j: j.put("x", priority=5), ValueError),  # type: ignore[arg-type]
    ("get bad timeout", lambda j: j.get(timeout=-0.5), ValueError),
]


@pytest.fixture
async def populated(thoonk: AsyncThoonk, redis_client: aioredis.Redis) -> Job[str]:
    """A job feed with one job waiting, one claimed and one stalled."""
    job = await thoonk.job("work")
    await redis_client.lpush(b"feed.ids:work", b"claimed", b"stalled")
    await redis_client.hset(
        b"feed.items:work", mapping={b"claimed": b"c", b"stalled": b"s", b"waiting": b"w"}
    )
    await job.get()
    await job.get()
    await job.stall("stalled")
    await redis_client.lpush(b"feed.ids:work", b"waiting")
    return job


@pytest.mark.parametrize(("label", "op", "error"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_refused_operation_changes_nothing(
    populated: Job[str],
    redis_client: aioredis.Redis,
    tap: Tap,
    label: str,
    op: Op,
    error: type[Exception],
) -> None:
    before = await snapshot(redis_client)
    with pytest.raises(error):
        await op(populated)
    assert await snapshot(redis_client) == before
    assert await tap.rest() == []


async def test_wrong_feed_types_change_nothing(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, tap: Tap
) -> None:
    feed = await thoonk.feed("plain")
    await feed.publish("x", id="a")
    await thoonk.sorted_feed("sorted")
    await thoonk.queue("queue")
    await thoonk.job("gone")
    await thoonk.delete_feed("gone")
    await tap.rest()
    before = await snapshot(redis_client)
    for name in ("plain", "sorted", "queue"):
        with pytest.raises(WrongFeedType):
            await thoonk.job(name)
    with pytest.raises(WrongFeedType) as caught:
        await Job(thoonk, "queue", TEXT).put("x")
    assert (caught.value.expected, caught.value.actual) == ("job", "queue")
    for name in ("plain", "sorted", "queue"):
        wrong = Job(thoonk, name, TEXT)
        calls: list[Awaitable[Any]] = [
            wrong.put("x"),
            wrong.get(block=False),
            wrong.finish("a"),
            wrong.cancel("a"),
            wrong.stall("a"),
            wrong.retry("a"),
            wrong.retract("a"),
            wrong.reap(timeout=1),
        ]
        for call in calls:
            with pytest.raises(WrongFeedType):
                await call
    gone = Job(thoonk, "gone", TEXT)
    with pytest.raises(FeedNotFound):
        await gone.put("x")
    with pytest.raises(FeedNotFound):
        await gone.get()
    with pytest.raises(FeedNotFound):
        await gone.reap()
    assert await snapshot(redis_client) == before
    assert await tap.rest() == []
