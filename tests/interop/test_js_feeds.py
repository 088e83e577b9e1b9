"""Registry, plain feeds and sorted feeds shared with the original thoonk.js 0.5.5.

Each side writes; the other reads the data back and reports the notices its handlers
received. thoonk.js calls back ``publish``/``edit`` with ``(feed, id, item)`` (thoonk.py
and ours: ``(feed, item, id)``) and gives notices only for feeds a client subscribed.

Where thoonk.js differs from thoonk.py (contract 3, 4, 5, 11), exercised on purpose:

- it splits a notice at *every* NUL and keeps the second piece, so an item holding a
  NUL reaches its handlers cut short (the stored item is intact);
- its ids are dashed UUIDs (36 characters; thoonk.py and ours: 32 hex digits);
- opening a feed that does not exist creates it (newfeed + conffeed, like our create);
- retracting an unknown id still publishes a retract notice, which our listener reports;
- with ``max_length`` M its trim takes the oldest M-1 entries *including* the id being
  published, so an edit of the oldest item of a full feed reaches listeners as a
  retract followed by a publish, not an edit;
- ``getAll`` is a list in feed order (thoonk.py: an unordered dict);
- its feed publish scores the id with its own ``Date.now()``, nothing else: an item it
  publishes in the same millisecond as another sorts by the ids' bytes, and one published
  while our scores run ahead of the clock (ours are strictly increasing, so a burst of
  publishes takes newest + 1) sorts *before* ours. Only a thoonk.js publish made once the
  clock has passed our newest score is sure to come after it, so a test that checks the
  order of mixed publishes waits for that; ids thoonk.js publishes back to back are
  chosen in byte order;
- a sorted-feed edit goes on ``feed.edit`` (thoonk.py: ``feed.publish``), which our
  listener reports as an edit; our sorted edits go on ``feed.publish``, which thoonk.js
  reports as a publish (no position notice follows it);
- a sorted-feed publish may carry the caller's id (the counter still moves);
- deleting a feed removes six fixed keys whatever its type: a job's ``feed.published``
  and ``feed.claimed`` stay behind.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from tests.thoonk.dbtools import Recorder
from thoonk_xmpp.thoonk import AsyncThoonk
from tools.thoonkjs import CB, JsPeer


def recorder(thoonk: AsyncThoonk, *kinds: str) -> Recorder:
    rec = Recorder()
    for kind in kinds:
        thoonk.register_handler(kind, rec.handler(kind))
    return rec


async def ok(js: JsPeer, kind: str, name: str, method: str, *args: Any) -> Any:
    """A thoonk.js call whose callback is ``(error, value...)``: the values, error null."""
    error, *values = await js.call(kind, name, method, *args, CB)
    assert error is None, error
    return values[0] if len(values) == 1 else values


async def clock_passed(redis_client: aioredis.Redis, score_ms: int) -> None:
    """Wait until the machine's clock (Redis TIME; node reads the same) is past ``score_ms``."""
    while True:
        seconds, micros = await redis_client.time()
        if seconds * 1000 + micros // 1000 > score_ms:
            return
        await asyncio.sleep(0.001)


# --- registry -----------------------------------------------------------------------------


async def test_registry_ours_to_js(js: JsPeer, thoonk: AsyncThoonk) -> None:
    await thoonk.create_feed("made", {"max_length": 5})
    await thoonk.create_feed("q", {"type": "queue"})
    assert await js.notices(4) == [
        ["create", "made"],
        ["config", "made"],
        ["create", "q"],
        ["config", "q"],
    ]
    (names,) = await js.thoonk("getFeedNames", CB)  # thoonk.js calls back (names) only
    assert sorted(names) == ["made", "q"]
    assert await js.thoonk("exists", "made", CB, CB) == [1]
    await thoonk.set_config("made", {"max_length": 7})
    assert await js.notices(1) == [["config", "made"]]
    await thoonk.delete_feed("made")
    assert await js.notices(1) == [["delete", "made"]]
    assert await js.thoonk("exists", "made", CB, CB) == [0]
    assert await js.no_more_notices() == []


async def test_registry_js_to_ours(
    js: JsPeer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    rec = recorder(thoonk, "create", "config", "delete")
    await js.thoonk("create", "jj", {"type": "job", "title": "Jobs"}, until="ready:jj")
    assert await rec.wait_for(2) == [("create", "jj"), ("config", "jj")]
    assert await thoonk.get_config("jj") == {"type": "job", "title": "Jobs"}
    assert await thoonk.get_feeds() == ["jj"]
    # Like thoonk.py, a config update without `type` makes it a plain feed (contract 3).
    await js.thoonk("setConfig", "jj", {"title": "Renamed"}, until="ready:jj")
    assert await rec.wait_for(3) == [("create", "jj"), ("config", "jj"), ("config", "jj")]
    assert await thoonk.get_config("jj") == {"type": "feed", "title": "Renamed"}
    await js.thoonk("setConfig", "jj", {"type": "job"}, until="ready:jj")
    job = await thoonk.job("jj")
    await job.put("claimed when deleted")
    await job.get(timeout=1)
    assert await js.call("feed", "jj", "del", CB) == ["Success", "jj"]
    assert await rec.wait_for(5) == [
        ("create", "jj"),
        ("config", "jj"),
        ("config", "jj"),
        ("config", "jj"),
        ("delete", "jj"),
    ]
    assert not await thoonk.feed_exists("jj")
    # thoonk.js deletes a fixed list of keys: a job's other keys stay behind.
    assert sorted(await redis_client.keys("*")) == [b"feed.claimed:jj", b"feed.published:jj"]


# --- plain feed ---------------------------------------------------------------------------


async def test_feed_ours_to_js(
    js: JsPeer, thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    feed = await thoonk.feed("news", {"max_length": 2})
    await js.subscribe("feed", "news")
    assert await js.notices(2) == [["create", "news"], ["config", "news"]]
    a = await feed.publish("one")
    await feed.publish("two\x00with nul", id="b")
    await feed.publish("one edited", id=a)
    await feed.publish("three", id="c")  # trims b, the oldest after the edit
    await feed.retract(a)
    await feed.publish("four", id="d")
    assert await js.notices(7) == [
        ["publish", "news", a, "one"],
        ["publish", "news", "b", "two"],  # thoonk.js cuts the item at its NUL
        ["edit", "news", a, "one edited"],
        ["retract", "news", "b"],
        ["publish", "news", "c", "three"],
        ["retract", "news", a],
        ["publish", "news", "d", "four"],
    ]
    assert await ok(js, "feed", "news", "getIds") == ["c", "d"]
    assert await ok(js, "feed", "news", "getItem", "d") == "four"
    assert await ok(js, "feed", "news", "getAll") == [
        {"id": "c", "item": "three"},
        {"id": "d", "item": "four"},
    ]
    assert await ok(js, "feed", "news", "hasId", "c") is True
    # thoonk.js publishing into our feed honours our max_length, with its own ids. It
    # scores by Date.now() alone: only once the clock is past d's score (ours may run a
    # few ms ahead after a burst) is its item sure to sort after d, not by its random id.
    d_score = await feed.published_ms("d")
    assert d_score is not None
    await clock_passed(redis_client, d_score)
    item, js_id = await ok(js, "feed", "news", "publish", "from js", None)
    assert (item, len(js_id), js_id.count("-")) == ("from js", 36, 4)
    assert await feed.get_ids() == ["d", js_id]
    assert await feed.get_item(js_id) == "from js"
    assert await js.no_more_notices() == [
        ["retract", "news", "c"],
        ["publish", "news", js_id, "from js"],
    ]


async def test_feed_js_to_ours(js: JsPeer, thoonk: AsyncThoonk) -> None:
    rec = recorder(thoonk, "create", "config", "publish", "edit", "retract")
    await js.open("feed", "jf")  # creates it
    await ok(js, "feed", "jf", "publish", "a", "1")
    await ok(js, "feed", "jf", "publish", "b\x00c", "2")
    await ok(js, "feed", "jf", "publish", "a edited", "1")
    await ok(js, "feed", "jf", "retract", "2")
    await ok(js, "feed", "jf", "retract", "unknown")  # still announced by thoonk.js
    assert await rec.wait_for(7) == [
        ("create", "jf"),
        ("config", "jf"),
        ("publish", "jf", "a", "1"),
        ("publish", "jf", "b\x00c", "2"),  # we split at the first NUL only
        ("edit", "jf", "a edited", "1"),
        ("retract", "jf", "2"),
        ("retract", "jf", "unknown"),
    ]
    feed = await thoonk.feed("jf")
    assert await feed.get_all() == {"1": "a edited"}
    await feed.publish("ours", id="9")
    assert await ok(js, "feed", "jf", "getIds") == ["1", "9"]
    assert await ok(js, "feed", "jf", "getItem", "9") == "ours"


async def test_feed_js_trims_with_our_config(js: JsPeer, thoonk: AsyncThoonk) -> None:
    rec = recorder(thoonk, "publish", "edit", "retract")
    feed = await thoonk.feed("bounded", {"max_length": 2})
    # Ids in byte order: publishes in one millisecond tie in thoonk.js's scores (see above).
    for n in ("1", "2", "3"):
        await ok(js, "feed", "bounded", "publish", f"i{n}", n)
    assert await feed.get_ids() == ["2", "3"]
    # An edit of the oldest item of a full feed: thoonk.js trims the id it publishes.
    await ok(js, "feed", "bounded", "publish", "i2 edited", "2")
    assert await rec.wait_for(6) == [
        ("publish", "bounded", "i1", "1"),
        ("publish", "bounded", "i2", "2"),
        ("retract", "bounded", "1"),
        ("publish", "bounded", "i3", "3"),
        ("retract", "bounded", "2"),
        ("publish", "bounded", "i2 edited", "2"),
    ]
    assert await feed.get_all() == {"3": "i3", "2": "i2 edited"}


# --- sorted feed ---------------------------------------------------------------------------


async def test_sorted_feed_ours_to_js(js: JsPeer, thoonk: AsyncThoonk) -> None:
    s = await thoonk.sorted_feed("s")
    await js.subscribe("sortedFeed", "s")
    assert await js.notices(2) == [["create", "s"], ["config", "s"]]
    one = await s.append("one")
    two = await s.publish("two")
    zero = await s.prepend("zero")
    half = await s.publish_before(two, "1.5")
    late = await s.publish_after(two, "2.5")
    await s.edit(one, "ONE")  # on feed.publish, as thoonk.py does
    await s.move_first(late)
    await s.move_last(zero)
    await s.move_before(one, two)
    await s.move_after(half, one)
    await s.retract(half)
    assert await js.notices(16) == [
        ["publish", "s", one, "one"],
        ["position", "s", one, ":end"],
        ["publish", "s", two, "two"],
        ["position", "s", two, ":end"],
        ["publish", "s", zero, "zero"],
        ["position", "s", zero, "begin:"],
        ["publish", "s", half, "1.5"],
        ["position", "s", half, f":{two}"],
        ["publish", "s", late, "2.5"],
        ["position", "s", late, f"{two}:"],
        ["publish", "s", one, "ONE"],
        ["position", "s", late, "begin:"],
        ["position", "s", zero, ":end"],
        ["position", "s", two, f":{one}"],
        ["position", "s", one, f"{half}:"],
        ["retract", "s", half],
    ]
    assert await ok(js, "sortedFeed", "s", "getIds") == [late, two, one, zero]
    assert await ok(js, "sortedFeed", "s", "getAll") == [
        {"id": late, "item": "2.5"},
        {"id": two, "item": "two"},
        {"id": one, "item": "ONE"},
        {"id": zero, "item": "zero"},
    ]
    # thoonk.js appends after our ids, from the same counter (its ids are numbers).
    assert await ok(js, "sortedFeed", "s", "publish", "from js", None) == ["from js", 6]
    assert await s.get_ids() == [late, two, one, zero, "6"]


async def test_sorted_feed_js_to_ours(js: JsPeer, thoonk: AsyncThoonk) -> None:
    rec = recorder(thoonk, "create", "publish", "edit", "position", "retract")

    async def js_s(method: str, *args: Any) -> Any:
        return await ok(js, "sortedFeed", "js", method, *args)

    _, a = await js_s("publish", "a", None)
    _, b = await js_s("prepend", "b", None)
    _, c = await js_s("publishBefore", "c", a)
    _, d = await js_s("publishAfter", "d", a)
    _, given = await js_s("publish", "given", "g")  # a caller's id; the counter still moves
    await js_s("edit", "A", a)  # on feed.edit
    await js_s("moveBegin", d)
    await js_s("moveEnd", b)
    await js_s("moveBefore", a, c)
    await js_s("retract", c)
    assert [a, b, c, d, given] == [1, 2, 3, 4, "g"]
    error, *_ = await js.call("sortedFeed", "js", "moveAfter", given, given, CB)
    assert error == "NoChange"  # thoonk.js refuses a move relative to the item itself
    a, b, c, d = "1", "2", "3", "4"
    assert await rec.wait_for(16) == [
        ("create", "js"),
        ("publish", "js", "a", a),
        ("position", "js", a, ":end"),
        ("publish", "js", "b", b),
        ("position", "js", b, "begin:"),
        ("publish", "js", "c", c),
        ("position", "js", c, f":{a}"),
        ("publish", "js", "d", d),
        ("position", "js", d, f"{a}:"),
        ("publish", "js", "given", "g"),
        ("position", "js", "g", ":end"),
        ("edit", "js", "A", a),
        ("position", "js", d, "begin:"),
        ("position", "js", b, ":end"),
        ("position", "js", a, f":{c}"),
        ("retract", "js", c),
    ]
    ours = await thoonk.sorted_feed("js")
    assert list(await ours.get_all()) == [d, a, "g", b]
    assert await ours.get_all() == {d: "d", a: "A", "g": "given", b: "b"}
    six = await ours.publish_after(a, "ours")
    assert six == "6"
    assert await ok(js, "sortedFeed", "js", "getIds") == [d, a, six, "g", b]
