"""Feed scenarios: publish, publish with max_length, publish_many, and notice delivery."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from typing import Any

from bench.common import rate, redis_benchmark
from bench.thoonk_harness import FEED, PAYLOAD, Bench, Step
from thoonk_xmpp.thoonk import AsyncThoonk, keys
from thoonk_xmpp.thoonk.feed_config import ConfigValue
from tools.localservers import require

#: Items per publish_many call.
BATCH = 100
MAX_LENGTH = 100
#: Notices published but not yet received before producers wait (keeps the
#: listener's pub/sub buffer far below Redis's output-buffer limits).
NOTICE_WINDOW = 5000


async def make_feed(bench: Bench, config: dict[str, ConfigValue] | None = None) -> None:
    """An empty database holding FEED (full to max_length when one is set)."""
    await bench.fresh()
    async with AsyncThoonk.from_url(bench.url) as setup:
        feed = await setup.feed(FEED, config)
        if config and "max_length" in config:
            await feed.publish_many([PAYLOAD] * MAX_LENGTH)


def _publisher(feed: Any, batch: int) -> Step:
    if batch == 1:

        async def one() -> int:
            await feed.publish(PAYLOAD)
            return 1

        return one
    items = [PAYLOAD] * batch

    async def many() -> int:
        await feed.publish_many(items)
        return batch

    return many


class Publish:
    """``publish`` (batch 1) or ``publish_many`` of ``batch`` items; units are items."""

    def __init__(self, config: dict[str, ConfigValue] | None = None, batch: int = 1) -> None:
        self.config = config
        self.batch = batch

    async def ours(self, bench: Bench, callers: int) -> float:
        await make_feed(bench, self.config)
        clients = await bench.clients(callers)
        try:
            feeds = [await c.feed(FEED) for c in clients]
            return await rate([_publisher(f, self.batch) for f in feeds], bench.seconds)
        finally:
            await bench.close(clients)

    async def command(self, bench: Bench, batch: int) -> list[bytes]:
        """Our publish call of ``batch`` items, as a redis-benchmark command."""
        published: list[str] = []

        async def work(client: AsyncThoonk) -> None:
            feed = await client.feed(FEED)
            published.extend(await feed.publish_many([PAYLOAD] * batch))

        calls = await bench.recorded(work)
        return await bench.replay(calls["feed/publish"], published)

    async def ceiling(self, bench: Bench, callers: int) -> float:
        """The same publish calls from redis-benchmark."""
        await make_feed(bench, self.config)
        command = await self.command(bench, self.batch)
        calls = await bench.ceiling(command, callers, reset=lambda: make_feed(bench, self.config))
        return calls * self.batch

    async def pipelined_ceiling(self, bench: Bench, callers: int) -> float:
        """Single-item publish calls pipelined ``batch`` deep (``redis-benchmark -P``)."""
        await make_feed(bench, self.config)
        command = await self.command(bench, 1)
        return await bench.ceiling(
            command, callers, pipeline=self.batch, reset=lambda: make_feed(bench, self.config)
        )


async def notices_ours(bench: Bench, callers: int) -> float:
    """Publish notices per second that a listening AsyncThoonk's handler receives.

    ``callers`` producers on their own connections publish batches of BATCH so
    that the listener, not the producers, is the bottleneck.
    """
    await make_feed(bench)
    received = 0
    sent = 0
    room = asyncio.Event()
    room.set()

    def on_publish(feed: str, item: str, item_id: str) -> None:
        nonlocal received
        received += 1
        if sent - received <= NOTICE_WINDOW // 2:
            room.set()

    listener = bench.client(listen=True)
    listener.register_handler("publish", on_publish)
    await listener.connect()
    clients = await bench.clients(callers)
    try:
        items = [PAYLOAD] * BATCH

        def producer(feed: Any) -> Step:
            async def produce() -> int:
                nonlocal sent
                while sent - received > NOTICE_WINDOW:
                    room.clear()
                    await room.wait()
                sent += BATCH
                await feed.publish_many(items)
                return 0

            return produce

        feeds = [await c.feed(FEED) for c in clients]
        return await rate([producer(f) for f in feeds], bench.seconds, counter=lambda: received)
    finally:
        await bench.close(clients)
        await listener.aclose()


class _Subscriber:
    """``redis-cli psubscribe``, a C subscriber; counts the lines it prints and when."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        self.process = process
        self.lines = 0
        #: perf_counter() when the last output arrived.
        self.last = time.perf_counter()
        self._want = 0
        self._reached = asyncio.Event()
        self._task = asyncio.create_task(self._read(process.stdout))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(1 << 16):
            self.lines += chunk.count(b"\n")
            self.last = time.perf_counter()
            if self.lines >= self._want:
                self._reached.set()
        self._reached.set()

    async def wait_lines(self, lines: int, timeout: float = 30) -> None:
        """Until ``lines`` lines came (or the output ended, or ``timeout``)."""
        self._want = lines
        if self.lines < lines:
            self._reached.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reached.wait(), timeout)

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
        await self.process.wait()
        await self._task


_LIMIT = "client-output-buffer-limit"
#: Lines redis-cli prints per notice: pmessage, pattern, channel, payload.
_LINES = 4


async def notices_ceiling(bench: Bench, callers: int) -> float:
    """Notices/s that a C subscriber (redis-cli) receives from redis-benchmark's publish_many.

    Counted like ours: notices received over the time from the first publish
    to the last notice.  The pub/sub output-buffer limit is lifted meanwhile
    so that a subscriber slower than the publishers is not disconnected.
    """
    await make_feed(bench)
    command = await Publish(batch=BATCH).command(bench, BATCH)
    port = bench.server.port
    cli = require("redis-cli", "redis-tools")
    pattern = keys.publish_channel("*").decode()
    limits = str((await bench.admin.config_get(_LIMIT))[_LIMIT])
    await bench.admin.config_set(_LIMIT, "pubsub 0 0 0")
    subscriber = _Subscriber(
        await asyncio.create_subprocess_exec(
            cli, "-p", str(port), "psubscribe", pattern, stdout=subprocess.PIPE
        )
    )
    try:
        await subscriber.wait_lines(3)  # the psubscribe reply
        probe = 50 * callers
        first = await redis_benchmark(port, command, clients=callers, requests=probe)
        await subscriber.wait_lines(3 + _LINES * probe * BATCH)
        before = subscriber.lines
        requests = max(probe, int(first * bench.seconds))
        start = time.perf_counter()
        await redis_benchmark(port, command, clients=callers, requests=requests)
        await subscriber.wait_lines(before + _LINES * requests * BATCH)
        got = (subscriber.lines - before) // _LINES
        if got < 0.999 * requests * BATCH:  # a random-id collision is an edit, not a publish
            print(f"  note: redis-cli got {got} of {requests * BATCH} notices", file=sys.stderr)
        return got / (subscriber.last - start)
    finally:
        await subscriber.close()
        await bench.admin.config_set(_LIMIT, limits)
