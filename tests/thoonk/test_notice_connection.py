"""The listener's own connection: the addresses and credentials a redis-py client may
use (password, Unix socket), clear errors when Redis refuses, order kept while a
coroutine handler makes reading pause, and unreadable bytes ending the connection."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.thoonk import AsyncThoonk, Notice, keys
from thoonk_xmpp.thoonk.notice_connection import NoticeConnection
from thoonk_xmpp.thoonk.resp import RespConnectionError
from tools.localservers import RedisServer

from .dbtools import Recorder

SECRET = "s3cret-for-tests"


@pytest.fixture(scope="module")
def guarded() -> Iterator[RedisServer]:
    """A server that wants a password and also listens on a Unix socket."""
    with RedisServer(password=SECRET, unix_socket=True) as server:
        yield server


def _messages() -> tuple[list[tuple[bytes, bytes]], object]:
    got: list[tuple[bytes, bytes]] = []
    return got, lambda channel, payload: got.append((channel, payload))


@pytest.mark.parametrize("address", ["url", "unix_url"])
async def test_listener_with_password_over_tcp_and_unix_socket(
    guarded: RedisServer, address: str
) -> None:
    rec = Recorder()
    async with AsyncThoonk.from_url(getattr(guarded, address), listen=True) as client:
        client.register_handler("publish", rec.handler("publish"))
        feed = await client.feed(f"over-{address}")
        await feed.publish("hello", id="1")
        assert await rec.wait_for(1) == [("publish", f"over-{address}", "hello", "1")]


async def test_wrong_password_is_a_clear_error(guarded: RedisServer) -> None:
    redis = aioredis.Redis(host="127.0.0.1", port=guarded.port, password="wrong")
    with pytest.raises(RespConnectionError, match="Redis refused: WRONGPASS"):
        await NoticeConnection.open(redis, lambda: NoticeConnection(lambda channel, payload: None))
    await redis.aclose()


async def test_missing_password_is_refused_on_subscribe(guarded: RedisServer) -> None:
    redis = aioredis.Redis(host="127.0.0.1", port=guarded.port)
    connection = await NoticeConnection.open(
        redis, lambda: NoticeConnection(lambda channel, payload: None)
    )
    try:
        with pytest.raises(RespConnectionError, match="Redis refused"):
            await connection.subscribe(keys.NOTICE_PATTERNS, keys.REGISTRY_CHANNELS)
    finally:
        connection.close()
        await redis.aclose()


async def test_nothing_listening_is_a_clear_error() -> None:
    with RedisServer() as server:
        port = server.port
    redis = aioredis.Redis(host="127.0.0.1", port=port)
    with pytest.raises(RespConnectionError, match="cannot connect to Redis"):
        await NoticeConnection.open(redis, lambda: NoticeConnection(lambda channel, payload: None))
    await redis.aclose()


async def test_listener_start_times_out_while_redis_refuses(guarded: RedisServer) -> None:
    client = AsyncThoonk(port=guarded.port, password="wrong")
    try:
        with pytest.raises(TimeoutError):
            await client.listener.start(timeout=0.5)
        assert client.listener.epoch is None
    finally:
        await client.aclose()


async def test_a_coroutine_sink_pauses_reading_and_keeps_order(thoonk: AsyncThoonk) -> None:
    seen: list[str] = []
    waits = 0

    def sink(notice: Notice) -> Coroutine[Any, Any, None] | None:
        nonlocal waits
        item_id = notice.item_id
        if item_id is None:
            return None
        if int(item_id) % 5 == 0:  # every fifth notice makes the listener wait
            waits += 1

            async def later() -> None:
                await asyncio.sleep(0.01)
                seen.append(f"sink {item_id}")

            return later()
        seen.append(f"sink {item_id}")
        return None

    rec = Recorder()
    thoonk.listener.add_sink(sink)
    thoonk.register_handler("publish", rec.handler("publish"))
    feed = await thoonk.feed("paced")
    await feed.publish_many([(str(n), str(n)) for n in range(20)])
    published = await rec.wait_for(20)
    assert [call[3] for call in published] == [str(n) for n in range(20)]
    # each notice's sink finished (even after a wait) before the next notice's sink ran
    assert seen == [f"sink {n}" for n in range(20)]
    assert waits == 4


class _Transport(asyncio.Transport):
    """Just enough transport for feeding a protocol bytes by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def test_unreadable_bytes_end_the_connection_with_an_error() -> None:
    got, on_message = _messages()
    protocol = NoticeConnection(on_message)  # type: ignore[arg-type]
    transport = _Transport()
    protocol.connection_made(transport)
    protocol.data_received(b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\np\r\n")
    protocol.data_received(b"?nonsense\r\n")
    assert got == [(b"c", b"p")]
    assert transport.closed
    with pytest.raises(RespConnectionError, match="unreadable reply"):
        await protocol.closed


async def test_paused_connection_holds_messages_until_resumed() -> None:
    got, on_message = _messages()
    protocol = NoticeConnection(on_message)  # type: ignore[arg-type]
    protocol.connection_made(_Transport())
    one = b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\na\r\n$1\r\n1\r\n"
    two = b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\nb\r\n$1\r\n2\r\n"
    protocol.pause()
    protocol.data_received(one + two)
    assert got == []
    protocol.resume()
    assert got == [(b"a", b"1"), (b"b", b"2")]


async def test_stop_cancels_a_handler_still_being_awaited(redis_server: RedisServer) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck(feed: str, item: str, item_id: str) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    client = AsyncThoonk.from_url(redis_server.url, listen=True)
    await client.connect()
    try:
        client.register_handler("publish", stuck)
        await (await client.feed("stuck")).publish("x", id="1")
        await asyncio.wait_for(started.wait(), 10)
        await client.listener.stop()
        assert cancelled.is_set()
        assert not client.listener.running
    finally:
        await client.aclose()
