"""Sorted feed on the wire: exact keys, Redis types, notice bytes; refused operations
change nothing and publish nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.thoonk import (
    BYTES,
    AsyncThoonk,
    FeedNotFound,
    InvalidName,
    InvalidPosition,
    ItemNotFound,
    WrongFeedType,
)
from thoonk_xmpp.thoonk.replies import optional_bytes
from thoonk_xmpp.thoonk.sorted_feed import SortedFeed

Op = Callable[[SortedFeed[str]], Awaitable[Any]]
SENTINEL = b"test.sentinel"


async def snapshot(redis: aioredis.Redis) -> dict[bytes, tuple[bytes, Any]]:
    """Every key with its type and full value (no DUMP, so it reads like a diff)."""
    state: dict[bytes, tuple[bytes, Any]] = {}
    async for key in redis.scan_iter(count=1000):
        kind = optional_bytes(await redis.type(key)) or b"none"
        value: Any
        match kind:
            case b"string":
                value = await redis.get(key)
            case b"list":
                value = await redis.lrange(key, 0, -1)
            case b"hash":
                value = sorted((await redis.hgetall(key)).items())
            case b"set":
                value = sorted(await redis.smembers(key))
            case b"zset":
                value = await redis.zrange(key, 0, -1, withscores=True)
            case _:
                value = None
        state[key] = (kind, value)
    return state


class Wire:
    """Every message published on the server, as (channel, payload) bytes."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.pubsub = redis.pubsub()

    async def start(self) -> None:
        await self.pubsub.psubscribe(b"*")

        async def confirmed() -> None:
            while True:
                message = await self.pubsub.get_message(timeout=1)
                if message is not None and message["type"] == "psubscribe":
                    return

        await asyncio.wait_for(confirmed(), 10)

    async def next(self) -> tuple[bytes, bytes]:
        async def wait() -> tuple[bytes, bytes]:
            while True:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None and message["type"] == "pmessage":
                    return message["channel"], message["data"]

        return await asyncio.wait_for(wait(), 10)

    async def take(self, count: int) -> list[tuple[bytes, bytes]]:
        return [await self.next() for _ in range(count)]

    async def quiet(self) -> None:
        """Assert nothing else was published: the next message is our own marker."""
        await self.redis.publish(SENTINEL, b"mark")
        assert await self.next() == (SENTINEL, b"mark")


@pytest.fixture
async def wire(redis_client: aioredis.Redis) -> AsyncIterator[Wire]:
    watcher = Wire(redis_client)
    try:
        yield watcher
    finally:
        await watcher.pubsub.aclose()  # type: ignore[no-untyped-call]


async def test_keys_and_types(thoonk: AsyncThoonk, redis_client: aioredis.Redis) -> None:
    feed = await thoonk.sorted_feed("s")
    await feed.append("a")
    await feed.prepend("b")
    await feed.publish_after("2", "c")
    await feed.edit("1", "A")
    await feed.retract("3")
    assert await snapshot(redis_client) == {
        b"feeds": (b"set", [b"s"]),
        b"feed.config:s": (b"hash", [(b"type", b"sorted_feed")]),
        b"feed.ids:s": (b"list", [b"2", b"1"]),
        b"feed.items:s": (b"hash", [(b"1", b"A"), (b"2", b"b")]),
        b"feed.publishes:s": (b"string", b"4"),
        b"feed.idincr:s": (b"string", b"3"),
    }
    await thoonk.delete_feed("s")
    assert await snapshot(redis_client) == {}


async def test_notice_bytes(thoonk: AsyncThoonk, wire: Wire) -> None:
    await wire.start()
    feed = await thoonk.sorted_feed("s")
    me = thoonk.instance.encode()
    assert await wire.take(2) == [(b"newfeed", b"s\x00" + me), (b"conffeed", b"s\x00" + me)]
    pub, pos, ret = b"feed.publish:s", b"feed.position:s", b"feed.retract:s"

    await feed.append("a")
    await feed.publish("b")
    await feed.prepend("c")
    await feed.publish_before("2", "d")
    await feed.publish_after("1", "e")
    await feed.append_many(["f", "g"])
    assert await wire.take(14) == [
        (pub, b"1\x00a"),
        (pos, b"1\x00:end"),
        (pub, b"2\x00b"),
        (pos, b"2\x00:end"),
        (pub, b"3\x00c"),
        (pos, b"3\x00begin:"),
        (pub, b"4\x00d"),
        (pos, b"4\x00:2"),
        (pub, b"5\x00e"),
        (pos, b"5\x001:"),
        (pub, b"6\x00f"),
        (pos, b"6\x00:end"),
        (pub, b"7\x00g"),
        (pos, b"7\x00:end"),
    ]
    await wire.quiet()

    await feed.edit("4", "D")
    await feed.move_first("6")
    await feed.move_last("3")
    await feed.move_before("1", "7")
    await feed.move_after("7", "2")
    await feed.move(":5", "4")
    await feed.move("4:", "5")
    await feed.move("begin:", "1")
    await feed.move(":end", "6")
    await feed.retract("3")
    assert await wire.take(10) == [
        (pub, b"4\x00D"),
        (pos, b"6\x00begin:"),
        (pos, b"3\x00:end"),
        (pos, b"7\x00:1"),
        (pos, b"2\x007:"),
        (pos, b"4\x00:5"),
        (pos, b"5\x004:"),
        (pos, b"1\x00begin:"),
        (pos, b"6\x00:end"),
        (ret, b"3"),
    ]
    await wire.quiet()
    assert await feed.get_ids() == ["1", "7", "2", "4", "5", "6"]

    await thoonk.delete_feed("s")
    assert await wire.take(1) == [(b"delfeed", b"s\x00" + me)]
    await wire.quiet()


async def test_binary_items_travel_untouched(
    thoonk: AsyncThoonk, wire: Wire, redis_client: aioredis.Redis
) -> None:
    feed = await thoonk.sorted_feed("b", codec=BYTES)
    await wire.start()
    item = b"\x00\xff\x00x\x00"
    assert await feed.append(item) == "1"
    await feed.edit("1", b"")
    assert await wire.take(3) == [
        (b"feed.publish:b", b"1\x00" + item),
        (b"feed.position:b", b"1\x00:end"),
        (b"feed.publish:b", b"1\x00"),
    ]
    await wire.quiet()
    assert await redis_client.hget(b"feed.items:b", b"1") == b""
    assert await feed.get_item("1") == b""


async def test_id_missing_from_list_is_put_back_by_move(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    # thoonk.py's move relative to the item itself leaves the id in the hash only.
    feed = await thoonk.sorted_feed("s")
    await feed.append_many(["a", "b", "c"])
    await redis_client.lrem(b"feed.ids:s", 0, "3")
    with pytest.raises(ItemNotFound):
        await feed.publish_after("3", "x")  # a pivot must be in the list
    await feed.move_after("1", "3")
    assert await feed.get_ids() == ["1", "3", "2"]


async def prepared(thoonk: AsyncThoonk) -> SortedFeed[str]:
    feed = await thoonk.sorted_feed("s")
    await feed.append_many(["a", "b", "c"])
    return feed


async def assert_refused(
    redis_client: aioredis.Redis, wire: Wire, feed: SortedFeed[str], op: Op, error: type[Exception]
) -> Exception:
    before = await snapshot(redis_client)
    await wire.start()
    with pytest.raises(error) as caught:
        await op(feed)
    await wire.quiet()
    assert await snapshot(redis_client) == before
    return caught.value


MISSING = "9"


@pytest.mark.parametrize(
    ("op", "missing"),
    [
        (lambda f: f.edit(MISSING, "x"), MISSING),
        (lambda f: f.retract(MISSING), MISSING),
        (lambda f: f.retract("nope"), "nope"),
        (lambda f: f.move_first(MISSING), MISSING),
        (lambda f: f.move_last(MISSING), MISSING),
        (lambda f: f.move_before("1", MISSING), MISSING),
        (lambda f: f.move_after("1", MISSING), MISSING),
        (lambda f: f.move("begin:", MISSING), MISSING),
        (lambda f: f.move_before(MISSING, "1"), MISSING),
        (lambda f: f.move_after(MISSING, "1"), MISSING),
        (lambda f: f.move(f":{MISSING}", "1"), MISSING),
        (lambda f: f.move(f"{MISSING}:", "1"), MISSING),
        (lambda f: f.move("end:", "1"), "end"),
        (lambda f: f.move(":begin", "1"), "begin"),
        (lambda f: f.publish_before(MISSING, "x"), MISSING),
        (lambda f: f.publish_after(MISSING, "x"), MISSING),
    ],
    ids=[
        "edit",
        "retract",
        "retract-text",
        "move_first",
        "move_last",
        "move_before-id",
        "move_after-id",
        "move-begin-id",
        "move_before-pivot",
        "move_after-pivot",
        "move-before-pivot",
        "move-after-pivot",
        "move-after-end",
        "move-before-begin",
        "publish_before",
        "publish_after",
    ],
)
async def test_item_not_found_changes_nothing(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, wire: Wire, op: Op, missing: str
) -> None:
    feed = await prepared(thoonk)
    error = await assert_refused(redis_client, wire, feed, op, ItemNotFound)
    assert isinstance(error, ItemNotFound)
    assert error.item_id == missing
    assert repr(missing) in str(error)


@pytest.mark.parametrize(
    ("op", "position"),
    [
        (lambda f: f.move_before("2", "2"), ":2"),
        (lambda f: f.move_after("2", "2"), "2:"),
        (lambda f: f.move(":2", "2"), ":2"),
        (lambda f: f.move("2:", "2"), "2:"),
        (lambda f: f.move("", "1"), ""),
        (lambda f: f.move(":", "1"), ":"),
        (lambda f: f.move("begin", "1"), "begin"),
        (lambda f: f.move("end", "1"), "end"),
        (lambda f: f.move("2", "1"), "2"),
        (lambda f: f.move(":2\x00", "1"), ":2\x00"),
        (lambda f: f.move("\x00:", "1"), "\x00:"),
    ],
    ids=[
        "move_before-self",
        "move_after-self",
        "move-before-self",
        "move-after-self",
        "empty",
        "colon",
        "begin",
        "end",
        "bare-id",
        "nul-before",
        "nul-after",
    ],
)
async def test_invalid_position_changes_nothing(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, wire: Wire, op: Op, position: str
) -> None:
    feed = await prepared(thoonk)
    error = await assert_refused(redis_client, wire, feed, op, InvalidPosition)
    assert isinstance(error, InvalidPosition)
    assert error.position == position


@pytest.mark.parametrize(
    "op",
    [
        lambda f: f.edit("", "x"),
        lambda f: f.edit("1\x00", "x"),
        lambda f: f.retract(""),
        lambda f: f.retract("\x00"),
        lambda f: f.move_first(""),
        lambda f: f.move_last("1\x002"),
        lambda f: f.move_before("", "1"),
        lambda f: f.move_after("1", ""),
        lambda f: f.move("begin:", ""),
        lambda f: f.publish_before("", "x"),
        lambda f: f.publish_after("1\x00", "x"),
    ],
    ids=[
        "edit-empty",
        "edit-nul",
        "retract-empty",
        "retract-nul",
        "move_first-empty",
        "move_last-nul",
        "move_before-empty-pivot",
        "move_after-empty-id",
        "move-empty-id",
        "publish_before-empty",
        "publish_after-nul",
    ],
)
async def test_invalid_name_changes_nothing(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, wire: Wire, op: Op
) -> None:
    feed = await prepared(thoonk)
    await assert_refused(redis_client, wire, feed, op, InvalidName)


MUTATIONS: list[Op] = [
    lambda f: f.append("x"),
    lambda f: f.publish("x"),
    lambda f: f.prepend("x"),
    lambda f: f.append_many(["x", "y"]),
    lambda f: f.publish_before("1", "x"),
    lambda f: f.publish_after("1", "x"),
    lambda f: f.edit("1", "x"),
    lambda f: f.move_first("1"),
    lambda f: f.move_last("1"),
    lambda f: f.move_before("2", "1"),
    lambda f: f.move_after("2", "1"),
    lambda f: f.move(":2", "1"),
    lambda f: f.retract("1"),
]
MUTATION_IDS = [
    "append",
    "publish",
    "prepend",
    "append_many",
    "publish_before",
    "publish_after",
    "edit",
    "move_first",
    "move_last",
    "move_before",
    "move_after",
    "move",
    "retract",
]


@pytest.mark.parametrize("op", MUTATIONS, ids=MUTATION_IDS)
async def test_ids_key_of_wrong_type(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, wire: Wire, op: Op
) -> None:
    # Registered as a sorted feed, but feed.ids holds a plain feed's zset.
    await redis_client.sadd(b"feeds", b"z")
    await redis_client.hset(b"feed.config:z", b"type", b"sorted_feed")
    await redis_client.zadd(b"feed.ids:z", {b"1": 1, b"2": 2})
    await redis_client.hset(b"feed.items:z", mapping={b"1": b"a", b"2": b"b"})
    feed = await thoonk.sorted_feed("z")
    error = await assert_refused(redis_client, wire, feed, op, WrongFeedType)
    assert isinstance(error, WrongFeedType)
    assert error.feed == "z"


@pytest.mark.parametrize("op", MUTATIONS, ids=MUTATION_IDS)
async def test_deleted_feed(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, wire: Wire, op: Op
) -> None:
    feed = await prepared(thoonk)
    await thoonk.create_feed("other")  # so the database is not empty
    await thoonk.delete_feed("s")
    error = await assert_refused(redis_client, wire, feed, op, FeedNotFound)
    assert isinstance(error, FeedNotFound)
    assert error.feed == "s"
    assert await feed.get_ids() == []
    assert await feed.get_all() == {}
    assert await feed.count() == 0


async def test_position_syntax_checked_before_redis(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, wire: Wire
) -> None:
    # On a deleted feed Redis would answer FeedNotFound: the syntax error comes first.
    feed = await prepared(thoonk)
    await thoonk.delete_feed("s")
    await assert_refused(redis_client, wire, feed, lambda f: f.move("bogus", "1"), InvalidPosition)
