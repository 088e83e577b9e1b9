"""Notices: parsing, handler dispatch, our own registry notices (delivered by default,
ignored by instance id on request), and a listener that resubscribes by itself after
Redis restarts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from thoonk_xmpp.thoonk import AsyncThoonk, Notice, NoticeKind
from thoonk_xmpp.thoonk.notices import handler_args, parse
from tools.localservers import RedisServer

from .dbtools import Recorder

# --- parsing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "payload", "expected"),
    [
        (b"newfeed", b"n\x00abc", Notice(NoticeKind.CREATE, "n", instance="abc")),
        (b"delfeed", b"n\x00abc", Notice(NoticeKind.DELETE, "n", instance="abc")),
        (b"conffeed", b"n:x\x00i", Notice(NoticeKind.CONFIG, "n:x", instance="i")),
        (
            b"feed.publish:a:b",
            b"1\x00x\x00y",
            Notice(NoticeKind.PUBLISH, "a:b", item_id="1", item=b"x\x00y"),
        ),
        (b"feed.edit:f", b"1\x00", Notice(NoticeKind.EDIT, "f", item_id="1", item=b"")),
        (b"feed.retract:f", b"7", Notice(NoticeKind.RETRACT, "f", item_id="7")),
        (
            b"feed.position:f",
            b"3\x00:1",
            Notice(NoticeKind.POSITION, "f", item_id="3", position=":1"),
        ),
        (b"job.finish:j", b"id\x00ok", Notice(NoticeKind.FINISH, "j", item_id="id", result=b"ok")),
        (b"feed.publishes:j", b"id\x00w", Notice(NoticeKind.JOB_PUT, "j", item_id="id", item=b"w")),
        (b"feed.claimed:j", b"id", Notice(NoticeKind.JOB_CLAIM, "j", item_id="id")),
        (b"thoonkx.purge:f", b"12", Notice(NoticeKind.PURGE, "f", count=12)),
        (b"thoonkx.purge:f", b"x", Notice(NoticeKind.PURGE, "f", count=0)),
        (b"thoonkx.trim:f", b"3", Notice(NoticeKind.TRIM, "f", count=3)),
        (
            "feed.publish:ü".encode(),
            "é\x00ï".encode(),
            Notice(NoticeKind.PUBLISH, "ü", "é", "ï".encode()),
        ),
    ],
)
def test_parse(channel: bytes, payload: bytes, expected: Notice) -> None:
    assert parse(channel, payload) == expected


@pytest.mark.parametrize("channel", [b"other", b"feed.stalled:j", b"event.feed.publish:x", b"x:y"])
def test_parse_foreign_channel(channel: bytes) -> None:
    assert parse(channel, b"a\x00b") is None


def test_handler_args_follow_thoonkpy_order() -> None:
    assert handler_args(parse(b"feed.publish:f", b"1\x00it") or Notice(NoticeKind.CREATE, "")) == (
        "f",
        "it",
        "1",
    )
    samples = {
        (b"feed.retract:f", b"1"): ("f", "1"),
        (b"feed.position:f", b"1\x00begin:"): ("f", "1", "begin:"),
        (b"job.finish:f", b"1\x00r"): ("f", "1", "r"),
        (b"feed.claimed:f", b"1"): ("f", "1"),
        (b"thoonkx.purge:f", b"2"): ("f", 2),
        (b"thoonkx.trim:f", b"1"): ("f", 1),
        (b"newfeed", b"f\x00i"): ("f",),
    }
    for (channel, payload), args in samples.items():
        notice = parse(channel, payload)
        assert notice is not None
        assert handler_args(notice) == args


def test_unknown_handler_kind(redis_server: RedisServer) -> None:
    thoonk = AsyncThoonk.from_url(redis_server.url)
    with pytest.raises(ValueError, match="unknown notice kind"):
        thoonk.register_handler("published", print)


# --- dispatch ----------------------------------------------------------------


@pytest.fixture
async def other(redis_server: RedisServer) -> AsyncIterator[AsyncThoonk]:
    """A second, non-listening client (another instance id) on the same database."""
    async with AsyncThoonk.from_url(redis_server.url) as client:
        yield client


async def test_own_registry_notices_reach_handlers_by_default(
    thoonk: AsyncThoonk, other: AsyncThoonk
) -> None:
    """thoonk.py and the Thoonk docs: a handler per created or deleted feed, ours too."""
    rec = Recorder()
    for kind in ("create_notice", "config", "delete_notice"):
        thoonk.register_handler(kind, rec.handler(kind.removesuffix("_notice")))
    await thoonk.create_feed("mine")
    await thoonk.set_config("mine", {"a": "b"})
    await thoonk.delete_feed("mine")
    await other.create_feed("theirs")
    assert await rec.wait_for(6) == [
        ("create", "mine"),
        ("config", "mine"),
        ("config", "mine"),
        ("delete", "mine"),
        ("create", "theirs"),
        ("config", "theirs"),
    ]


async def test_own_registry_notices_ignored_on_request(
    redis_server: RedisServer, redis_client: aioredis.Redis, other: AsyncThoonk
) -> None:
    rec = Recorder()
    sunk: list[Notice] = []
    async with AsyncThoonk.from_url(
        redis_server.url, listen=True, ignore_own_registry_notices=True
    ) as thoonk:
        for kind in ("create", "config", "delete"):
            thoonk.register_handler(kind, rec.handler(kind))
        thoonk.listener.add_sink(sunk.append)
        await thoonk.create_feed("mine")
        await thoonk.set_config("mine", {"a": "b"})
        await thoonk.delete_feed("mine")
        await other.create_feed("theirs")
        await other.set_config("theirs", {"a": "b"})
        await other.delete_feed("theirs")
        # Handlers run in notice order, so ours would have come first.
        assert await rec.wait_for(4) == [
            ("create", "theirs"),
            ("config", "theirs"),
            ("config", "theirs"),
            ("delete", "theirs"),
        ]
    # Sinks see everything, with the instance id.
    assert [(n.kind.value, n.feed, n.instance) for n in sunk[:4]] == [
        ("create", "mine", thoonk.instance),
        ("config", "mine", thoonk.instance),
        ("config", "mine", thoonk.instance),
        ("delete", "mine", thoonk.instance),
    ]
    assert {n.instance for n in sunk[4:]} == {other.instance}


async def test_own_item_notices_are_delivered(thoonk: AsyncThoonk, other: AsyncThoonk) -> None:
    rec = Recorder()
    thoonk.register_handler("publish", rec.handler("publish"))
    mine = await thoonk.feed("f")
    theirs = await other.feed("f")
    await mine.publish("a", id="1")
    await theirs.publish("b", id="2")
    assert await rec.wait_for(2) == [("publish", "f", "a", "1"), ("publish", "f", "b", "2")]


async def test_alias_names_remove_and_coroutine_handlers(thoonk: AsyncThoonk) -> None:
    rec = Recorder()
    dropped = rec.handler("dropped")
    thoonk.register_handler("retract_notice", dropped)
    thoonk.remove_handler(NoticeKind.RETRACT, dropped)

    async def slow(feed: str, item: str, item_id: str) -> None:
        await asyncio.sleep(0)
        rec.handler("async")(feed, item, item_id)

    thoonk.register_handler("publish_notice", slow)
    thoonk.register_handler(NoticeKind.RETRACT, rec.handler("retract"))
    feed = await thoonk.feed("f")
    await feed.publish("a", id="1")
    await feed.retract("1")
    assert await rec.wait_for(2) == [("async", "f", "a", "1"), ("retract", "f", "1")]


async def test_failing_handler_does_not_stop_the_listener(
    thoonk: AsyncThoonk, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()

    def broken(*args: object) -> None:
        raise RuntimeError("handler bug")

    thoonk.register_handler("publish", broken)
    thoonk.register_handler("publish", rec.handler("publish"))
    feed = await thoonk.feed("f")
    with caplog.at_level(logging.ERROR, logger="thoonk_xmpp.thoonk.notices"):
        await feed.publish("a", id="1")
        await feed.publish("b", id="2")
        assert len(await rec.wait_for(2)) == 2
    assert "handler bug" in caplog.text
    assert thoonk.listener.running


async def test_start_twice_and_stop(redis_server: RedisServer) -> None:
    async with AsyncThoonk.from_url(redis_server.url, listen=True) as client:
        await client.listener.start()
        assert client.listener.connections == 1
        assert client.listener.running
        await client.listener.stop()
        assert not client.listener.running
        await client.listener.stop()
    assert not client.listener.running


# --- Redis restarts ------------------------------------------------------------


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


async def _probe_until_heard(url: str, rec: Recorder, timeout: float = 30) -> None:
    """Publish registry notices from a peer until the listener hears one."""
    peer = aioredis.Redis.from_url(url)

    async def probe() -> None:
        n = 0
        while not any(call[0] == "create" and call[1].startswith("probe") for call in rec.calls):
            n += 1
            with contextlib.suppress(RedisConnectionError):  # the server may still be starting
                await peer.publish(b"newfeed", b"probe%d\x00peer" % n)
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        pytest.fail("the listener never heard from Redis again")
    finally:
        await peer.aclose()


async def test_listener_resubscribes_after_restart(own_server: RedisServer) -> None:
    rec = Recorder()
    async with AsyncThoonk.from_url(
        own_server.url, listen=True, ignore_own_registry_notices=True
    ) as client:
        for kind in ("publish", "create"):
            client.register_handler(kind, rec.handler(kind))
        feed = await client.feed("f")
        await feed.publish("before", id="1")
        await rec.wait_for(1)

        await asyncio.to_thread(own_server.restart)
        await _probe_until_heard(own_server.url, rec)
        rec.calls[:] = [call for call in rec.calls if not str(call[1]).startswith("probe")]

        # Data did not survive (no persistence); everything works again from scratch,
        # including commands on the client's own (stale) pool and its scripts.
        feed = await client.feed("f")
        await feed.publish("after", id="2")
        peer = aioredis.Redis.from_url(own_server.url)
        try:
            await peer.publish(b"newfeed", b"elsewhere\x00someone")
            await peer.publish(b"feed.publish:x", b"3\x00raw")
        finally:
            await peer.aclose()
        assert await rec.wait_for(4) == [
            ("publish", "f", "before", "1"),
            ("publish", "f", "after", "2"),
            ("create", "elsewhere"),
            ("publish", "x", "raw", "3"),
        ]


class _LostRedis(logging.Handler):
    """Sets an event when the listener logs that it lost Redis."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lost = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "lost Redis" in record.getMessage():
            self.lost.set()


async def test_listener_survives_a_long_outage(own_server: RedisServer) -> None:
    # Down for longer than redis-py's own reconnect attempts: our loop takes over.
    rec = Recorder()
    watch = _LostRedis()
    logger = logging.getLogger("thoonk_xmpp.thoonk.notices")
    logger.addHandler(watch)
    try:
        async with AsyncThoonk.from_url(own_server.url, listen=True) as client:
            client.register_handler("create", rec.handler("create"))
            assert client.listener.connections == 1
            await asyncio.to_thread(own_server.stop)
            await asyncio.wait_for(watch.lost.wait(), 60)
            await asyncio.to_thread(own_server.start)
            await _probe_until_heard(own_server.url, rec)
            assert client.listener.connections >= 2
            assert client.listener.running
    finally:
        logger.removeHandler(watch)
