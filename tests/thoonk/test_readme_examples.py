"""The Thoonk README (``shared/reference/thoonk-readme.txt``), example by example.

Each example runs as written there, with the blocking client and only the import
changed (``from thoonk_xmpp.thoonk import Thoonk``), and is checked for the meaning
the README gives it.  A "worker" is another thread, or a second client; the
asyncio twin walks the same examples in test_readme_examples_async.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from tests.dbstate import snapshot_blocking
from thoonk_xmpp.thoonk import Empty, InvalidFeedConfig, Thoonk
from tools.localservers import RedisServer

from .readme_tools import blocked_in, foreign_finish, subscribers


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def thoonk(redis_server: RedisServer, raw: redis.Redis) -> Iterator[Thoonk]:
    host, port, db = "127.0.0.1", redis_server.port, 0
    pubsub = Thoonk(host, port, db, listen=True)  # "Using Thoonk"
    try:
        yield pubsub
    finally:
        pubsub.close()


class Heard:
    """Handler calls (made in the client's loop thread), waited for by the test thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._cond = threading.Condition()

    def handler(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            with self._cond:
                self.calls.append((name, *args))
                self._cond.notify_all()

        return record

    def wait(self, count: int) -> list[tuple[Any, ...]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.calls) >= count, 10), self.calls
            return list(self.calls)


def in_thread(work: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``work`` in a new thread; the returned function joins it and gives its outcome."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the test thread below
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()

    def join() -> Any:
        thread.join(30)
        assert not thread.is_alive() and outcome, "the thread never finished"
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    return join


# --- Creating and configuring a feed --------------------------------------------------


def test_creating_opening_and_configuring(thoonk: Thoonk, raw: redis.Redis) -> None:
    feed_name = "news"
    thoonk.create_feed(feed_name, {"max_length": 50})
    assert thoonk.get_config(feed_name) == {"type": "feed", "max_length": "50"}
    test_feed = thoonk.feed(feed_name)
    test_queue = thoonk.queue("queue name")
    test_job = thoonk.job("job channel name")
    test_list = thoonk.list("list name")
    # a "list" is what later became the sorted feed: manually ordered items
    assert test_list.append("b") == "1" and test_list.prepend("a") == "2"
    assert test_list.get_ids() == ["2", "1"]
    assert [thoonk.feed_type(n).value for n in thoonk.get_feeds()] == [
        "job",
        "sorted_feed",
        "feed",
        "queue",
    ]
    assert test_feed.name == feed_name and test_queue.count() == test_job.count() == 0

    json_config = '{"max_length": 3}'
    thoonk.set_config(feed_name, json_config)
    assert thoonk.get_config(feed_name) == {"type": "feed", "max_length": "3"}
    for n in range(5):
        test_feed.publish(f"item {n}", id=str(n))
    assert test_feed.get_ids() == ["2", "3", "4"]


@pytest.mark.parametrize(
    "bad",
    ['{"max_length": 3', '["max_length", 3]', '{"max_length": 0}', '{"title": {"a": 1}}'],
)
def test_a_bad_json_config_is_refused(thoonk: Thoonk, raw: redis.Redis, bad: str) -> None:
    thoonk.create_feed("news", {"max_length": 50})
    before = snapshot_blocking(raw)
    with pytest.raises(InvalidFeedConfig):
        thoonk.set_config("news", bad)
    with pytest.raises(InvalidFeedConfig):
        thoonk.create_feed("other", bad)
    assert snapshot_blocking(raw) == before


# --- Subscribing to a feed ---------------------------------------------------------------


def test_handlers_hear_this_clients_own_actions(thoonk: Thoonk) -> None:
    heard = Heard()
    thoonk.register_handler("create_notice", heard.handler("create"))
    thoonk.register_handler("delete_notice", heard.handler("delete"))
    thoonk.register_handler("publish_notice", heard.handler("publish"))
    thoonk.register_handler("retract_notice", heard.handler("retract"))
    feed = thoonk.feed("test_feed")
    feed.publish("item contents", id="optional id")
    feed.retract("optional id")
    thoonk.delete_feed("test_feed")
    assert heard.wait(4) == [
        ("create", "test_feed"),
        ("publish", "test_feed", "item contents", "optional id"),
        ("retract", "test_feed", "optional id"),
        ("delete", "test_feed"),
    ]


# --- Using a feed ------------------------------------------------------------------------


def test_using_a_feed(thoonk: Thoonk) -> None:
    feed = thoonk.feed("test_feed")
    feed.publish("item contents", id="optional id")
    generated = feed.publish("no id given")
    feed.publish("third", id="3")
    feed.publish("edited", id="optional id")  # an edit moves the item to the end
    feed.retract("3")
    item_ids = feed.get_ids()
    assert item_ids == [generated, "optional id"]
    items = feed.get_all()
    assert items == {generated: "no id given", "optional id": "edited"}
    in_order = [items[id] for id in feed.get_ids()]
    assert in_order == ["no id given", "edited"]
    assert feed.get_item("optional id") == "edited"


# --- Using a sorted feed -----------------------------------------------------------------


def test_using_a_sorted_feed(thoonk: Thoonk) -> None:
    sorted_feed = thoonk.sorted_feed("sortedfeed_name")
    first = sorted_feed.prepend("new first item")
    last = sorted_feed.append("new last item")
    another = sorted_feed.publish("another new last item")
    before = sorted_feed.publish_before(last, "new item")
    after = sorted_feed.publish_after(last, "new item")
    assert sorted_feed.get_ids() == [first, before, last, after, another]
    sorted_feed.move_first(another)
    sorted_feed.move_last(first)
    sorted_feed.move_before(last, first)
    sorted_feed.move_after(last, before)
    assert sorted_feed.get_ids() == [another, first, last, before, after]
    sorted_feed.move(f":{another}", after)
    sorted_feed.move(f"{another}:", last)
    sorted_feed.move("begin:", before)
    sorted_feed.move(":end", another)
    assert sorted_feed.get_ids() == [before, after, last, first, another]


# --- Using a queue -----------------------------------------------------------------------


def test_using_a_queue(thoonk: Thoonk, raw: redis.Redis) -> None:
    queue = thoonk.queue("queue_feed")
    queue.put("normal item")
    queue.put("priority item", priority=queue.HIGH)
    item = queue.get()
    timed_item = queue.get(timeout=5)
    assert (item, timed_item) == ("priority item", "normal item")
    with pytest.raises(Empty):
        queue.get(timeout=0.05)
    with pytest.raises(Empty):  # the spelling that does not wait
        queue.get(block=False)
    # thoonk.py: timeout=0 waits as long as it takes (BRPOP 0)
    waited = in_thread(lambda: queue.get(timeout=0))
    blocked_in(raw, "blmove")
    queue.put("worth the wait")
    assert waited() == "worth the wait"


# --- Using a job feed --------------------------------------------------------------------


def test_publishing_claiming_cancelling_stalling_retrying_retracting(thoonk: Thoonk) -> None:
    job = thoonk.job("job_feed")
    normal = job.put("job contents")
    urgent = job.put("priority job", priority=job.HIGH)
    data = job.get()
    timed_data = job.get(timeout=5)
    assert data == (urgent, "priority job", 0) and timed_data == (normal, "job contents", 0)
    job.cancel(urgent)  # back in the queue, for another worker
    assert job.get_available_ids() == [urgent] and job.get_failure_count(urgent) == 1
    job.stall(normal)
    assert job.get_stalled_ids() == [normal]
    job.retry(normal)
    assert job.get_available_ids() == [urgent, normal]
    job.retract(urgent)
    assert job.get_ids() == [normal]
    assert job.get(block=False).id == normal
    with pytest.raises(Empty):
        job.get(block=False)


def test_claiming_with_timeout_0_waits_for_a_job(thoonk: Thoonk, raw: redis.Redis) -> None:
    job = thoonk.job("job_feed")
    waited = in_thread(lambda: job.get(timeout=0))
    blocked_in(raw, "blmove")
    job_id = job.put("late job")
    assert waited() == (job_id, "late job", 0)


def test_finishing_a_job_three_ways_and_checking_results(thoonk: Thoonk, raw: redis.Redis) -> None:
    job = thoonk.job("job_feed")
    plain, with_result, short_lived = (job.put(f"query {n}") for n in range(3))
    for _ in range(3):
        job.get()
    heard = Heard()
    thoonk.register_handler("finish", heard.handler("finish"))
    job.finish(plain)
    job.finish(with_result, "result contents", result=True)
    job.finish(short_lived, "result contents", result=True, timeout=5)
    assert heard.wait(2) == [
        ("finish", "job_feed", with_result, "result contents"),
        ("finish", "job_feed", short_lived, "result contents"),
    ]
    query, result = job.get_result(with_result, timeout=5)
    assert (query, result) == ("query 1", "result contents")
    assert job.get_result(short_lived, timeout=5) == ("query 2", "result contents")
    ttl = raw.pttl(b"thoonkx.job.result:job_feed\x00" + short_lived.encode())
    assert 0 < ttl <= 5000
    with pytest.raises(Empty):  # finished without a result: there is none to get
        job.get_result(plain, timeout=0.05)
    assert job.count() == 0


def test_finish_spellings_of_thoonk_py(thoonk: Thoonk, raw: redis.Redis) -> None:
    job = thoonk.job("j")
    ids = [job.put(f"q{n}") for n in range(4)]
    for _ in ids:
        job.get()
    job.finish(ids[0], "positional")  # thoonk.py 1.0.1.0
    job.finish(ids[1], result="keyword")
    job.finish(ids[2], "flag off", result=False)  # README's flag: no result
    before = snapshot_blocking(raw)
    with pytest.raises(TypeError, match="flag True or False"):
        job.finish(ids[3], "value", result="another value")
    assert snapshot_blocking(raw) == before
    assert job.get_result(ids[0], block=False) == ("q0", "positional")
    assert job.get_result(ids[1], block=False) == ("q1", "keyword")
    with pytest.raises(Empty):
        job.get_result(ids[2], block=False)


def test_get_result_waits_for_a_worker_of_ours_in_another_thread(
    thoonk: Thoonk, redis_server: RedisServer, raw: redis.Redis
) -> None:
    job = thoonk.job("job_feed")
    job_id = job.put("6 * 7")
    waiting = in_thread(lambda: job.get_result(job_id, timeout=15))
    subscribers(raw, b"job.finish:job_feed", 1)
    with Thoonk.from_url(redis_server.url) as elsewhere:
        worker = elsewhere.job("job_feed")
        claimed_id, query, _ = worker.get(timeout=5)
        assert query == "6 * 7"
        worker.finish(claimed_id, "42", result=True)
    assert waiting() == ("6 * 7", "42")


def test_get_result_hears_a_worker_that_only_announces_the_result(
    thoonk: Thoonk, raw: redis.Redis
) -> None:
    """thoonk.js and thoonk.py workers store no result: it exists only as the notice."""
    job = thoonk.job("job_feed")
    job_id = job.put("6 * 7")
    waiting = in_thread(lambda: job.get_result(job_id, timeout=15))
    subscribers(raw, b"job.finish:job_feed", 1)
    foreign_finish(raw, "job_feed", job_id, b"42")
    assert waiting() == ("6 * 7", "42")
    assert job.count() == 0
