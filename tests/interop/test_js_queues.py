"""Queues shared with the original thoonk.js 0.5.5, both directions.

Where thoonk.js differs from thoonk.py and from us (contract 6, 16.A.6), on purpose:

- its put pushes on the other end (normal ``RPUSH``, priority ``LPUSH``) while every
  consumer pops from the right, so items thoonk.js puts come out last-in first-out, its
  "priority" items come out last, and its put jumps ahead of items already waiting;
- ``queue.js`` uses a ``redis`` global it never declares (the driver provides one;
  without it a Queue cannot be made at all);
- ``get`` calls back ``(item, id, error)`` and holds the client's lock while it waits
  (a blocked consumer gets a client of its own here);
- a ``get`` that times out throws inside thoonk.js (it reads the nil reply) and
  never calls back; that client is stuck from then on.
- No notice is ever published for queue traffic, by anyone.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from tests.dbstate import snapshot
from tests.thoonk.jobtools import blocked_on
from thoonk_xmpp.thoonk import AsyncThoonk, Empty
from tools.thoonkjs import CB, JsPeer


async def test_queue_ours_to_js(js: JsPeer, thoonk: AsyncThoonk) -> None:
    queue = await thoonk.queue("q")
    a = await queue.put("a")
    b = await queue.put("b")
    urgent = await queue.put("urgent", queue.HIGH)
    got = [await js.call("queue", "q", "get", 1, CB) for _ in range(3)]
    assert got == [["urgent", urgent, False], ["a", a, False], ["b", b, False]]
    assert await queue.count() == 0
    assert await js.no_more_notices() == [["create", "q"], ["config", "q"]]


async def test_queue_js_to_ours_is_last_in_first_out(
    js: JsPeer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    await js.open("queue", "jq")  # creates it
    _, x = await js.call("queue", "jq", "put", "x", CB)  # calls back (item, id)
    _, y = await js.call("queue", "jq", "put", "y", CB)
    _, z = await js.call("queue", "jq", "put", "z", CB, True)  # "priority"
    assert len(x) == 36
    queue = await thoonk.queue("jq")
    assert await queue.get_ids() == [y, x, z]
    assert [await queue.get(timeout=1) for _ in range(3)] == ["y", "x", "z"]
    with pytest.raises(Empty):
        await queue.get(block=False)
    assert await redis_client.hlen(b"feed.items:jq") == 0
    assert await redis_client.get(b"feed.publishes:jq") == b"3"


async def test_queue_js_put_jumps_ahead_of_ours(js: JsPeer, thoonk: AsyncThoonk) -> None:
    queue = await thoonk.queue("mix")
    await queue.put("ours 1")
    await js.call("queue", "mix", "put", "js 2", CB)
    await queue.put("ours 3")
    assert (await js.call("queue", "mix", "get", 1, CB))[0] == "js 2"
    assert await queue.get(timeout=1) == "ours 1"
    assert (await js.call("queue", "mix", "get", 1, CB))[0] == "ours 3"


async def test_js_consumer_waiting_gets_our_put(
    js: JsPeer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    queue = await thoonk.queue("w")
    consumer = await js.open_client()
    waiting = asyncio.create_task(js.call("queue", "w", "get", 0, CB, client=consumer))
    await blocked_on(redis_client, "brpop")
    item_id = await queue.put("wake up")
    assert await asyncio.wait_for(waiting, 10) == ["wake up", item_id, False]
    assert await queue.count() == 0


async def test_js_get_timing_out_throws_and_changes_nothing(
    js: JsPeer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    queue = await thoonk.queue("empty")
    await js.open("queue", "empty")
    before = await snapshot(redis_client)
    waiting = asyncio.create_task(js.call("queue", "empty", "get", 1, CB))
    for _ in range(1000):
        if js.uncaught:
            break
        await asyncio.sleep(0.01)
    assert len(js.uncaught) == 1 and "TypeError" in js.uncaught[0], js.uncaught
    js.uncaught.clear()
    assert not waiting.done()  # never called back
    waiting.cancel()
    assert await snapshot(redis_client) == before
    assert await queue.count() == 0
