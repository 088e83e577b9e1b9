"""Plain feed on the wire (contract sections 3, 4, 8): exact key names, Redis types,
integer-millisecond scores, and every notice byte for byte as a raw subscriber sees it.
Refused operations raise a typed error, change nothing and publish nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap, redis_ms, snapshot
from thoonk_xmpp.thoonk import (
    BYTES,
    AsyncThoonk,
    Feed,
    FeedNotFound,
    InvalidName,
    ItemNotFound,
    WrongFeedType,
)

from .dbtools import registry_notice


async def test_keys_and_types(thoonk: AsyncThoonk, redis_client: aioredis.Redis) -> None:
    feed = await thoonk.feed("news", {"max_length": 10})
    await feed.publish("one", id="a")
    await feed.publish("two", id="b")
    await feed.publish("two!", id="b")
    assert sorted(await redis_client.keys()) == [
        b"feed.config:news",
        b"feed.ids:news",
        b"feed.items:news",
        b"feed.publishes:news",
        b"feeds",
    ]
    types = {k: await redis_client.type(k) for k in await redis_client.keys()}
    assert types == {
        b"feeds": b"set",
        b"feed.config:news": b"hash",
        b"feed.ids:news": b"zset",
        b"feed.items:news": b"hash",
        b"feed.publishes:news": b"string",
    }
    assert await redis_client.hgetall(b"feed.config:news") == {
        b"type": b"feed",
        b"max_length": b"10",
    }
    assert await redis_client.hgetall(b"feed.items:news") == {b"a": b"one", b"b": b"two!"}
    assert await redis_client.get(b"feed.publishes:news") == b"3"  # edits count too


async def test_scores_are_integer_epoch_ms(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    feed = await thoonk.feed("news")
    start = await redis_ms(redis_client)
    for n in range(5):
        await feed.publish(str(n), id=str(n))
    end = await redis_ms(redis_client)
    scored = await redis_client.zrange(b"feed.ids:news", 0, -1, withscores=True)
    scores = [score for _, score in scored]
    assert all(score == int(score) for score in scores)
    assert scores == sorted(set(scores))  # strictly increasing
    # Same-millisecond publishes are spread by 1 ms, so at most 5 ms ahead of the clock.
    assert start <= scores[0] and scores[-1] <= end + 5
    # The raw protocol text of the score has no decimal point.
    raw = await redis_client.eval("return redis.call('ZSCORE', KEYS[1], '4')", 1, b"feed.ids:news")
    assert raw == str(int(scores[-1])).encode()


async def test_publishing_after_a_future_score_stays_ordered(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    feed = await thoonk.feed("news")
    await feed.publish("x", id="x")
    future = await redis_ms(redis_client) + 10_000
    await redis_client.zadd(b"feed.ids:news", {b"x": future})
    await feed.publish("y", id="y")
    assert await redis_client.zscore(b"feed.ids:news", b"y") == future + 1


async def test_thoonkpy_second_scores_sort_first(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    # thoonk.py writes seconds as floats; those items sort before ours, untouched.
    feed = await thoonk.feed("news")
    await redis_client.zadd(b"feed.ids:news", {b"py": 1795855143.04})
    await redis_client.hset(b"feed.items:news", b"py", b"from py")
    await feed.publish("ours", id="ours")
    assert await feed.get_ids() == ["py", "ours"]
    assert await redis_client.zscore(b"feed.ids:news", b"py") == 1795855143.04


async def test_notice_bytes(thoonk: AsyncThoonk, tap: Tap) -> None:
    feed = await thoonk.feed("news", {"max_length": 2}, codec=BYTES)
    await feed.publish(b"one", id="a")
    await feed.publish(b"two\x00with nul", id="b")
    await feed.publish(b"one edited", id="a")
    await feed.publish(b"three", id="c")  # trims b (oldest after the edit)
    await feed.retract("a")
    await thoonk.set_config("news", {"title": "N"})
    await thoonk.delete_feed("news")
    assert await tap.rest() == [
        (b"newfeed", registry_notice(thoonk, b"news")),
        (b"conffeed", registry_notice(thoonk, b"news")),
        (b"feed.publish:news", b"a\x00one"),
        (b"feed.publish:news", b"b\x00two\x00with nul"),
        (b"feed.edit:news", b"a\x00one edited"),
        (b"thoonkx.trim:news", b"1"),
        (b"feed.retract:news", b"b"),
        (b"feed.publish:news", b"c\x00three"),
        (b"feed.retract:news", b"a"),
        (b"conffeed", registry_notice(thoonk, b"news")),
        (b"delfeed", registry_notice(thoonk, b"news")),
    ]


async def test_unicode_names_and_ids_are_utf8(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, tap: Tap
) -> None:
    feed = await thoonk.feed("nöws:x")
    await feed.publish("ï", id="ü")
    assert await redis_client.zrange("feed.ids:nöws:x".encode(), 0, -1) == ["ü".encode()]
    assert (await tap.rest())[2:] == [("feed.publish:nöws:x".encode(), "ü\x00ï".encode())]


async def test_retract_many_announces_each_id_once(thoonk: AsyncThoonk, tap: Tap) -> None:
    feed = await thoonk.feed("news")
    await feed.publish_many([("a", "1"), ("b", "2")])
    await tap.rest()
    await feed.retract_many(["1", "2", "1"])
    assert await tap.rest() == [(b"feed.retract:news", b"1"), (b"feed.retract:news", b"2")]
    assert await feed.count() == 0


async def test_purge_notices(thoonk: AsyncThoonk, tap: Tap) -> None:
    feed = await thoonk.feed("news")
    await feed.publish("a", id="1")
    await feed.publish("b", id="2")
    await tap.rest()
    await feed.purge()
    assert await tap.rest() == [
        (b"thoonkx.purge:news", b"2"),
        (b"feed.retract:news", b"1"),
        (b"feed.retract:news", b"2"),
    ]


async def test_trim_notice_precedes_each_publish_trim(thoonk: AsyncThoonk, tap: Tap) -> None:
    feed = await thoonk.feed("news")
    await feed.publish_many([("a", "1"), ("b", "2"), ("c", "3")])
    await thoonk.set_config("news", {"max_length": 2})
    await tap.rest()
    await feed.publish("c2", id="3")  # an edit never trims: no trim notice
    await feed.publish_many([("d", "4"), ("e", "5")])
    assert await tap.rest() == [
        (b"feed.edit:news", b"3\x00c2"),
        (b"thoonkx.trim:news", b"2"),
        (b"feed.retract:news", b"1"),
        (b"feed.retract:news", b"2"),
        (b"feed.publish:news", b"4\x00d"),
        (b"thoonkx.trim:news", b"1"),
        (b"feed.retract:news", b"3"),
        (b"feed.publish:news", b"5\x00e"),
    ]


async def test_our_feed_reads_thoonkpy_data(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    # Exactly what thoonk.py 1.0.1.0 writes for a feed (no Lua, plain commands).
    await redis_client.sadd(b"feeds", b"py")
    await redis_client.hset(b"feed.config:py", mapping={b"type": b"feed", b"max_length": b"2"})
    await redis_client.zadd(b"feed.ids:py", {b"a": 1795855143.04, b"b": 1795855143.05})
    await redis_client.hset(b"feed.items:py", mapping={b"a": b"A", b"b": b"B"})
    await redis_client.set(b"feed.publishes:py", b"2")
    feed = await thoonk.feed("py")
    assert await feed.get_all() == {"a": "A", "b": "B"}
    await feed.publish("C", id="c")
    assert await feed.get_ids() == ["b", "c"]
    assert await redis_client.get(b"feed.publishes:py") == b"3"


# --- refused: typed error, no change, no notice --------------------------------

Op = Callable[[Feed[str]], Awaitable[Any]]

REFUSED: list[tuple[str, Op, type[Exception]]] = [
    ("retract unknown", lambda f: f.retract("nope"), ItemNotFound),
    ("retract_many one unknown", lambda f: f.retract_many(["1", "nope"]), ItemNotFound),
    ("retract empty id", lambda f: f.retract(""), InvalidName),
    ("publish NUL id", lambda f: f.publish("x", id="a\x00"), InvalidName),
    ("publish empty id", lambda f: f.publish("x", id=""), InvalidName),
    ("publish_many bad id last", lambda f: f.publish_many(["ok", ("x", "\x00")]), InvalidName),
    ("publish non-text", lambda f: f.publish(3), TypeError),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("op", "error"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
async def test_refused_changes_nothing(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, tap: Tap, op: Op, error: type[Exception]
) -> None:
    feed = await thoonk.feed("news", {"max_length": 3})
    await feed.publish("one", id="1")
    await feed.publish("two", id="2")
    await tap.rest()
    before = await snapshot(redis_client)
    with pytest.raises(error):
        await op(feed)
    assert await tap.rest() == []
    assert await snapshot(redis_client) == before


@pytest.mark.parametrize("verb", ["publish", "retract", "purge", "publish_many"])
async def test_refused_on_missing_or_wrong_feed(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, tap: Tap, verb: str
) -> None:
    gone = await thoonk.feed("gone")
    await thoonk.delete_feed("gone")
    wrong = await thoonk.feed("wrong")
    await redis_client.rpush(b"feed.ids:wrong", b"1")  # a list: some other type's data
    await redis_client.hset(b"feed.items:wrong", b"1", b"x")
    calls: dict[str, Callable[[Feed[str]], Awaitable[Any]]] = {
        "publish": lambda f: f.publish("x", id="1"),
        "retract": lambda f: f.retract("1"),
        "purge": lambda f: f.purge(),
        "publish_many": lambda f: f.publish_many(["x", "y"]),
    }
    await tap.rest()
    before = await snapshot(redis_client)
    with pytest.raises(FeedNotFound):
        await calls[verb](gone)
    with pytest.raises(WrongFeedType):
        await calls[verb](wrong)
    assert await tap.rest() == []
    assert await snapshot(redis_client) == before
