"""Job feeds on the wire: exact keys, Redis types, scores and notice bytes (contract §7, §8),
and jobs shared with clients that speak it with plain commands (thoonk.py, thoonk.js)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap, redis_ms
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk
from thoonk_xmpp.thoonk.job import ClaimedJob, Job


@pytest.fixture
async def job(thoonk: AsyncThoonk, tap: Tap) -> Job[bytes]:
    opened = await thoonk.job("w", codec=BYTES)
    await tap.rest()  # drop the registry notices
    return opened


async def keys_of(redis: aioredis.Redis) -> dict[bytes, bytes]:
    """Every key of feed ``w`` (and ours) with its Redis type."""
    found = {}
    async for key in redis.scan_iter(count=1000):
        if key.endswith(b":w") or b":w\x00" in key:
            found[bytes(key)] = bytes(await redis.type(key))
    return found


def score_is_ms(score: float, start: int, end: int) -> bool:
    return score == int(score) and start <= score <= end


async def test_put_keys_types_and_notice(
    job: Job[bytes], redis_client: aioredis.Redis, tap: Tap
) -> None:
    start = await redis_ms(redis_client)
    job_id = await job.put(b"pay\x00load")
    end = await redis_ms(redis_client)
    raw = job_id.encode()
    assert len(raw) == 32 and int(raw, 16) >= 0
    assert await keys_of(redis_client) == {
        b"feed.config:w": b"hash",
        b"feed.ids:w": b"list",
        b"feed.items:w": b"hash",
        b"feed.publishes:w": b"string",
        b"feed.published:w": b"zset",
    }
    assert await redis_client.hgetall(b"feed.config:w") == {b"type": b"job"}
    assert await redis_client.lrange(b"feed.ids:w", 0, -1) == [raw]
    assert await redis_client.hgetall(b"feed.items:w") == {raw: b"pay\x00load"}
    assert await redis_client.get(b"feed.publishes:w") == b"1"
    ((member, score),) = await redis_client.zrange(b"feed.published:w", 0, -1, withscores=True)
    assert member == raw and score_is_ms(score, start, end)
    # thoonk.py's put notice: the counter key's name as channel, "<id>\0<item>".
    assert await tap.rest() == [(b"feed.publishes:w", raw + b"\x00pay\x00load")]


async def test_priority_put_pushes_right(job: Job[bytes], redis_client: aioredis.Redis) -> None:
    normal = await job.put(b"n")
    high = await job.put(b"h", priority=job.HIGH)
    batch = await job.put_many([b"x", b"y"], priority=job.HIGH)
    assert await redis_client.lrange(b"feed.ids:w", 0, -1) == [
        i.encode() for i in (normal, high, batch[1], batch[0])
    ]
    assert await redis_client.get(b"feed.publishes:w") == b"4"


async def test_claim_and_finish_with_result(
    job: Job[bytes], redis_client: aioredis.Redis, tap: Tap
) -> None:
    job_id = await job.put(b"req")
    raw = job_id.encode()
    await tap.rest()
    start = await redis_ms(redis_client)
    assert await job.get() == ClaimedJob(job_id, b"req", 0)
    end = await redis_ms(redis_client)
    assert not await redis_client.exists(b"feed.ids:w")
    ((member, score),) = await redis_client.zrange(b"feed.claimed:w", 0, -1, withscores=True)
    assert member == raw and score_is_ms(score, start, end)
    assert await redis_client.type(b"feed.claimed:w") == b"zset"
    assert await tap.rest() == [(b"feed.claimed:w", raw)]

    await job.finish(job_id, b"res\x00ult")
    assert await tap.rest() == [(b"job.finish:w", raw + b"\x00res\x00ult")]
    result_key = b"thoonkx.job.result:w\x00" + raw
    assert await keys_of(redis_client) == {
        b"feed.config:w": b"hash",
        b"feed.publishes:w": b"string",
        b"feed.finishes:w": b"string",
        result_key: b"list",
        b"thoonkx.job.results:w": b"set",
    }
    assert await redis_client.get(b"feed.finishes:w") == b"1"
    assert await redis_client.lrange(result_key, 0, -1) == [b"req", b"res\x00ult"]
    assert await redis_client.ttl(result_key) == -1
    assert await redis_client.smembers(b"thoonkx.job.results:w") == {raw}


async def test_finish_without_result_is_silent_and_stores_nothing(
    job: Job[bytes], redis_client: aioredis.Redis, tap: Tap
) -> None:
    job_id = await job.put(b"req")
    await job.get()
    await tap.rest()
    await job.finish(job_id)
    assert await tap.rest() == []
    assert await keys_of(redis_client) == {
        b"feed.config:w": b"hash",
        b"feed.publishes:w": b"string",
        b"feed.finishes:w": b"string",
    }


async def test_cancel_stall_retry_retract_moves(
    job: Job[bytes], redis_client: aioredis.Redis, tap: Tap
) -> None:
    job_id = await job.put(b"req")
    raw = job_id.encode()
    await job.get()
    await tap.rest()

    await job.cancel(job_id)
    assert await redis_client.hgetall(b"feed.cancelled:w") == {raw: b"1"}
    assert await redis_client.type(b"feed.cancelled:w") == b"hash"
    assert await redis_client.lrange(b"feed.ids:w", 0, -1) == [raw]
    assert not await redis_client.exists(b"feed.claimed:w")

    await job.get()
    await tap.rest()
    await job.stall(job_id)
    assert await redis_client.smembers(b"feed.stalled:w") == {raw}
    assert await redis_client.type(b"feed.stalled:w") == b"set"
    for gone in (b"feed.claimed:w", b"feed.cancelled:w", b"feed.published:w", b"feed.ids:w"):
        assert not await redis_client.exists(gone)
    assert await redis_client.hgetall(b"feed.items:w") == {raw: b"req"}

    start = await redis_ms(redis_client)
    await job.retry(job_id)
    end = await redis_ms(redis_client)
    assert not await redis_client.exists(b"feed.stalled:w")
    assert await redis_client.lrange(b"feed.ids:w", 0, -1) == [raw]
    ((member, score),) = await redis_client.zrange(b"feed.published:w", 0, -1, withscores=True)
    assert member == raw and score_is_ms(score, start, end)

    await job.retract(job_id)
    assert await keys_of(redis_client) == {
        b"feed.config:w": b"hash",
        b"feed.publishes:w": b"string",
    }
    # Nothing is published for cancel, stall, retry or retract (contract §8).
    assert await tap.rest() == []


async def test_reap_uses_the_cancel_moves(job: Job[bytes], redis_client: aioredis.Redis) -> None:
    job_id = await job.put(b"req")
    raw = job_id.encode()
    await job.get()
    await redis_client.zadd(b"feed.claimed:w", {raw: 1000}, xx=True)  # claimed in 1970
    await redis_client.hset(b"feed.config:w", b"timeout", b"60")
    assert await job.reap() == [job_id]
    assert await redis_client.hgetall(b"feed.cancelled:w") == {raw: b"1"}
    assert await redis_client.lrange(b"feed.ids:w", 0, -1) == [raw]
    assert not await redis_client.exists(b"feed.claimed:w")


async def test_delete_removes_every_job_key(
    thoonk: AsyncThoonk, job: Job[bytes], redis_client: aioredis.Redis
) -> None:
    done, stalled, claimed = await job.put_many([b"a", b"b", b"c"])
    await job.put(b"waiting")
    for _ in range(3):
        await job.get()
    await job.finish(done, b"r")
    await job.stall(stalled)
    await job.cancel(claimed)
    await job.get()
    assert sorted(await keys_of(redis_client)) == [
        b"feed.cancelled:w",
        b"feed.claimed:w",
        b"feed.config:w",
        b"feed.finishes:w",
        b"feed.ids:w",
        b"feed.items:w",
        b"feed.published:w",
        b"feed.publishes:w",
        b"feed.stalled:w",
        b"thoonkx.job.result:w\x00" + done.encode(),
        b"thoonkx.job.results:w",
    ]
    await thoonk.delete_feed("w")
    assert await keys_of(redis_client) == {}


async def test_job_from_thoonk_js_is_claimed_by_us(
    job: Job[bytes], redis_client: aioredis.Redis, tap: Tap
) -> None:
    # thoonk.js 0.5.x put: MULTI LPUSH, INCR, HSET, ZADD <ms>; EXEC; no notice.
    async with redis_client.pipeline(transaction=True) as pipe:
        pipe.lpush(b"feed.ids:w", b"a0437498-385e-42c1-a32a-b37db3e5e70a")
        pipe.incr(b"feed.publishes:w")
        pipe.hset(b"feed.items:w", b"a0437498-385e-42c1-a32a-b37db3e5e70a", b"from-js")
        pipe.zadd(b"feed.published:w", {b"a0437498-385e-42c1-a32a-b37db3e5e70a": 1795855843541})
        await pipe.execute()
    claimed = await job.get(block=False)
    assert claimed == ClaimedJob("a0437498-385e-42c1-a32a-b37db3e5e70a", b"from-js", 0)
    await job.finish(claimed.id, b"done")
    assert await tap.rest() == [
        (b"feed.claimed:w", b"a0437498-385e-42c1-a32a-b37db3e5e70a"),
        (b"job.finish:w", b"a0437498-385e-42c1-a32a-b37db3e5e70a\x00done"),
    ]


async def test_our_job_is_claimed_and_finished_as_thoonk_py_does(
    job: Job[bytes], redis_client: aioredis.Redis
) -> None:
    job_id = await job.put(b"from-us")
    raw = job_id.encode()
    # thoonk.py claim: BRPOP, then MULTI ZADD claimed, HGET item, HGET cancelled; EXEC.
    assert await redis_client.brpop([b"feed.ids:w"], 1) == (b"feed.ids:w", raw)
    async with redis_client.pipeline(transaction=True) as pipe:
        pipe.zadd(b"feed.claimed:w", {raw: await redis_ms(redis_client)})
        pipe.hget(b"feed.items:w", raw)
        pipe.hget(b"feed.cancelled:w", raw)
        _, item, cancelled = await pipe.execute()
    assert (item, cancelled) == (b"from-us", None)
    # Our view of a job claimed by thoonk.py: claimed, and we may finish it too.
    assert await job.get_claimed_ids() == [job_id]
    await job.finish(job_id)
    assert await keys_of(redis_client) == {
        b"feed.config:w": b"hash",
        b"feed.publishes:w": b"string",
        b"feed.finishes:w": b"string",
    }
