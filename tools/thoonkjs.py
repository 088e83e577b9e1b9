"""The original thoonk.js 0.5.5 as a peer: one long-lived ``node`` process running
``tools/thoonkjs_driver.js``, driven by JSON lines over its stdin and stdout.

``scripts/interop-setup-js.sh`` installs the peer (``tools/interop.py`` decides whether
it can run here); :meth:`JsPeer.start` runs the driver against a Redis the caller
started. Requests may overlap: each carries an id and its answer comes back by it, so a
thoonk.js worker blocked in ``job.get`` does not hold up the test's other requests.

thoonk.js calls back instead of returning: pass :data:`CB` where its callback goes, and
the request answers with the callback's arguments (``[error, ...]`` as thoonk.js gives
them, errors being strings such as ``"DoesNotExist"``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any, Final

from tools.interop import JS_TARGET

DRIVER = Path(__file__).resolve().parent / "thoonkjs_driver.js"

#: Where thoonk.js's callback goes in a :meth:`JsPeer.call`'s arguments.
CB: Final = {"$cb": True}


def recording(label: str) -> dict[str, str]:
    """A callback argument that records ``[label, *its arguments]`` as a notice."""
    return {"$record": label}


class JsError(Exception):
    """A request the driver refused, or an exception thrown by thoonk.js while doing it."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"{name}: {message}")


class JsPeer:
    """One node process holding thoonk.js clients (client 0 after :meth:`reset`)."""

    def __init__(self, process: asyncio.subprocess.Process, stderr: Path) -> None:
        self.process = process
        self.stderr = stderr
        self.uncaught: list[str] = []
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, node: str, redis_port: int, stderr: Path, thoonk_dir: Path = JS_TARGET / "thoonk"
    ) -> JsPeer:
        with stderr.open("wb") as errors:
            process = await asyncio.create_subprocess_exec(
                node,
                str(DRIVER),
                str(thoonk_dir),
                "127.0.0.1",
                str(redis_port),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
            )
        peer = cls(process, stderr)
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 30)
        if not first:
            raise RuntimeError(f"the thoonk.js driver did not start:\n{peer.said()}")
        peer._reader = asyncio.create_task(peer._read_answers())
        return peer

    def said(self) -> str:
        """What the driver wrote on stderr."""
        return self.stderr.read_text(errors="replace")

    async def _read_answers(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            answer = json.loads(line)
            if "uncaught" in answer:
                self.uncaught.append(answer["uncaught"])
                continue
            future = self._waiting.pop(answer["id"], None)
            if future is None or future.done():
                continue
            if "error" in answer:
                future.set_exception(JsError(answer["error"], answer["message"]))
            else:
                future.set_result(answer["ok"])
        died = RuntimeError(f"the thoonk.js driver died:\n{self.said()}")
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(died)
        self._waiting.clear()

    async def request(self, op: str, wait: float = 30, **fields: Any) -> Any:
        """Send one request; its answer, or JsError. Gives up after ``wait`` seconds."""
        assert self.process.stdin is not None
        number = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        self.process.stdin.write(json.dumps({"id": number, "op": op, **fields}).encode() + b"\n")
        await self.process.stdin.drain()
        try:
            return await asyncio.wait_for(future, wait)
        finally:
            self._waiting.pop(number, None)

    # --- clients --------------------------------------------------------------------------

    async def reset(self) -> str:
        """Drop every client and open client 0; its instance id (a dashed UUID)."""
        self.uncaught.clear()
        instance: str = await self.request("reset")
        return instance

    async def open_client(self) -> int:
        """One more thoonk.js client (its own connections and lock); its number."""
        number: int = await self.request("client")
        return number

    # --- thoonk.js calls -----------------------------------------------------------------

    async def open(
        self, kind: str, name: str, config: dict[str, Any] | None = None, client: int = 0
    ) -> None:
        """``thoonk[kind](name, config)`` (feed, sortedFeed, queue, job), once ready."""
        await self.request("open", kind=kind, name=name, config=config, client=client)

    async def call(
        self,
        kind: str,
        name: str,
        method: str,
        *args: Any,
        client: int = 0,
        until: str | None = None,
        timeout: float = 30,
    ) -> Any:
        """``object.method(*args)`` on the ``kind`` object ``name`` ("thoonk": the client)."""
        return await self.request(
            "call",
            timeout,
            kind=kind,
            name=name,
            method=method,
            args=list(args),
            until=until,
            client=client,
        )

    async def thoonk(self, method: str, *args: Any, until: str | None = None) -> Any:
        """``thoonk.method(*args)`` on client 0."""
        return await self.call("thoonk", "", method, *args, until=until)

    async def subscribe(self, kind: str, name: str, client: int = 0) -> None:
        """``object.subscribe()`` recording its notices; returns once Redis subscribed."""
        await self.request("subscribe", kind=kind, name=name, client=client)

    async def notices(self, count: int, timeout: float = 10, client: int = 0) -> list[list[Any]]:
        """The next ``count`` notices the client recorded (fewer after ``timeout``)."""
        taken: list[list[Any]] = await self.request(
            "notices", timeout + 10, count=count, timeout=timeout, client=client
        )
        return taken

    async def no_more_notices(self, client: int = 0) -> list[list[Any]]:
        """Whatever notices arrived beyond those taken so far (waits a moment)."""
        return await self.notices(1000, timeout=0.3, client=client)

    # --- a worker ------------------------------------------------------------------------

    async def start_worker(self, job: str, prefix: str, client: int) -> None:
        """Loop on ``client``: claim a job of ``job``, finish it with ``prefix + request``."""
        await self.request("worker", name=job, prefix=prefix, client=client)

    async def stop_worker(self, client: int, timeout: float = 30) -> list[str]:
        """Stop that loop (within about a second); the ids it finished, in order."""
        finished: list[str] = await self.request("stop_worker", timeout, client=client)
        return finished

    async def close(self) -> None:
        if self.process.returncode is None:
            try:
                await self.request("quit", 10)
                await asyncio.wait_for(self.process.wait(), 10)
            except (TimeoutError, RuntimeError, BrokenPipeError, ConnectionResetError):
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            await self._reader
