"""Plain feed behaviour through the API: order, edits, retracts, trimming, notices."""

from __future__ import annotations

import re

import pytest
import redis.asyncio as aioredis

from tests.dbstate import snapshot
from thoonk_xmpp.thoonk import (
    BYTES,
    JSON,
    AsyncThoonk,
    FeedNotFound,
    InvalidName,
    ItemNotFound,
    WrongFeedType,
)

from .dbtools import Recorder


def record_items(thoonk: AsyncThoonk) -> Recorder:
    rec = Recorder()
    for kind in ("publish", "edit", "retract"):
        thoonk.register_handler(kind, rec.handler(kind))
    return rec


async def test_publish_generates_hex_ids(thoonk: AsyncThoonk) -> None:
    feed = await thoonk.feed("f")
    first = await feed.publish("a")
    second = await feed.publish("b")
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second
    assert await feed.get_ids() == [first, second]
    assert await feed.get_item(first) == "a"
    assert await feed.get_item("missing") is None
    assert await feed.has_id(second)
    assert not await feed.has_id("missing")
    assert await feed.exists()


async def test_order_is_publish_order(thoonk: AsyncThoonk) -> None:
    # Ids sorting against publish order: equal scores would order them by name.
    feed = await thoonk.feed("f")
    ids = [f"{c}" for c in "zyxwvutsrq"]
    for n, item_id in enumerate(ids):
        await feed.publish(f"item {n}", id=item_id)
    assert await feed.get_ids() == ids
    assert list((await feed.get_all()).items()) == [(i, f"item {n}") for n, i in enumerate(ids)]
    assert await feed.count() == 10
    assert await feed.rank("z") == 0
    assert await feed.rank("q") == 9
    assert await feed.rank("nope") is None
    assert await feed.get_range(-2, -1) == [("r", "item 8"), ("q", "item 9")]
    assert await feed.get_range(20, 30) == []


async def test_edit_moves_to_newest_and_notifies(thoonk: AsyncThoonk) -> None:
    rec = record_items(thoonk)
    feed = await thoonk.feed("f")
    await feed.publish("one", id="1")
    await feed.publish("two", id="2")
    assert await feed.publish("one again", id="1") == "1"
    assert await feed.get_ids() == ["2", "1"]
    assert await feed.get_item("1") == "one again"
    assert await rec.wait_for(3) == [
        ("publish", "f", "one", "1"),
        ("publish", "f", "two", "2"),
        ("edit", "f", "one again", "1"),
    ]


async def test_publish_many(thoonk: AsyncThoonk) -> None:
    rec = record_items(thoonk)
    feed = await thoonk.feed("f")
    await feed.publish("old", id="b")
    ids = await feed.publish_many(["x", ("y", "a"), ("b2", "b")])
    assert ids[1:] == ["a", "b"]
    assert await feed.get_ids() == ids
    assert await feed.get_all() == {ids[0]: "x", "a": "y", "b": "b2"}
    assert await feed.publish_many([]) == []
    assert await rec.wait_for(4) == [
        ("publish", "f", "old", "b"),
        ("publish", "f", "x", ids[0]),
        ("publish", "f", "y", "a"),
        ("edit", "f", "b2", "b"),
    ]


async def test_max_length_trims_oldest_with_retracts(thoonk: AsyncThoonk) -> None:
    rec = record_items(thoonk)
    feed = await thoonk.feed("f", {"max_length": 2})
    for n in range(1, 5):
        await feed.publish(f"i{n}", id=str(n))
    assert await feed.get_ids() == ["3", "4"]
    assert await feed.get_item("1") is None
    assert await rec.wait_for(6) == [
        ("publish", "f", "i1", "1"),
        ("publish", "f", "i2", "2"),
        ("retract", "f", "1"),
        ("publish", "f", "i3", "3"),
        ("retract", "f", "2"),
        ("publish", "f", "i4", "4"),
    ]


async def test_publish_many_trims_as_it_goes(thoonk: AsyncThoonk) -> None:
    feed = await thoonk.feed("f", {"max_length": 2})
    await feed.publish_many([("a", "1"), ("b", "2"), ("c", "3")])
    assert await feed.get_ids() == ["2", "3"]


async def test_lowering_max_length_applies_on_next_publish(thoonk: AsyncThoonk) -> None:
    feed = await thoonk.feed("f")
    for n in range(5):
        await feed.publish(str(n), id=str(n))
    await thoonk.set_config("f", {"max_length": 2})
    assert await feed.count() == 5
    await feed.publish("new", id="n")
    assert await feed.get_ids() == ["4", "n"]


async def test_trim_applies_a_lowered_max_length_at_once(thoonk: AsyncThoonk) -> None:
    rec = record_items(thoonk)
    feed = await thoonk.feed("f")
    for n in range(5):
        await feed.publish(str(n), id=str(n))
    assert await feed.trim() == []  # no max_length: nothing goes
    await thoonk.set_config("f", {"max_length": 2})

    assert await feed.trim() == ["0", "1", "2"]

    assert await feed.get_ids() == ["3", "4"]
    assert await feed.get_item("0") is None
    calls = await rec.wait_for(8)
    assert calls[5:] == [("retract", "f", "0"), ("retract", "f", "1"), ("retract", "f", "2")]
    assert await feed.trim() == []


async def test_edit_never_shrinks_a_full_feed(thoonk: AsyncThoonk) -> None:
    rec = record_items(thoonk)
    feed = await thoonk.feed("f", {"max_length": 3})
    for n in range(1, 4):
        await feed.publish(f"i{n}", id=str(n))
    await feed.publish("i2 edited", id="2")
    await feed.publish("i1 edited", id="1")  # the oldest one: still kept
    assert await feed.get_ids() == ["3", "2", "1"]
    calls = await rec.wait_for(5)
    assert [c[0] for c in calls] == ["publish", "publish", "publish", "edit", "edit"]


async def test_retract(thoonk: AsyncThoonk) -> None:
    rec = record_items(thoonk)
    feed = await thoonk.feed("f")
    await feed.publish("a", id="1")
    await feed.publish("b", id="2")
    await feed.retract("1")
    assert await feed.get_ids() == ["2"]
    assert await feed.get_item("1") is None
    with pytest.raises(ItemNotFound) as caught:
        await feed.retract("1")
    assert caught.value.item_id == "1"
    assert await rec.wait_for(3) == [
        ("publish", "f", "a", "1"),
        ("publish", "f", "b", "2"),
        ("retract", "f", "1"),
    ]


async def test_retract_many_is_all_or_nothing(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    feed = await thoonk.feed("f")
    for n in range(4):
        await feed.publish(str(n), id=str(n))
    before = await snapshot(redis_client)
    with pytest.raises(ItemNotFound):
        await feed.retract_many(["0", "nope", "1"])
    assert await snapshot(redis_client) == before
    await feed.retract_many(["2", "0"])
    assert await feed.get_ids() == ["1", "3"]
    await feed.retract_many([])
    assert await feed.count() == 2


async def test_purge(thoonk: AsyncThoonk) -> None:
    rec = record_items(thoonk)
    thoonk.register_handler("purge", rec.handler("purge"))
    feed = await thoonk.feed("f", {"max_length": 5})
    await feed.publish("a", id="1")
    await feed.publish("b", id="2")
    assert await feed.purge() == ["1", "2"]
    assert await feed.get_ids() == []
    assert await feed.get_all() == {}
    assert await feed.purge() == []
    assert await thoonk.get_config("f") == {"type": "feed", "max_length": "5"}
    await feed.publish("c", id="3")
    assert (await rec.wait_for(7))[2:] == [
        ("purge", "f", 2),
        ("retract", "f", "1"),
        ("retract", "f", "2"),
        ("purge", "f", 0),
        ("publish", "f", "c", "3"),
    ]


async def test_codecs(thoonk: AsyncThoonk) -> None:
    raw = await thoonk.feed("raw", codec=BYTES)
    await raw.publish(b"\x00\xff bin", id="b")
    assert await raw.get_item("b") == b"\x00\xff bin"
    doc = await thoonk.feed("doc", codec=JSON)
    await doc.publish({"k": [1, "ü"]}, id="d")
    assert await doc.get_all() == {"d": {"k": [1, "ü"]}}
    text = await thoonk.feed("text")
    await text.publish(b"bytes in", id="t")
    assert await text.get_item("t") == "bytes in"
    with pytest.raises(TypeError):
        await text.publish(42)  # type: ignore[arg-type]


async def test_item_with_nul_survives(thoonk: AsyncThoonk) -> None:
    rec = record_items(thoonk)
    feed = await thoonk.feed("f")
    await feed.publish("a\x00b\x00c", id="n")
    assert await feed.get_item("n") == "a\x00b\x00c"
    assert await rec.wait_for(1) == [("publish", "f", "a\x00b\x00c", "n")]


async def test_deleted_feed_refuses(thoonk: AsyncThoonk) -> None:
    feed = await thoonk.feed("f")
    await feed.publish("a", id="1")
    await thoonk.delete_feed("f")
    assert not await feed.exists()
    with pytest.raises(FeedNotFound):
        await feed.publish("b")
    with pytest.raises(FeedNotFound):
        await feed.retract("1")
    with pytest.raises(FeedNotFound):
        await feed.purge()
    assert await feed.get_ids() == []


async def test_bad_ids_refused(thoonk: AsyncThoonk, redis_client: aioredis.Redis) -> None:
    feed = await thoonk.feed("f")
    await feed.publish("a", id="1")
    before = await snapshot(redis_client)
    for bad in ("", "a\x00b", b"\x00"):
        with pytest.raises(InvalidName):
            await feed.publish("x", id=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidName):
            await feed.retract(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidName):
            await feed.publish_many([("ok", "2"), ("x", bad)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        await feed.publish("x", id=7)  # type: ignore[arg-type]
    assert await snapshot(redis_client) == before


async def test_feed_object_on_list_key_is_wrong_type(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    feed = await thoonk.feed("f")
    await redis_client.rpush(b"feed.ids:f", b"x")
    before = await snapshot(redis_client)
    with pytest.raises(WrongFeedType):
        await feed.publish("a")
    with pytest.raises(WrongFeedType):
        await feed.retract("x")
    with pytest.raises(WrongFeedType):
        await feed.purge()
    assert await snapshot(redis_client) == before


async def test_max_length_from_legacy_json_config(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    await redis_client.sadd(b"feeds", b"old")
    await redis_client.set(b"feed.config:old", b'{"type": "feed", "max_length": 2}')
    feed = await thoonk.feed("old")
    for n in range(4):
        await feed.publish(str(n), id=str(n))
    assert await feed.get_ids() == ["2", "3"]
    assert await redis_client.type(b"feed.config:old") == b"string"


@pytest.mark.parametrize(
    ("stored", "kept"), [(b"0", 5), (b"-1", 5), (b"junk", 5), (b"2.7", 2), (b"", 5)]
)
async def test_odd_max_length_from_other_clients(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis, stored: bytes, kept: int
) -> None:
    # thoonk.js/py may store anything there; only a positive number bounds the feed.
    feed = await thoonk.feed("f")
    await redis_client.hset(b"feed.config:f", b"max_length", stored)
    await feed.publish_many([(str(n), str(n)) for n in range(5)])
    assert await feed.count() == kept


async def test_get_items_reads_several_ids_in_order_with_none_for_absent(
    thoonk: AsyncThoonk,
) -> None:
    feed = await thoonk.feed("several")
    await feed.publish("one", id="a")
    await feed.publish("two", id="b")
    assert await feed.get_items(["b", "missing", "a"]) == ["two", None, "one"]
    assert await feed.get_items([]) == []
