"""What the Thoonk benchmark scenarios share: the server, clients and call replay.

The ceiling of an operation is ``redis-benchmark`` sending the very EVALSHA
calls our client sent: a :class:`Recorder` captures them, :meth:`Bench.replay`
turns them into a command line where each generated id becomes a same-length
argument ending in ``__rand_int__`` (a new random number per call).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from bench.common import calibrated_redis_benchmark, chained_redis_benchmark
from thoonk_xmpp.thoonk import AsyncThoonk
from thoonk_xmpp.thoonk.command_link import CommandLink
from thoonk_xmpp.thoonk.scripts import EncodableT, Scripts, source
from tools.localservers import RedisServer

#: The object every scenario works on (recreated empty before each run).
FEED = "bench.feed"
#: A 100-byte item.
PAYLOAD = "x" * 100

Call = tuple[str, tuple[bytes, ...], tuple[EncodableT, ...]]
Step = Callable[[], Awaitable[int]]


class Recorder(Scripts):
    """Scripts that also remember every call, so the ceiling can replay it."""

    def __init__(self, link: CommandLink) -> None:
        super().__init__(link)
        self.calls: list[Call] = []

    async def run(
        self, verb: str, feed: str, keys: Sequence[bytes], args: Sequence[EncodableT]
    ) -> Any:
        self.calls.append((verb, tuple(keys), tuple(args)))
        return await super().run(verb, feed, keys, args)


def templated(value: EncodableT, ids: Collection[bytes]) -> bytes:
    """One replayed argument: a generated id gets a random tail of the same length.

    NUL bytes (only in result-key names that the replayed calls never touch)
    become ``_``: a command-line argument cannot hold one.
    """
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")
    if raw in ids and len(raw) > 12:
        return raw[:-12] + b"__rand_int__"
    return raw.replace(b"\0", b"_")


@dataclass
class Bench:
    """The private server, how callers get clients, and the timing options."""

    server: RedisServer
    admin: aioredis.Redis
    seconds: float
    #: One AsyncThoonk (one connection pool) shared by all callers.
    shared: bool = False
    #: Extra keyword arguments for every ``AsyncThoonk.from_url`` of the callers.
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    async def fresh(self) -> None:
        await self.admin.flushall()

    def client(self, listen: bool = False) -> AsyncThoonk:
        """A caller's client (not connected yet)."""
        return AsyncThoonk.from_url(self.url, listen=listen, **self.options)

    async def clients(self, n: int) -> list[AsyncThoonk]:
        """``n`` callers' clients: one AsyncThoonk each, or one shared pool."""
        if self.shared:
            shared = self.client()
            await shared.connect()
            return [shared] * n
        made = [self.client() for _ in range(n)]
        for client in made:
            await client.connect()
        return made

    @staticmethod
    async def close(clients: Sequence[AsyncThoonk]) -> None:
        for client in {id(c): c for c in clients}.values():
            await client.aclose()

    async def recorded(self, work: Callable[[AsyncThoonk], Awaitable[Any]]) -> dict[str, Call]:
        """The last call of each script that ``work`` makes through a fresh client."""
        async with AsyncThoonk.from_url(self.url) as client:
            recorder = Recorder(client.commands)
            client.scripts = recorder
            await work(client)
        return {call[0]: call for call in recorder.calls}

    async def replay(
        self, call: Call, ids: Collection[str] = (), script: str | None = None
    ) -> list[bytes]:
        """The redis-benchmark command line that repeats ``call`` (ids randomised).

        ``script`` replaces the verb's own source (for a bench-only variant).
        """
        verb, keys_, args = call
        sha = await self.admin.script_load(script if script is not None else source(verb))
        raw_ids = {i.encode() for i in ids}
        return [
            b"EVALSHA",
            sha.encode() if isinstance(sha, str) else sha,
            str(len(keys_)).encode(),
            *(templated(k, raw_ids) for k in keys_),
            *(templated(a, raw_ids) for a in args),
        ]

    async def ceiling(
        self,
        command: Sequence[bytes],
        callers: int,
        *,
        pipeline: int = 1,
        reset: Callable[[], Awaitable[None]] | None = None,
    ) -> float:
        """redis-benchmark's calls/s for ``command`` with ``callers`` connections."""
        return await calibrated_redis_benchmark(
            self.server.port,
            command,
            clients=callers,
            seconds=self.seconds,
            pipeline=pipeline,
            reset=reset,
        )

    async def chained_ceiling(
        self,
        commands: Sequence[Sequence[bytes]],
        callers: int,
        reset: Callable[[], Awaitable[None]] | None = None,
    ) -> list[float]:
        """Calls/s of each stage of a produce-then-consume chain (put, get, ...)."""
        return await chained_redis_benchmark(
            self.server.port, commands, clients=callers, seconds=self.seconds, reset=reset
        )
