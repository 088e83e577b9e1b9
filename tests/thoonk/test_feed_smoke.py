from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.thoonk import AsyncThoonk, ItemNotFound


async def test_publish_edit_retract(thoonk: AsyncThoonk, redis_client: aioredis.Redis) -> None:
    seen: list[tuple[str, ...]] = []
    thoonk.register_handler("publish", lambda f, item, i: seen.append(("publish", f, item, i)))
    thoonk.register_handler("edit", lambda f, item, i: seen.append(("edit", f, item, i)))
    thoonk.register_handler("retract", lambda f, i: seen.append(("retract", f, i)))
    feed = await thoonk.feed("news", {"max_length": 2})
    a = await feed.publish("one")
    await feed.publish("two", id="b")
    await feed.publish("one-edited", id=a)
    assert await feed.get_ids() == ["b", a]
    await feed.publish("three", id="c")
    assert await feed.get_ids() == [a, "c"]
    with pytest.raises(ItemNotFound):
        await feed.retract("nope")
    await feed.retract("c")
    for _ in range(50):
        if len(seen) >= 6:
            break
        await asyncio.sleep(0.02)
    assert seen == [
        ("publish", "news", "one", a),
        ("publish", "news", "two", "b"),
        ("edit", "news", "one-edited", a),
        ("retract", "news", "b"),
        ("publish", "news", "three", "c"),
        ("retract", "news", "c"),
    ]
    assert await redis_client.type(b"feed.ids:news") == b"zset"
