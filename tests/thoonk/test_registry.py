"""Registry: create/configure/delete objects, their keys and the registry notices;
refused calls raise a typed error and change nothing, not even a notice."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap, snapshot
from thoonk_xmpp.thoonk import (
    AsyncThoonk,
    FeedExists,
    FeedNotFound,
    FeedType,
    InvalidFeedConfig,
    InvalidName,
    WrongFeedType,
)
from thoonk_xmpp.thoonk.client import AsyncThoonk as _AsyncThoonk

from .dbtools import registry_notice


def test_instance_id_is_32_hex() -> None:
    first, second = _AsyncThoonk(), _AsyncThoonk()
    assert re.fullmatch(r"[0-9a-f]{32}", first.instance)
    assert first.instance != second.instance


async def test_create_default_type(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, tap: Tap
) -> None:
    await thoonk.create_feed("news")
    assert await redis_client.smembers(b"feeds") == {b"news"}
    assert await redis_client.type(b"feed.config:news") == b"hash"
    assert await redis_client.hgetall(b"feed.config:news") == {b"type": b"feed"}
    assert await tap.rest() == [
        (b"newfeed", registry_notice(thoonk, b"news")),
        (b"conffeed", registry_notice(thoonk, b"news")),
    ]
    assert await thoonk.feed_exists("news")
    assert await thoonk.get_config("news") == {"type": "feed"}


async def test_create_with_config(thoonk: AsyncThoonk, redis_client: aioredis.Redis) -> None:
    await thoonk.create_feed("q", {"type": "queue", "title": "Work", "max_length": 5, "flag": True})
    assert await redis_client.hgetall(b"feed.config:q") == {
        b"type": b"queue",
        b"title": b"Work",
        b"max_length": b"5",
        b"flag": b"true",
    }
    assert await thoonk.feed_type("q") == FeedType.QUEUE


async def test_create_replaces_stale_config(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    await redis_client.hset(b"feed.config:old", mapping={b"type": b"job", b"junk": b"1"})
    await thoonk.create_feed("old")
    assert await redis_client.hgetall(b"feed.config:old") == {b"type": b"feed"}


async def test_get_feeds_and_exists(thoonk: AsyncThoonk) -> None:
    assert await thoonk.get_feeds() == []
    for name in ("b", "a", "ünï", "with:colon"):
        await thoonk.create_feed(name)
    assert await thoonk.get_feeds() == ["a", "b", "with:colon", "ünï"]
    assert await thoonk.feed_exists("with:colon")
    assert not await thoonk.feed_exists("c")


async def test_set_config_keeps_other_fields(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, tap: Tap
) -> None:
    await thoonk.create_feed("news", {"max_length": 3, "title": "T"})
    await tap.rest()
    await thoonk.set_config("news", {"max_length": 10, "extra": "x"})
    assert await thoonk.get_config("news") == {
        "type": "feed",
        "max_length": "10",
        "title": "T",
        "extra": "x",
    }
    assert await tap.rest() == [(b"conffeed", registry_notice(thoonk, b"news"))]
    # None (and "" for max_length) deletes a field; the same type may be re-sent.
    await thoonk.set_config("news", {"max_length": "", "title": None, "type": "feed"})
    assert await redis_client.hgetall(b"feed.config:news") == {b"type": b"feed", b"extra": b"x"}


async def test_legacy_json_config_is_read_and_converted(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    # Config as written by thoonk.py before 2011-11: a JSON string under the same key.
    await redis_client.sadd(b"feeds", b"legacy")
    await redis_client.set(b"feed.config:legacy", b'{"type": "job", "max_length": 50, "x": true}')
    assert await thoonk.get_config("legacy") == {"type": "job", "max_length": "50", "x": "true"}
    assert await thoonk.feed_type("legacy") == FeedType.JOB
    await thoonk.set_config("legacy", {"title": "Jobs"})
    assert await redis_client.type(b"feed.config:legacy") == b"hash"
    assert await thoonk.get_config("legacy") == {
        "type": "job",
        "max_length": "50",
        "x": "true",
        "title": "Jobs",
    }


async def test_unreadable_legacy_config_counts_as_empty(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    await redis_client.sadd(b"feeds", b"broken", b"listy")
    await redis_client.set(b"feed.config:broken", b"{not json")
    await redis_client.set(b"feed.config:listy", b"[1, 2]")
    assert await thoonk.get_config("broken") == {}
    assert await thoonk.get_config("listy") == {}
    assert await thoonk.feed_type("broken") == FeedType.FEED


async def test_name_without_config_yet(thoonk: AsyncThoonk, redis_client: aioredis.Redis) -> None:
    # The creation window of the original clients: in `feeds`, no config written yet.
    await redis_client.sadd(b"feeds", b"young")
    assert await thoonk.get_config("young") == {}
    assert await thoonk.feed_type("young") == FeedType.FEED


async def test_unknown_type_value_reads_as_feed(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    await redis_client.sadd(b"feeds", b"odd")
    await redis_client.hset(b"feed.config:odd", b"type", b"list")
    assert await thoonk.feed_type("odd") == FeedType.FEED


async def test_delete_removes_every_key(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, tap: Tap
) -> None:
    await thoonk.create_feed("keep")
    feed = await thoonk.feed("gone", {"max_length": 4})
    await feed.publish("a")
    suffixes = (
        b"idincr",
        b"published",
        b"claimed",
        b"cancelled",
        b"stalled",
        b"finishes",
        b"running",
    )
    for suffix in suffixes:  # keys other types own: the union is deleted
        await redis_client.set(b"feed." + suffix + b":gone", b"1")
    await tap.rest()
    await thoonk.delete_feed("gone")
    assert await tap.rest() == [(b"delfeed", registry_notice(thoonk, b"gone"))]
    assert sorted(await redis_client.keys()) == [b"feed.config:keep", b"feeds"]
    assert await thoonk.get_feeds() == ["keep"]
    assert not await thoonk.feed_exists("gone")
    with pytest.raises(FeedNotFound):
        await thoonk.get_config("gone")


async def test_recreate_after_delete(thoonk: AsyncThoonk) -> None:
    await thoonk.create_feed("x", {"type": "queue"})
    await thoonk.delete_feed("x")
    await thoonk.create_feed("x")
    assert await thoonk.get_config("x") == {"type": "feed"}


async def test_open_existing_keeps_type_and_checks_it(thoonk: AsyncThoonk) -> None:
    await thoonk.create_feed("f")
    feed = await thoonk.feed("f", {"max_length": 2})
    assert feed.name == "f"
    assert await thoonk.get_config("f") == {"type": "feed", "max_length": "2"}
    await feed.publish("x")
    with pytest.raises(WrongFeedType):
        await thoonk.sorted_feed("f")


async def test_type_reset_by_old_client_is_tolerated(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    # thoonk.py/thoonk.js set_config without `type` writes type=feed (contract 3).
    sorted_feed = await thoonk.sorted_feed("s")
    await sorted_feed.append("a")
    await redis_client.hset(b"feed.config:s", b"type", b"feed")
    reopened = await thoonk.sorted_feed("s")
    assert await reopened.get_ids() == ["1"]
    assert await redis_client.hget(b"feed.config:s", b"type") == b"feed"


# --- refused calls: typed error, database and wire unchanged ---------------------

Call = Callable[[AsyncThoonk], Awaitable[Any]]


async def _setup(thoonk: AsyncThoonk) -> None:
    await thoonk.create_feed("news", {"max_length": 5, "title": "T"})
    await thoonk.create_feed("sorted", {"type": "sorted_feed"})
    feed = await thoonk.feed("news")
    await feed.publish("one", id="1")


REFUSED: list[tuple[str, Call, type[Exception]]] = [
    ("create existing", lambda t: t.create_feed("news"), FeedExists),
    ("create existing other type", lambda t: t.create_feed("news", {"type": "job"}), FeedExists),
    ("create empty name", lambda t: t.create_feed(""), InvalidName),
    ("create NUL name", lambda t: t.create_feed("a\x00b"), InvalidName),
    ("create bad type", lambda t: t.create_feed("new", {"type": "list"}), InvalidFeedConfig),
    ("create max_length 0", lambda t: t.create_feed("new", {"max_length": 0}), InvalidFeedConfig),
    ("create max_length -1", lambda t: t.create_feed("new", {"max_length": -1}), InvalidFeedConfig),
    (
        "create max_length 1.5",
        lambda t: t.create_feed("new", {"max_length": 1.5}),
        InvalidFeedConfig,
    ),
    (
        "create max_length text",
        lambda t: t.create_feed("new", {"max_length": "ten"}),
        InvalidFeedConfig,
    ),
    ("create empty field", lambda t: t.create_feed("new", {"": "x"}), InvalidFeedConfig),
    ("create NUL field", lambda t: t.create_feed("new", {"a\x00": "x"}), InvalidFeedConfig),
    ("set_config missing", lambda t: t.set_config("nope", {"a": "b"}), FeedNotFound),
    ("set_config empty name", lambda t: t.set_config("", {"a": "b"}), InvalidName),
    ("set_config NUL name", lambda t: t.set_config("n\x00", {"a": "b"}), InvalidName),
    ("set_config type change", lambda t: t.set_config("news", {"type": "job"}), InvalidFeedConfig),
    (
        "set_config sorted to feed",
        lambda t: t.set_config("sorted", {"type": "feed"}),
        InvalidFeedConfig,
    ),
    (
        "set_config max_length 0",
        lambda t: t.set_config("news", {"max_length": "0", "title": "new"}),
        InvalidFeedConfig,
    ),
    (
        "set_config max_length negative",
        lambda t: t.set_config("news", {"max_length": "-3"}),
        InvalidFeedConfig,
    ),
    (
        "set_config max_length float",
        lambda t: t.set_config("news", {"max_length": 2.0}),
        InvalidFeedConfig,
    ),
    (
        "set_config max_length bool",
        lambda t: t.set_config("news", {"max_length": True}),
        InvalidFeedConfig,
    ),
    ("get_config missing", lambda t: t.get_config("nope"), FeedNotFound),
    ("get_config empty name", lambda t: t.get_config(""), InvalidName),
    ("delete missing", lambda t: t.delete_feed("nope"), FeedNotFound),
    ("delete empty name", lambda t: t.delete_feed(""), InvalidName),
    ("delete NUL name", lambda t: t.delete_feed("news\x00"), InvalidName),
    ("exists NUL name", lambda t: t.feed_exists("\x00"), InvalidName),
    ("open empty name", lambda t: t.feed(""), InvalidName),
    ("open NUL name", lambda t: t.sorted_feed("q\x00"), InvalidName),
    ("open as wrong type", lambda t: t.sorted_feed("news"), WrongFeedType),
    ("open feed as sorted", lambda t: t.feed("sorted"), WrongFeedType),
]


@pytest.mark.parametrize(("call", "error"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
async def test_refused_changes_nothing(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, tap: Tap, call: Call, error: type[Exception]
) -> None:
    await _setup(thoonk)
    before = await snapshot(redis_client)
    await tap.rest()
    with pytest.raises(error):
        await call(thoonk)
    assert await tap.rest() == []
    assert await snapshot(redis_client) == before


async def test_non_text_name_is_a_type_error(thoonk: AsyncThoonk) -> None:
    with pytest.raises(TypeError):
        await thoonk.create_feed(42)  # type: ignore[arg-type]
