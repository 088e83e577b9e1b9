"""Helpers for the README walks: waiting on Redis conditions, and a worker of another kind."""

from __future__ import annotations

import time

import redis
import redis.asyncio as aioredis


def blocked_in(raw: redis.Redis, command: str, count: int = 1) -> None:
    """Return once ``count`` clients are blocked in ``command`` (CLIENT LIST)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sum(c.get("cmd") == command for c in raw.client_list()) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} clients ever blocked in {command}")


def subscribers(raw: redis.Redis, channel: bytes, count: int) -> None:
    """Return once ``count`` connections subscribe ``channel`` (PUBSUB NUMSUB)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ((_, subscribed),) = raw.pubsub_numsub(channel)
        if subscribed >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} connections ever subscribed {channel!r}")


def foreign_finish(raw: redis.Redis, feed: str, job_id: str, result: bytes) -> None:
    """Claim and finish ``job_id`` the way thoonk.js 0.5 does (contract section 7).

    Its finish keeps the result nowhere: the ``job.finish`` notice is all there is.
    """
    ids, items, claimed = f"feed.ids:{feed}", f"feed.items:{feed}", f"feed.claimed:{feed}"
    raw.lrem(ids, 1, job_id)
    raw.zadd(claimed, {job_id: int(time.time() * 1000)})
    with raw.pipeline(transaction=True) as pipe:
        pipe.zrem(claimed, job_id)
        pipe.hdel(f"feed.cancelled:{feed}", job_id)
        pipe.zrem(f"feed.published:{feed}", job_id)
        pipe.incr(f"feed.finishes:{feed}")
        pipe.publish(f"job.finish:{feed}", job_id.encode() + b"\x00" + result)
        pipe.hdel(items, job_id)
        pipe.execute()


async def foreign_finish_async(raw: aioredis.Redis, feed: str, job_id: str, result: bytes) -> None:
    """:func:`foreign_finish` on an asyncio client."""
    ids, items, claimed = f"feed.ids:{feed}", f"feed.items:{feed}", f"feed.claimed:{feed}"
    await raw.lrem(ids, 1, job_id)
    await raw.zadd(claimed, {job_id: int(time.time() * 1000)})
    async with raw.pipeline(transaction=True) as pipe:
        pipe.zrem(claimed, job_id)
        pipe.hdel(f"feed.cancelled:{feed}", job_id)
        pipe.zrem(f"feed.published:{feed}", job_id)
        pipe.incr(f"feed.finishes:{feed}")
        pipe.publish(f"job.finish:{feed}", job_id.encode() + b"\x00" + result)
        pipe.hdel(items, job_id)
        await pipe.execute()
