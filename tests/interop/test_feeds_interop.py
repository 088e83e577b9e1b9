"""Registry, plain feeds and sorted feeds shared with thoonk.py 1.0.1.0, both directions.

Each side writes; the other reads the data back and reports the notices its
handlers received (thoonk.py: ``publish(feed, item, id)``, ``edit(feed, item,
id)``, ``retract(feed, id)``, ``position(feed, id, rel)``; ours the same order).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from tests.dbstate import snapshot
from tests.thoonk.dbtools import Recorder
from thoonk_xmpp.thoonk import AsyncThoonk

from .conftest import PeerFactory, Py2Peer


def recorder(thoonk: AsyncThoonk, *kinds: str) -> Recorder:
    rec = Recorder()
    for kind in kinds:
        thoonk.register_handler(kind, rec.handler(kind))
    return rec


# --- registry -----------------------------------------------------------------------


async def test_registry_ours_to_py2(py2: Py2Peer, thoonk: AsyncThoonk) -> None:
    await thoonk.create_feed("made", {"max_length": 5})
    await thoonk.create_feed("q", {"type": "queue"})
    assert await py2.notices(2) == [["create", "made"], ["create", "q"]]
    assert await py2.thoonk("get_feed_names") == ["made", "q"]
    assert await py2.thoonk("feed_exists", "made") is True
    await thoonk.delete_feed("made")
    assert await py2.notices(1) == [["delete", "made"]]
    assert await py2.thoonk("feed_exists", "made") is False


async def test_registry_py2_to_ours(
    py2: Py2Peer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    rec = recorder(thoonk, "create", "config", "delete")
    await py2.thoonk("create_feed", "pj", {"type": "job", "title": "Jobs"})
    assert await rec.wait_for(2) == [("create", "pj"), ("config", "pj")]
    assert await thoonk.get_config("pj") == {"type": "job", "title": "Jobs"}
    assert await thoonk.get_feeds() == ["pj"]
    # thoonk.py's set_config without `type` silently makes it a `feed` (contract 3):
    await py2.thoonk("set_config", "pj", {"title": "Renamed"})
    assert await rec.wait_for(3) == [("create", "pj"), ("config", "pj"), ("config", "pj")]
    assert (await thoonk.get_config("pj"))["type"] == "feed"
    job = await thoonk.job("pj")  # tolerated: its feed.ids is not a zset
    await job.put("still works")
    assert await job.count() == 1
    await py2.thoonk("delete_feed", "pj")
    assert await rec.wait_for(4) == [
        ("create", "pj"),
        ("config", "pj"),
        ("config", "pj"),
        ("delete", "pj"),
    ]
    assert not await thoonk.feed_exists("pj")


async def test_py2_deletes_our_sorted_feed(
    py2: Py2Peer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    s = await thoonk.sorted_feed("s")
    await s.append("x")
    await py2.thoonk("delete_feed", "s")
    assert await snapshot(redis_client) == {}


# --- plain feed ----------------------------------------------------------------------


async def test_feed_ours_to_py2(py2: Py2Peer, thoonk: AsyncThoonk) -> None:
    feed = await thoonk.feed("news", {"max_length": 2})
    assert await py2.notices(1) == [["create", "news"]]
    await py2.subscribed("news")
    a = await feed.publish("one")
    await feed.publish("two\x00with nul", id="b")
    await feed.publish("one edited", id=a)
    await feed.publish("three", id="c")  # trims b, the oldest after the edit
    await feed.retract(a)
    assert await py2.notices(6) == [
        ["publish", "news", "one", a],
        ["publish", "news", "two\x00with nul", "b"],
        ["edit", "news", "one edited", a],
        ["retract", "news", "b"],
        ["publish", "news", "three", "c"],
        ["retract", "news", a],
    ]
    await feed.publish("four", id="d")
    assert await py2.call("feed", "news", "get_ids") == ["c", "d"]
    assert await py2.call("feed", "news", "get_item", "d") == "four"
    assert await py2.call("feed", "news", "get_all") == {"c": "three", "d": "four"}
    # thoonk.py publishing into our feed honours our max_length.
    py_id = await py2.call("feed", "news", "publish", "from py2")
    assert len(py_id) == 32
    # Its score is in seconds, so it sorts before our millisecond scores.
    assert await feed.get_ids() == [py_id, "d"]
    assert await feed.get_item(py_id) == "from py2"
    assert await py2.no_more_notices() == [
        ["publish", "news", "four", "d"],
        ["retract", "news", "c"],
        ["publish", "news", "from py2", py_id],
    ]


async def test_feed_py2_to_ours(py2: Py2Peer, thoonk: AsyncThoonk) -> None:
    rec = recorder(thoonk, "create", "publish", "edit", "retract")
    await py2.thoonk("create_feed", "pf", {"type": "feed"})
    await py2.call("feed", "pf", "publish", "a", id="1")
    await py2.call("feed", "pf", "publish", "b\x00c", id="2")
    await py2.call("feed", "pf", "publish", "a edited", id="1")
    await py2.call("feed", "pf", "retract", "2")
    await py2.call("feed", "pf", "retract", "unknown")  # a silent no-op in thoonk.py
    assert await rec.wait_for(5) == [
        ("create", "pf"),
        ("publish", "pf", "a", "1"),
        ("publish", "pf", "b\x00c", "2"),
        ("edit", "pf", "a edited", "1"),
        ("retract", "pf", "2"),
    ]
    feed = await thoonk.feed("pf")
    assert await feed.get_all() == {"1": "a edited"}
    await feed.publish("ours", id="9")
    assert await feed.get_ids() == ["1", "9"]
    assert await py2.call("feed", "pf", "get_ids") == ["1", "9"]


async def test_feed_py2_trims_with_our_config(py2: Py2Peer, thoonk: AsyncThoonk) -> None:
    rec = recorder(thoonk, "publish", "retract")
    await thoonk.create_feed("bounded", {"max_length": 2})
    for n in ("1", "2", "3"):  # ids sort like their publish order: thoonk.py's
        await py2.call("feed", "bounded", "publish", f"i{n}", id=n)  # 10 ms scores may tie
    assert await rec.wait_for(4) == [
        ("publish", "bounded", "i1", "1"),
        ("publish", "bounded", "i2", "2"),
        ("retract", "bounded", "1"),
        ("publish", "bounded", "i3", "3"),
    ]
    feed = await thoonk.feed("bounded")
    assert await feed.get_ids() == ["2", "3"]


# --- sorted feed -------------------------------------------------------------------


async def test_sorted_feed_ours_to_py2(py2: Py2Peer, thoonk: AsyncThoonk) -> None:
    s = await thoonk.sorted_feed("s")
    assert await py2.notices(1) == [["create", "s"]]
    await py2.subscribed("s")
    one = await s.append("one")
    two = await s.publish("two")
    zero = await s.prepend("zero")
    half = await s.publish_before(two, "1.5")
    late = await s.publish_after(two, "2.5")
    await s.edit(one, "ONE")  # sent on feed.publish, as thoonk.py does
    await s.move_first(late)
    await s.move_last(zero)
    await s.move_before(one, two)
    await s.move_after(half, one)
    await s.retract(half)
    assert await py2.notices(16) == [
        ["publish", "s", "one", one],
        ["position", "s", one, ":end"],
        ["publish", "s", "two", two],
        ["position", "s", two, ":end"],
        ["publish", "s", "zero", zero],
        ["position", "s", zero, "begin:"],
        ["publish", "s", "1.5", half],
        ["position", "s", half, f":{two}"],
        ["publish", "s", "2.5", late],
        ["position", "s", late, f"{two}:"],
        ["publish", "s", "ONE", one],
        ["position", "s", late, "begin:"],
        ["position", "s", zero, ":end"],
        ["position", "s", two, f":{one}"],
        ["position", "s", one, f"{half}:"],
        ["retract", "s", half],
    ]
    assert await py2.call("sorted_feed", "s", "get_ids") == [late, two, one, zero]
    assert await py2.call("sorted_feed", "s", "get_item", one) == "ONE"
    # thoonk.py appends after our ids, from the same counter.
    assert await py2.call("sorted_feed", "s", "append", "from py2") == 6
    assert await s.get_ids() == [late, two, one, zero, "6"]


async def test_sorted_feed_py2_to_ours(py2: Py2Peer, thoonk: AsyncThoonk) -> None:
    rec = recorder(thoonk, "create", "publish", "edit", "position", "retract")

    async def py(method: str, *args: str) -> str:
        return str(await py2.call("sorted_feed", "ps", method, *args))

    a = await py("append", "a")
    b = await py("prepend", "b")
    c = await py("publish_before", a, "c")
    d = await py("publish_after", a, "d")
    await py("edit", a, "A")
    await py("move_first", d)
    await py("move_last", b)
    await py("move", f":{c}", a)
    await py("retract", c)
    assert [a, b, c, d] == ["1", "2", "3", "4"]
    assert await rec.wait_for(14) == [
        ("create", "ps"),
        ("publish", "ps", "a", a),
        ("position", "ps", a, ":end"),
        ("publish", "ps", "b", b),
        ("position", "ps", b, "begin:"),
        ("publish", "ps", "c", c),
        ("position", "ps", c, f":{a}"),
        ("publish", "ps", "d", d),
        ("position", "ps", d, f"{a}:"),
        # thoonk.py's in-place edit: a publish of an existing id with no position after it
        ("publish", "ps", "A", a),
        ("position", "ps", d, "begin:"),
        ("position", "ps", b, ":end"),
        ("position", "ps", a, f":{c}"),
        ("retract", "ps", c),
    ]
    ours = await thoonk.sorted_feed("ps")
    assert await ours.get_all() == {d: "d", a: "A", b: "b"}
    assert list(await ours.get_all()) == [d, a, b]
    await ours.publish_after(a, "ours")
    assert await py2.call("sorted_feed", "ps", "get_ids") == [d, a, "5", b]


async def test_py2_listener_started_after_creation(
    py2_factory: PeerFactory, thoonk: AsyncThoonk
) -> None:
    # A thoonk.py listener subscribes the get_channels() of objects that exist when
    # it starts: publish/retract/position for a sorted feed (no feed.edit, which is
    # why our sorted edits go on feed.publish), and for a job the key-named
    # channels, so our job put is reported to it as a "publish" (contract 8).
    s = await thoonk.sorted_feed("s")
    job = await thoonk.job("j")
    late = await py2_factory()
    one = await s.append("one")
    await s.edit(one, "ONE")
    job_id = await job.put("task")
    claimed = await job.get(timeout=1)
    await job.finish(claimed.id, "ok")
    assert await late.notices(5) == [
        ["publish", "s", "one", one],
        ["position", "s", one, ":end"],
        ["publish", "s", "ONE", one],
        ["publish", "j", "task", job_id],
        ["finish", "j", job_id, "ok"],
    ]
