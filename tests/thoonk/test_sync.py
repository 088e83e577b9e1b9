"""The blocking client: thoonk.py's API on top of AsyncThoonk, driven from plain threads."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.dbstate import snapshot_blocking
from thoonk_xmpp.thoonk import (
    BYTES,
    JSON,
    ConnectionLost,
    Empty,
    FeedExists,
    FeedNotFound,
    InvalidFeedConfig,
    ItemNotFound,
    JobNotClaimed,
    WrongFeedType,
    feed,
    job,
    queue,
    sorted_feed,
    sync,
)
from thoonk_xmpp.thoonk.sync import Thoonk
from tools.localservers import RedisServer, free_port


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name == "thoonk-sync"}


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def client(redis_server: RedisServer, raw: redis.Redis) -> Iterator[Thoonk]:
    with Thoonk.from_url(redis_server.url, listen=True) as thoonk:
        yield thoonk


class Calls:
    """Handler calls recorded from the loop thread; wait() blocks the test thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def handler(self, kind: str) -> Any:
        def record(*args: Any) -> None:
            with self._cond:
                self.calls.append((kind, *args))
                self.threads.add(threading.current_thread().name)
                self._cond.notify_all()

        return record

    def wait(self, count: int, timeout: float = 10) -> list[tuple[Any, ...]]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.calls) >= count, timeout):
                pytest.fail(f"only {len(self.calls)} of {count} notices arrived: {self.calls}")
            return list(self.calls)


def test_host_port_constructor(redis_server: RedisServer, raw: redis.Redis) -> None:
    thoonk = Thoonk("127.0.0.1", redis_server.port, 0)
    try:
        thoonk.create_feed("a", {"max_length": 3})
        assert thoonk.get_feeds() == ["a"]
        assert thoonk.feed_exists("a")
        assert thoonk.get_config("a") == {"type": "feed", "max_length": "3"}
        thoonk.set_config("a", {"title": "A"})
        assert raw.hgetall(b"feed.config:a") == {
            b"type": b"feed",
            b"max_length": b"3",
            b"title": b"A",
        }
        thoonk.delete_feed("a")
        assert not thoonk.feed_exists("a")
        assert len(thoonk.instance) == 32
    finally:
        thoonk.close()
    thoonk.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        thoonk.get_feeds()


def test_no_thread_left_behind(redis_server: RedisServer) -> None:
    before = len(_threads())
    with Thoonk.from_url(redis_server.url, listen=True) as thoonk:
        assert len(_threads()) == before + 1
        thoonk.get_feeds()
    assert len(_threads()) == before


def test_unreachable_redis_raises_and_cleans_up() -> None:
    before = len(_threads())
    with pytest.raises(ConnectionLost):
        Thoonk("127.0.0.1", free_port())
    assert len(_threads()) == before


def test_typed_errors_cross_the_thread(client: Thoonk, raw: redis.Redis) -> None:
    client.feed("f").publish("x", id="1")
    before = snapshot_blocking(raw)
    with pytest.raises(FeedExists):
        client.create_feed("f")
    with pytest.raises(FeedNotFound):
        client.delete_feed("nope")
    with pytest.raises(InvalidFeedConfig):
        client.set_config("f", {"max_length": 0})
    with pytest.raises(WrongFeedType):
        client.sorted_feed("f")
    assert snapshot_blocking(raw) == before


def test_feed(client: Thoonk, raw: redis.Redis) -> None:
    calls = Calls()
    for kind in ("publish", "edit", "retract"):
        client.register_handler(kind, calls.handler(kind))
    feed = client.feed("news", {"max_length": 2})
    assert feed.name == "news"
    first = feed.publish("one")
    feed.publish("two", id="b")
    feed.publish("one again", id=first)
    assert feed.get_ids() == ["b", first]
    assert feed.get_all() == {"b": "two", first: "one again"}
    assert feed.get_item(first) == "one again"
    assert feed.has_id("b") and feed.exists()
    assert feed.count() == 2 and feed.rank("b") == 0
    assert feed.get_range(-1, -1) == [(first, "one again")]
    assert feed.publish_many(["x", ("y", "y")])[1] == "y"
    before = snapshot_blocking(raw)
    with pytest.raises(ItemNotFound):
        feed.retract("nope")
    assert snapshot_blocking(raw) == before
    feed.retract("y")
    feed.retract_many([])
    oldest = feed.get_ids()
    feed.publish("p", id="p")
    client.set_config("news", {"max_length": 1})
    assert feed.trim() == oldest and feed.get_ids() == ["p"]
    assert len(feed.purge()) == 1
    assert calls.wait(8)[:3] == [
        ("publish", "news", "one", first),
        ("publish", "news", "two", "b"),
        ("edit", "news", "one again", first),
    ]
    assert calls.threads == {"thoonk-sync"}
    feed.delete_feed()
    assert not client.feed_exists("news")


def test_codecs(client: Thoonk) -> None:
    raw_feed = client.feed("raw", codec=BYTES)
    raw_feed.publish(b"\x00\xff", id="1")
    assert raw_feed.get_item("1") == b"\x00\xff"
    assert raw_feed.codec is BYTES
    doc = client.sorted_feed("doc", codec=JSON)
    doc.append({"a": 1})
    assert doc.get_all() == {"1": {"a": 1}}


def test_sorted_feed(client: Thoonk) -> None:
    calls = Calls()
    client.register_handler("position", calls.handler("position"))
    s = client.sorted_feed("s")
    one = s.append("one")
    two = s.publish("two")
    zero = s.prepend("zero")
    half = s.publish_before(two, "1.5")
    s.publish_after(two, "2.5")
    assert s.append_many(["x", "y"]) == ["6", "7"]
    s.edit(one, "ONE")
    s.move_last(zero)
    s.move_first(zero)
    s.move_before(one, half)
    s.move_after(two, half)
    s.move(":end", one)
    s.retract(one)
    assert s.get_ids() == [zero, two, half, "5", "6", "7"]
    assert s.get_item(zero) == "zero"
    assert s.count() == 6
    assert calls.wait(12)[-1] == ("position", "s", one, ":end")


def test_queue(client: Thoonk) -> None:
    q = client.queue("q")
    q.put("a")
    q.put("b")
    q.put("urgent", priority=q.HIGH)
    assert q.put_many(["c", "d"]) and q.count() == 5
    assert len(q.get_ids()) == 5
    assert [q.get(block=False) for _ in range(5)] == ["urgent", "a", "b", "c", "d"]
    with pytest.raises(Empty):
        q.get(block=False)
    with pytest.raises(Empty):
        q.get(timeout=0.05)


def test_queue_get_blocks_until_another_thread_puts(client: Thoonk) -> None:
    q = client.queue("q")
    got: list[str] = []
    consumer = threading.Thread(target=lambda: got.append(q.get(timeout=30)))
    consumer.start()
    q.put("hello")
    consumer.join(30)
    assert got == ["hello"]


def test_job(client: Thoonk) -> None:
    calls = Calls()
    client.register_handler("finish", calls.handler("finish"))
    job = client.job("work")
    first = job.put("task 1")
    second = job.put("task 2")
    claimed = job.get(timeout=1)
    assert claimed == (first, "task 1", 0)
    job_id, item, failures = job.get(timeout=1)
    assert (job_id, item, failures) == (second, "task 2", 0)
    assert sorted(job.get_claimed_ids()) == sorted([first, second])
    job.cancel(second)
    assert job.get_failure_count(second) == 1
    assert job.get_available_ids() == [second]
    job.finish(first, "done")
    assert calls.wait(1) == [("finish", "work", first, "done")]
    assert job.get_result(first, block=False) == ("task 1", "done")
    assert job.get(block=False).id == second
    job.stall(second)
    assert job.get_stalled_ids() == [second]
    job.retry(second)
    assert job.counts().available == 1
    job.retract(second)
    assert job.count() == 0 and job.get_ids() == []
    with pytest.raises(JobNotClaimed):
        job.finish(second)
    third = job.put("t3", priority=True)
    assert job.get(block=False).id == third
    job.finish(third)  # no result: no notice
    assert job.reap(timeout=60) == [] and job.get_overdue_ids(timeout=60) == []
    assert len(calls.calls) == 1


def test_blocking_call_from_a_handler_is_refused(client: Thoonk) -> None:
    errors: list[BaseException] = []
    done = threading.Event()

    def handler(feed: str, item: str, item_id: str) -> None:
        try:
            client.get_feeds()
        except RuntimeError as exc:
            errors.append(exc)
        done.set()

    client.register_handler("publish", handler)
    client.feed("f").publish("x")
    assert done.wait(10)
    assert "notice handler" in str(errors[0])


def test_register_handler_starts_listening(redis_server: RedisServer, raw: redis.Redis) -> None:
    with Thoonk.from_url(redis_server.url) as quiet:
        assert not quiet.aio.listener.running
        calls = Calls()
        on_create = calls.handler("create")
        quiet.register_handler("create", on_create)
        assert quiet.aio.listener.running
        with Thoonk.from_url(redis_server.url) as other:
            other.create_feed("made")
            assert calls.wait(1) == [("create", "made")]
            quiet.remove_handler("create", on_create)
            quiet.register_handler("delete", calls.handler("delete"))
            other.delete_feed("made")
            assert calls.wait(2) == [("create", "made"), ("delete", "made")]


def test_many_threads_share_one_client(client: Thoonk) -> None:
    feed = client.feed("f")

    def work(n: int) -> None:
        for i in range(25):
            feed.publish(f"{n}-{i}", id=f"{n}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert feed.count() == 100


@pytest.mark.parametrize(
    ("aio", "blocking"),
    [
        (feed.Feed, sync.Feed),
        (sorted_feed.SortedFeed, sync.SortedFeed),
        (queue.Queue, sync.Queue),
        (job.Job, sync.Job),
    ],
)
def test_every_async_method_has_a_blocking_twin(aio: type, blocking: type) -> None:
    # run_reaper runs forever: a blocking caller runs reap() in its own loop instead.
    for name, method in inspect.getmembers(aio, inspect.iscoroutinefunction):
        if name.startswith("_") or name == "run_reaper":
            continue
        twin = getattr(blocking, name, None)
        assert twin is not None, f"{blocking.__name__}.{name} is missing"
        assert not inspect.iscoroutinefunction(twin)
        assert list(inspect.signature(twin).parameters) == list(
            inspect.signature(method).parameters
        ), name
