"""The Thoonk README's examples with the asyncio twin, ``AsyncThoonk``.

Same walk as test_readme_examples.py (the blocking client): every call of the
README, awaited, with the meaning the README gives it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.dbstate import snapshot
from thoonk_xmpp.thoonk import AsyncThoonk, Empty, InvalidFeedConfig
from tools.localservers import RedisServer

from .dbtools import Recorder
from .jobtools import blocked_on, subscribed
from .readme_tools import foreign_finish_async


@pytest.fixture
async def thoonk(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> AsyncIterator[AsyncThoonk]:
    host, port, db = "127.0.0.1", redis_server.port, 0
    async with AsyncThoonk(host, port, db, listen=True) as pubsub:
        yield pubsub


async def test_creating_opening_and_configuring(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    await thoonk.create_feed("news", {"max_length": 50})
    test_feed = await thoonk.feed("news")
    await thoonk.queue("queue name")
    await thoonk.job("job channel name")
    test_list = await thoonk.list("list name")
    assert await thoonk.feed_type("list name") == "sorted_feed"
    assert [await test_list.append("b"), await test_list.prepend("a")] == ["1", "2"]
    assert await test_list.get_ids() == ["2", "1"]
    await thoonk.set_config("news", '{"max_length": 3}')
    assert await thoonk.get_config("news") == {"type": "feed", "max_length": "3"}
    for n in range(5):
        await test_feed.publish(f"item {n}", id=str(n))
    assert await test_feed.get_ids() == ["2", "3", "4"]
    before = await snapshot(redis_client)
    with pytest.raises(InvalidFeedConfig):
        await thoonk.set_config("news", "max_length=3")
    assert await snapshot(redis_client) == before


async def test_handlers_hear_this_clients_own_actions(thoonk: AsyncThoonk) -> None:
    rec = Recorder()
    for kind in ("create", "delete", "publish", "retract"):
        thoonk.register_handler(f"{kind}_notice", rec.handler(kind))
    feed = await thoonk.feed("test_feed")
    await feed.publish("item contents", id="optional id")
    await feed.retract("optional id")
    await thoonk.delete_feed("test_feed")
    assert await rec.wait_for(4) == [
        ("create", "test_feed"),
        ("publish", "test_feed", "item contents", "optional id"),
        ("retract", "test_feed", "optional id"),
        ("delete", "test_feed"),
    ]


async def test_using_feeds_and_sorted_feeds(thoonk: AsyncThoonk) -> None:
    feed = await thoonk.feed("test_feed")
    await feed.publish("item contents", id="optional id")
    generated = await feed.publish("no id given")
    await feed.publish("edited", id="optional id")
    assert await feed.get_ids() == [generated, "optional id"]
    assert await feed.get_all() == {generated: "no id given", "optional id": "edited"}
    assert await feed.get_item("optional id") == "edited"
    await feed.retract("optional id")
    sorted_feed = await thoonk.sorted_feed("sortedfeed_name")
    first = await sorted_feed.prepend("new first item")
    last = await sorted_feed.append("new last item")
    another = await sorted_feed.publish("another new last item")
    before = await sorted_feed.publish_before(last, "new item")
    after = await sorted_feed.publish_after(last, "new item")
    await sorted_feed.move_first(another)
    await sorted_feed.move_last(first)
    await sorted_feed.move_before(last, first)
    await sorted_feed.move_after(last, before)
    await sorted_feed.move(f":{another}", after)
    await sorted_feed.move(":end", another)
    assert await sorted_feed.get_ids() == [after, first, last, before, another]


async def test_queue_and_job_gets_with_timeout_0_wait(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    queue = await thoonk.queue("queue_feed")
    await queue.put("priority item", priority=queue.HIGH)
    assert await queue.get() == "priority item"
    with pytest.raises(Empty):
        await queue.get(block=False)
    waiting_item = asyncio.create_task(queue.get(timeout=0))
    job = await thoonk.job("job_feed")
    waiting_job = asyncio.create_task(job.get(timeout=0))
    await blocked_on(redis_client, "blmove", 2)
    await queue.put("worth the wait")
    job_id = await job.put("job contents")
    assert await asyncio.wait_for(waiting_item, 10) == "worth the wait"
    assert await asyncio.wait_for(waiting_job, 10) == (job_id, "job contents", 0)
    with pytest.raises(Empty):
        await job.get(block=False)


async def test_finishing_and_checking_results(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    job = await thoonk.job("job_feed")
    ids = await job.put_many(["q0", "q1", "q2", "q3"])
    for _ in ids:
        await job.get(timeout=5)
    await job.finish(ids[0])
    await job.finish(ids[1], "result contents", result=True)
    await job.finish(ids[2], "result contents", result=True, timeout=5)
    await job.finish(ids[3], "thoonk.py 1.0.1.0 style")
    query, result = await job.get_result(ids[1], timeout=5)
    assert (query, result) == ("q1", "result contents")
    assert await job.get_result(ids[2], timeout=5) == ("q2", "result contents")
    kept_ms = await redis_client.pttl(b"thoonkx.job.result:job_feed\x00" + ids[2].encode())
    assert 0 < kept_ms <= 5000
    assert await job.get_result(ids[3], block=False) == ("q3", "thoonk.py 1.0.1.0 style")
    # finished without a result: Empty at once, even for a wait without end
    with pytest.raises(Empty, match="not pending and no result of it is kept"):
        await asyncio.wait_for(job.get_result(ids[0]), 10)


async def test_get_result_hears_a_worker_that_only_announces_the_result(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    job = await thoonk.job("job_feed")
    job_id = await job.put("6 * 7")
    waiting = asyncio.create_task(job.get_result(job_id, timeout=15))
    await subscribed(redis_client, b"job.finish:job_feed", 1)
    await foreign_finish_async(redis_client, "job_feed", job_id, b"42")
    assert await asyncio.wait_for(waiting, 20) == ("6 * 7", "42")
    assert await job.count() == 0
