"""Sorted feed on the wire: exact keys, Redis types, notice bytes; refused operations
change nothing and publish nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap, refused, snapshot
from thoonk_xmpp.thoonk import (
    BYTES,
    AsyncThoonk,
    FeedNotFound,
    InvalidName,
    InvalidPosition,
    ItemNotFound,
    WrongFeedType,
)
from thoonk_xmpp.thoonk.sorted_feed import SortedFeed

Op = Callable[[SortedFeed[str]], Awaitable[Any]]


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


async def test_notice_bytes(thoonk: AsyncThoonk, tap: Tap) -> None:
    feed = await thoonk.sorted_feed("s")
    me = thoonk.instance.encode()
    assert await tap.take(2) == [(b"newfeed", b"s\x00" + me), (b"conffeed", b"s\x00" + me)]
    pub, pos, ret = b"feed.publish:s", b"feed.position:s", b"feed.retract:s"

    await feed.append("a")
    await feed.publish("b")
    await feed.prepend("c")
    await feed.publish_before("2", "d")
    await feed.publish_after("1", "e")
    await feed.append_many(["f", "g"])
    assert await tap.take(14) == [
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
    assert await tap.rest() == []

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
    assert await tap.take(10) == [
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
    assert await tap.rest() == []
    assert await feed.get_ids() == ["1", "7", "2", "4", "5", "6"]

    await thoonk.delete_feed("s")
    assert await tap.take(1) == [(b"delfeed", b"s\x00" + me)]
    assert await tap.rest() == []


async def test_binary_items_travel_untouched(
    thoonk: AsyncThoonk, tap: Tap, redis_client: aioredis.Redis
) -> None:
    feed = await thoonk.sorted_feed("b", codec=BYTES)
    await tap.rest()  # drop the registry notices
    item = b"\x00\xff\x00x\x00"
    assert await feed.append(item) == "1"
    await feed.edit("1", b"")
    assert await tap.take(3) == [
        (b"feed.publish:b", b"1\x00" + item),
        (b"feed.position:b", b"1\x00:end"),
        (b"feed.publish:b", b"1\x00"),
    ]
    assert await tap.rest() == []
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
    redis_client: aioredis.Redis, feed: SortedFeed[str], op: Op, error: type[Exception]
) -> Exception:
    async def call() -> Any:
        return await op(feed)

    return await refused(redis_client, error, call())


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
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, op: Op, missing: str
) -> None:
    feed = await prepared(thoonk)
    error = await assert_refused(redis_client, feed, op, ItemNotFound)
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
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, op: Op, position: str
) -> None:
    feed = await prepared(thoonk)
    error = await assert_refused(redis_client, feed, op, InvalidPosition)
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
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, op: Op
) -> None:
    feed = await prepared(thoonk)
    await assert_refused(redis_client, feed, op, InvalidName)


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
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, op: Op
) -> None:
    # Registered as a sorted feed, but feed.ids holds a plain feed's zset.
    await redis_client.sadd(b"feeds", b"z")
    await redis_client.hset(b"feed.config:z", b"type", b"sorted_feed")
    await redis_client.zadd(b"feed.ids:z", {b"1": 1, b"2": 2})
    await redis_client.hset(b"feed.items:z", mapping={b"1": b"a", b"2": b"b"})
    feed = await thoonk.sorted_feed("z")
    error = await assert_refused(redis_client, feed, op, WrongFeedType)
    assert isinstance(error, WrongFeedType)
    assert error.feed == "z"


@pytest.mark.parametrize("op", MUTATIONS, ids=MUTATION_IDS)
async def test_deleted_feed(thoonk: AsyncThoonk, redis_client: aioredis.Redis, op: Op) -> None:
    feed = await prepared(thoonk)
    await thoonk.create_feed("other")  # so the database is not empty
    await thoonk.delete_feed("s")
    error = await assert_refused(redis_client, feed, op, FeedNotFound)
    assert isinstance(error, FeedNotFound)
    assert error.feed == "s"
    assert await feed.get_ids() == []
    assert await feed.get_all() == {}
    assert await feed.count() == 0


async def test_position_syntax_checked_before_redis(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    # On a deleted feed Redis would answer FeedNotFound: the syntax error comes first.
    feed = await prepared(thoonk)
    await thoonk.delete_feed("s")
    await assert_refused(redis_client, feed, lambda f: f.move("bogus", "1"), InvalidPosition)
