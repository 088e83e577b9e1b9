"""Queue: order and priority, blocking gets, wire format, refused operations."""

from __future__ import annotations

import asyncio

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
    WrongFeedType,
)
from thoonk_xmpp.thoonk.queue import Priority, Queue
from tools.localservers import RedisServer

from .jobtools import Clients, blocked_on


async def test_fifo_and_priority(thoonk: AsyncThoonk) -> None:
    queue = await thoonk.queue("q")
    assert queue.type_name == "queue"
    assert (queue.NORMAL, queue.HIGH) == (Priority.NORMAL, Priority.HIGH)
    first = await queue.put("one")
    second = await queue.put("two")
    urgent = await queue.put("urgent", priority=queue.HIGH)
    also = await queue.put("also urgent", priority=True)
    assert await queue.get_ids() == [also, urgent, first, second]
    assert await queue.count() == 4
    assert await queue.length() == 4
    assert await queue.get_item(first) == "one"
    assert [await queue.get() for _ in range(4)] == ["also urgent", "urgent", "one", "two"]
    assert await queue.count() == 0
    assert await queue.get_item(first) is None


async def test_put_many_keeps_order_for_both_priorities(thoonk: AsyncThoonk) -> None:
    queue = await thoonk.queue("q")
    assert await queue.put_many([]) == []
    normal = await queue.put_many(["a", "b", "c"])
    high = await queue.put_many(["x", "y"], Queue.HIGH)
    assert len(set(normal + high)) == 5
    assert await queue.get_ids() == [*high, *normal]
    assert [await queue.get(block=False) for _ in range(5)] == ["x", "y", "a", "b", "c"]


async def test_get_times_out_and_changes_nothing(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    queue = await thoonk.queue("q")
    before = await snapshot(redis_client)
    with pytest.raises(Empty) as caught:
        await queue.get(block=False)
    assert caught.value.feed == "q"
    with pytest.raises(Empty):
        await queue.get(timeout=0.05)
    assert await snapshot(redis_client) == before
    with pytest.raises(ValueError, match="timeout"):
        await queue.get(timeout=-1)


async def test_blocked_get_wakes_on_put_from_another_client(
    thoonk: AsyncThoonk, clients: Clients, redis_client: aioredis.Redis
) -> None:
    queue = await thoonk.queue("q")
    other = await (await clients.open()).queue("q")
    getter = asyncio.create_task(queue.get())
    await blocked_on(redis_client, "blmove")
    await other.put("hello")
    assert await asyncio.wait_for(getter, 10) == "hello"
    assert await queue.count() == 0


async def test_cancelled_get_loses_nothing(
    thoonk: AsyncThoonk, clients: Clients, redis_client: aioredis.Redis
) -> None:
    queue = await thoonk.queue("q")
    waiting = [asyncio.create_task(queue.get()) for _ in range(3)]
    await blocked_on(redis_client, "blmove", 3)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    other = await (await clients.open()).queue("q")
    await other.put("kept")
    assert await queue.count() == 1
    assert await queue.get(block=False) == "kept"


async def test_many_consumers_each_item_once(thoonk: AsyncThoonk, clients: Clients) -> None:
    queue = await thoonk.queue("q")
    consumers = [await (await clients.open()).queue("q") for _ in range(8)]
    items = [f"item-{n}" for n in range(400)]

    async def consume(consumer: Queue[str]) -> list[str]:
        got: list[str] = []
        while True:
            try:
                got.append(await consumer.get(timeout=0.5))
            except Empty:
                return got

    tasks = [asyncio.create_task(consume(c)) for c in consumers]
    for start in range(0, len(items), 50):
        await queue.put_many(items[start : start + 50])
    results = await asyncio.gather(*tasks)
    everything = [item for got in results for item in got]
    assert sorted(everything) == sorted(items)
    assert await queue.count() == 0
    # Each consumer saw its items in put order (one producer, FIFO queue).
    for got in results:
        assert got == sorted(got, key=items.index)


async def test_wire_format(thoonk: AsyncThoonk, redis_client: aioredis.Redis, tap: Tap) -> None:
    queue = await thoonk.queue("wq")
    await tap.rest()
    first = await queue.put("first")
    urgent = await queue.put(b"\x00urgent\xff", Queue.HIGH)
    assert await redis_client.type(b"feed.ids:wq") == b"list"
    assert await redis_client.type(b"feed.items:wq") == b"hash"
    assert await redis_client.lrange(b"feed.ids:wq", 0, -1) == [first.encode(), urgent.encode()]
    assert await redis_client.hgetall(b"feed.items:wq") == {
        first.encode(): b"first",
        urgent.encode(): b"\x00urgent\xff",
    }
    assert await redis_client.get(b"feed.publishes:wq") == b"2"
    assert len(first) == 32 and int(first, 16) >= 0
    assert sorted(await redis_client.keys(b"*wq")) == [
        b"feed.config:wq",
        b"feed.ids:wq",
        b"feed.items:wq",
        b"feed.publishes:wq",
    ]
    assert await queue.get() == "\x00urgent\udcff"
    assert await redis_client.hgetall(b"feed.items:wq") == {first.encode(): b"first"}
    assert await queue.get() == "first"
    assert sorted(await redis_client.keys(b"*wq")) == [b"feed.config:wq", b"feed.publishes:wq"]
    assert await tap.rest() == []  # queues publish nothing


async def test_interop_with_thoonk_py_moves(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    queue = await thoonk.queue("q")
    # A thoonk.py put: MULTI LPUSH, HSET, INCRBY.
    async with redis_client.pipeline(transaction=True) as pipe:
        pipe.lpush(b"feed.ids:q", b"py-id")
        pipe.hset(b"feed.items:q", b"py-id", b"from-py")
        pipe.incrby(b"feed.publishes:q", 1)
        await pipe.execute()
    assert await queue.get(block=False) == "from-py"
    # Our put, taken as thoonk.py takes it: BRPOP, then HGET + HDEL.
    ours = await queue.put("from-us")
    popped = await redis_client.brpop([b"feed.ids:q"], 1)
    assert popped == (b"feed.ids:q", ours.encode())
    assert await redis_client.hget(b"feed.items:q", ours) == b"from-us"


async def test_id_without_item_is_skipped(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    queue = await thoonk.queue("q")
    await queue.put("real")
    await redis_client.rpush(b"feed.ids:q", b"orphan")  # left by a crashed original consumer
    assert await queue.get(block=False) == "real"
    assert await queue.count() == 0


async def test_json_codec(thoonk: AsyncThoonk) -> None:
    queue = await thoonk.queue("jq", codec=JSON)
    await queue.put({"n": 1, "list": [1, 2]})
    assert await queue.get(block=False) == {"n": 1, "list": [1, 2]}


async def test_refused_operations_change_nothing(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, tap: Tap
) -> None:
    feed = await thoonk.feed("plain")
    await feed.publish("x", id="a")
    await thoonk.feed("empty-plain")
    await thoonk.sorted_feed("sorted")
    await thoonk.job("jobs")
    await thoonk.queue("gone")
    await thoonk.delete_feed("gone")
    gone = Queue(thoonk, "gone", TEXT)
    queue = await thoonk.queue("q")
    await tap.rest()
    before = await snapshot(redis_client)
    with pytest.raises(WrongFeedType):
        await thoonk.queue("plain")
    with pytest.raises(WrongFeedType):
        await thoonk.queue("jobs")
    for name in ("plain", "sorted", "jobs"):
        wrong = Queue(thoonk, name, TEXT)
        with pytest.raises(WrongFeedType):
            await wrong.put("x")
        with pytest.raises(WrongFeedType):
            await wrong.get(block=False)
    with pytest.raises(WrongFeedType) as caught:
        await Queue(thoonk, "jobs", TEXT).put("x")
    assert (caught.value.expected, caught.value.actual) == ("queue", "job")
    with pytest.raises(FeedNotFound):
        await gone.put("x")
    with pytest.raises(FeedNotFound):
        await gone.get()
    with pytest.raises(InvalidName):
        await thoonk.queue("")
    with pytest.raises(ValueError, match="priority"):
        await queue.put("x", priority=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="priority"):
        await queue.put_many(["x"], priority="high")  # type: ignore[arg-type]
    assert await snapshot(redis_client) == before
    assert await tap.rest() == []


async def test_waits_outlast_the_socket_timeout(
    thoonk: AsyncThoonk, redis_server: RedisServer
) -> None:
    # Each blocking wait must end before the connection's read timeout would cut it.
    async with AsyncThoonk.from_url(redis_server.url, socket_timeout=0.4) as impatient:
        queue = await impatient.queue("q")
        with pytest.raises(Empty):
            await queue.get(timeout=0.6)
        getter = asyncio.create_task(queue.get())
        await asyncio.sleep(0.6)
        await (await thoonk.queue("q")).put("late")
        assert await asyncio.wait_for(getter, 10) == "late"
