"""Sorted feed behaviour through the public API, notices through the listener."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.thoonk import JSON, AsyncThoonk, ItemNotFound
from thoonk_xmpp.thoonk.replies import blist
from thoonk_xmpp.thoonk.sorted_feed import SortedFeed
from tools.localservers import RedisServer

Event = tuple[Any, ...]


class Notices:
    """Every publish/edit/position/retract handler call, in arrival order."""

    def __init__(self, thoonk: AsyncThoonk) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        for kind in ("publish", "edit", "position", "retract"):
            thoonk.register_handler(kind, self._recorder(kind))

    def _recorder(self, kind: str) -> Any:
        def record(*args: Any) -> None:
            self.queue.put_nowait((kind, *args))

        return record

    async def take(self, count: int) -> list[Event]:
        return [await asyncio.wait_for(self.queue.get(), 10) for _ in range(count)]


@pytest.fixture
def notices(thoonk: AsyncThoonk) -> Notices:
    return Notices(thoonk)


async def open_feed(thoonk: AsyncThoonk, name: str = "s") -> SortedFeed[str]:
    return await thoonk.sorted_feed(name)


async def test_inserts_order_ids_and_notices(thoonk: AsyncThoonk, notices: Notices) -> None:
    feed = await open_feed(thoonk)
    assert feed.type_name == "sorted_feed"
    assert await feed.append("a") == "1"
    assert await feed.publish("b") == "2"
    assert await feed.prepend("c") == "3"
    assert await feed.publish_before("2", "d") == "4"
    assert await feed.publish_after("1", "e") == "5"
    assert await feed.publish_after("2", "f") == "6"
    assert await feed.publish_before("3", "g") == "7"
    assert await feed.get_ids() == ["7", "3", "1", "5", "4", "2", "6"]
    assert await feed.get_all() == {
        "7": "g",
        "3": "c",
        "1": "a",
        "5": "e",
        "4": "d",
        "2": "b",
        "6": "f",
    }
    assert list((await feed.get_all()).values()) == ["g", "c", "a", "e", "d", "b", "f"]
    assert await feed.count() == 7
    assert await feed.get_item("5") == "e"
    assert await feed.get_item("99") is None
    assert await feed.has_id("4")
    assert await notices.take(14) == [
        ("publish", "s", "a", "1"),
        ("position", "s", "1", ":end"),
        ("publish", "s", "b", "2"),
        ("position", "s", "2", ":end"),
        ("publish", "s", "c", "3"),
        ("position", "s", "3", "begin:"),
        ("publish", "s", "d", "4"),
        ("position", "s", "4", ":2"),
        ("publish", "s", "e", "5"),
        ("position", "s", "5", "1:"),
        ("publish", "s", "f", "6"),
        ("position", "s", "6", "2:"),
        ("publish", "s", "g", "7"),
        ("position", "s", "7", ":3"),
    ]


async def test_append_many(
    thoonk: AsyncThoonk, notices: Notices, redis_client: aioredis.Redis
) -> None:
    feed = await open_feed(thoonk)
    await feed.append("first")
    assert await feed.append_many([]) == []
    assert await feed.append_many(iter(["x", "y", "z"])) == ["2", "3", "4"]
    assert await feed.get_ids() == ["1", "2", "3", "4"]
    assert await redis_client.get(b"feed.publishes:s") == b"4"
    assert await notices.take(8) == [
        ("publish", "s", "first", "1"),
        ("position", "s", "1", ":end"),
        ("publish", "s", "x", "2"),
        ("position", "s", "2", ":end"),
        ("publish", "s", "y", "3"),
        ("position", "s", "3", ":end"),
        ("publish", "s", "z", "4"),
        ("position", "s", "4", ":end"),
    ]


async def test_edit_keeps_place_and_sends_publish_only(
    thoonk: AsyncThoonk, notices: Notices, redis_client: aioredis.Redis
) -> None:
    feed = await open_feed(thoonk)
    await feed.append_many(["a", "b", "c"])
    await notices.take(6)
    await feed.edit("2", "B")
    await feed.retract("3")  # sentinel: proves no position notice followed the edit
    assert await notices.take(2) == [
        ("publish", "s", "B", "2"),
        ("retract", "s", "3"),
    ]
    assert await feed.get_ids() == ["1", "2"]
    assert await feed.get_all() == {"1": "a", "2": "B"}
    assert await redis_client.get(b"feed.publishes:s") == b"4"
    assert await redis_client.get(b"feed.idincr:s") == b"3"


@pytest.mark.parametrize(
    ("move", "moved", "order", "position"),
    [
        (lambda f: f.move_first("3"), "3", ["3", "1", "2", "4"], "begin:"),
        (lambda f: f.move_last("2"), "2", ["1", "3", "4", "2"], ":end"),
        (lambda f: f.move_before("2", "4"), "4", ["1", "4", "2", "3"], ":2"),
        (lambda f: f.move_after("3", "1"), "1", ["2", "3", "1", "4"], "3:"),
        (lambda f: f.move("begin:", "4"), "4", ["4", "1", "2", "3"], "begin:"),
        (lambda f: f.move(":end", "1"), "1", ["2", "3", "4", "1"], ":end"),
        (lambda f: f.move(":1", "3"), "3", ["3", "1", "2", "4"], ":1"),
        (lambda f: f.move("4:", "2"), "2", ["1", "3", "4", "2"], "4:"),
        (lambda f: f.move_first("1"), "1", ["1", "2", "3", "4"], "begin:"),
        (lambda f: f.move_after("1", "2"), "2", ["1", "2", "3", "4"], "1:"),
        (lambda f: f.move_before("4", "3"), "3", ["1", "2", "3", "4"], ":4"),
    ],
)
async def test_moves(
    thoonk: AsyncThoonk,
    notices: Notices,
    redis_client: aioredis.Redis,
    move: Any,
    moved: str,
    order: list[str],
    position: str,
) -> None:
    feed = await open_feed(thoonk)
    await feed.append_many(["a", "b", "c", "d"])
    await notices.take(8)
    await move(feed)
    assert await feed.get_ids() == order
    await feed.retract("4")  # sentinel: a move sends exactly one notice
    assert await notices.take(2) == [
        ("position", "s", moved, position),
        ("retract", "s", "4"),
    ]
    assert await feed.get_ids() == [i for i in order if i != "4"]
    # Moves touch neither the items nor the counters.
    assert await feed.get_all() == {"1": "a", "2": "b", "3": "c"}
    assert await redis_client.get(b"feed.publishes:s") == b"4"
    assert await redis_client.get(b"feed.idincr:s") == b"4"


async def test_retract(thoonk: AsyncThoonk, notices: Notices) -> None:
    feed = await open_feed(thoonk)
    await feed.append_many(["a", "b", "c"])
    await notices.take(6)
    await feed.retract("2")
    assert await notices.take(1) == [("retract", "s", "2")]
    assert await feed.get_ids() == ["1", "3"]
    assert await feed.get_item("2") is None
    assert await feed.count() == 2
    with pytest.raises(ItemNotFound):
        await feed.retract("2")
    # Ids are never reused.
    assert await feed.append("d") == "4"


async def test_failed_insert_consumes_no_id(thoonk: AsyncThoonk) -> None:
    feed = await open_feed(thoonk)
    await feed.append("a")
    with pytest.raises(ItemNotFound) as caught:
        await feed.publish_before("42", "x")
    assert caught.value.item_id == "42"
    with pytest.raises(ItemNotFound):
        await feed.publish_after("43", "x")
    assert await feed.append("b") == "2"


async def test_json_codec_and_reads_of_empty_feed(thoonk: AsyncThoonk) -> None:
    feed = await thoonk.sorted_feed("j", codec=JSON)
    assert await feed.get_ids() == []
    assert await feed.get_all() == {}
    assert await feed.count() == 0
    first = await feed.append({"n": 1})
    await feed.prepend([1, 2])
    await feed.edit(first, {"n": 2})
    assert await feed.get_all() == {"2": [1, 2], "1": {"n": 2}}


async def test_reopen_sees_same_feed(thoonk: AsyncThoonk) -> None:
    feed = await open_feed(thoonk)
    await feed.append("a")
    again = await open_feed(thoonk)
    assert await again.append("b") == "2"
    assert await feed.get_ids() == ["1", "2"]


async def test_concurrent_appends_from_separate_clients(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    workers, per_worker = 8, 200

    async def worker(number: int) -> list[str]:
        async with AsyncThoonk.from_url(redis_server.url) as client:
            feed = await client.sorted_feed("busy")
            return [await feed.append(f"w{number}-{i}") for i in range(per_worker)]

    results = await asyncio.gather(*(worker(n) for n in range(workers)))
    every = [i for ids in results for i in ids]
    assert len(every) == len(set(every)) == workers * per_worker
    assert set(every) == {str(n) for n in range(1, workers * per_worker + 1)}
    assert await redis_client.llen(b"feed.ids:busy") == workers * per_worker
    assert await redis_client.hlen(b"feed.items:busy") == workers * per_worker
    assert await redis_client.get(b"feed.idincr:busy") == b"1600"
    assert await redis_client.get(b"feed.publishes:busy") == b"1600"
    stored = [i.decode() for i in blist(await redis_client.lrange(b"feed.ids:busy", 0, -1))]
    assert sorted(stored, key=int) == sorted(every, key=int)
    # Each worker appended one at a time, so its own items keep their order.
    for ids in results:
        mine = set(ids)
        assert [i for i in stored if i in mine] == ids
    items = await redis_client.hgetall(b"feed.items:busy")
    for number, ids in enumerate(results):
        assert [items[i.encode()] for i in ids] == [
            f"w{number}-{n}".encode() for n in range(per_worker)
        ]
