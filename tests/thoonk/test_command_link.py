"""The scripts' own connection: pipelined replies in call order, redis-py's error classes,
the client's database and password, and a lost connection failing what was in flight
(never resent) while the next call opens a new one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import hiredis
import pytest
import redis.asyncio as aioredis
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    NoScriptError,
    ReadOnlyError,
    ResponseError,
)

from thoonk_xmpp.thoonk import AsyncThoonk
from thoonk_xmpp.thoonk.command_link import CommandLink
from thoonk_xmpp.thoonk.resp import RespConnectionError, reply_error
from tools.localservers import RedisServer

SECRET = "another-s3cret"


@pytest.fixture(scope="module")
def guarded() -> Iterator[RedisServer]:
    with RedisServer(password=SECRET) as server:
        yield server


async def test_concurrent_calls_are_answered_in_call_order(
    redis_client: aioredis.Redis,
) -> None:
    link = CommandLink(redis_client)
    try:
        replies = await asyncio.gather(*(link.call("INCR", "counter") for _ in range(200)))
        assert replies == list(range(1, 201))
        assert await link.call("SET", "k", "v") == b"OK"
        assert await link.call("GET", "k") == b"v"
    finally:
        await link.aclose()


async def test_error_replies_raise_redis_py_errors(redis_client: aioredis.Redis) -> None:
    link = CommandLink(redis_client)
    try:
        with pytest.raises(NoScriptError):
            await link.call("EVALSHA", "0" * 40, 0)
        await link.call("SET", "text", "v")
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await link.call("LPUSH", "text", "x")
        assert await link.call("GET", "text") == b"v"  # the connection goes on
    finally:
        await link.aclose()


async def test_scripts_run_in_the_clients_database_with_its_password(
    guarded: RedisServer,
) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{guarded.port}/3"
    async with AsyncThoonk.from_url(url) as client:
        feed = await client.feed("in-db-3")
        await feed.publish("hello", id="1")
    plain = aioredis.Redis(host="127.0.0.1", port=guarded.port, password=SECRET, db=3)
    other = aioredis.Redis(host="127.0.0.1", port=guarded.port, password=SECRET, db=0)
    try:
        assert await plain.hget(b"feed.items:in-db-3", b"1") == b"hello"
        assert await other.exists(b"feed.items:in-db-3") == 0
    finally:
        await plain.aclose()
        await other.aclose()


async def test_wrong_password_fails_the_call_clearly(guarded: RedisServer) -> None:
    link = CommandLink(aioredis.Redis(host="127.0.0.1", port=guarded.port, password="nope"))
    with pytest.raises(RespConnectionError, match="Redis refused: WRONGPASS"):
        await link.call("PING")
    await link.aclose()


async def test_lost_connection_fails_the_call_in_flight_then_reopens(
    redis_client: aioredis.Redis,
) -> None:
    link = CommandLink(redis_client)
    try:
        blocked = asyncio.ensure_future(link.call("BLPOP", "never-filled", 30))
        victim = None
        while victim is None:
            await asyncio.sleep(0.01)
            clients = await redis_client.client_list()
            victim = next((c["id"] for c in clients if c["cmd"] == "blpop"), None)
        await redis_client.client_kill_filter(_id=victim)
        with pytest.raises(RespConnectionError):
            await blocked
        assert await redis_client.llen("never-filled") == 0
        assert await link.call("PING") == b"PONG"  # a new connection
    finally:
        await link.aclose()


async def test_an_argument_redis_cannot_take_fails_alone(redis_client: aioredis.Redis) -> None:
    link = CommandLink(redis_client)
    try:
        with pytest.raises(TypeError):
            await link.call("GET", None)  # hiredis packs no None
        await link.call("SET", "k", "v")
        assert await asyncio.wait_for(link.call("GET", "k"), 5) == b"v"  # replies still in step
    finally:
        await link.aclose()


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("LOADING Redis is loading the dataset in memory", BusyLoadingError),
        ("NOSCRIPT No matching script.", NoScriptError),
        ("WRONGPASS invalid username-password pair", AuthenticationError),
        ("READONLY You can't write against a read only replica.", ReadOnlyError),
        ("ERR unknown command 'NOPE'", ResponseError),
    ],
)
def test_error_replies_get_redis_py_classes(reply: str, kind: type[Exception]) -> None:
    error = reply_error(hiredis.ReplyError(reply))
    assert type(error) is kind
    assert str(error) == reply


async def test_a_feed_named_in_non_utf8_bytes_runs_its_scripts(thoonk: AsyncThoonk) -> None:
    heard: list[tuple[str, str, str]] = []
    thoonk.register_handler("publish", lambda *args: heard.append(args))
    feed = await thoonk.feed("caf\udce9")  # b"caf\xe9" as the names module reads it
    await feed.publish("x", id="1")
    assert await feed.get_ids() == ["1"]
    for _ in range(100):
        if heard:
            break
        await asyncio.sleep(0.02)
    assert heard == [("caf\udce9", "x", "1")]
