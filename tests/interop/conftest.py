"""Interop with the original thoonk.py 1.0.1.0 running under Python 2.7 (contract 16.C).

``scripts/interop-setup.sh`` installs it (with redis-py 2.4.13) into
``.interop/py2``; the session fixture runs it once. A machine without Python
2.7 FAILS these tests (it does not skip them): interop is a promise of the
project, and a skipped test would hide that it was never checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tools.localservers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "scripts" / "interop-setup.sh"
DRIVER = Path(__file__).with_name("py2_driver.py")
TARGET = ROOT / ".interop" / "py2"


@dataclass(frozen=True)
class Py2Env:
    python: str
    pythonpath: Path


@pytest.fixture(scope="session")
def py2_env() -> Py2Env:
    """Python 2.7 with thoonk==1.0.1.0 importable; fails clearly when impossible."""
    done = subprocess.run(
        ["bash", str(SETUP)], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            "interop tests need Python 2.7 with thoonk==1.0.1.0 (scripts/interop-setup.sh "
            f"exited {done.returncode}):\n{done.stderr.strip()}",
            pytrace=False,
        )
    python = done.stdout.strip().splitlines()[-1]
    return Py2Env(python, TARGET)


class Py2Error(Exception):
    """An exception raised inside the Python 2 peer; ``name`` is its class name."""

    def __init__(self, name: str, message: str, trace: str) -> None:
        self.name = name
        self.trace = trace
        super().__init__(f"{name}: {message}")


class Py2Peer:
    """One running thoonk.py listener/client, driven by JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process, stderr: Path) -> None:
        self.process = process
        self.stderr = stderr
        self.instance = ""

    async def _send(self, command: dict[str, Any], timeout: float = 30) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        return await self._read(timeout)

    async def _read(self, timeout: float) -> Any:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"the py2 driver died:\n{self.stderr.read_text()}")
        answer = json.loads(line)
        if "error" in answer:
            raise Py2Error(answer["error"], answer["message"], answer["trace"])
        return answer.get("ok", answer)

    async def start(self) -> None:
        self.instance = (await self._read(30))["ready"]

    async def call(self, target: str, name: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``thoonk.<target>(name).<method>(*args, **kwargs)`` in the peer."""
        return await self._send({"call": [target, name, method, list(args), kwargs]})

    async def thoonk(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``thoonk.<method>(*args, **kwargs)`` in the peer."""
        return await self.call("thoonk", "", method, *args, **kwargs)

    async def notices(self, count: int, timeout: float = 10) -> list[list[Any]]:
        """The next ``count`` notices the peer's handlers got (fewer after ``timeout``)."""
        result: list[list[Any]] = await self._send(
            {"notices": count, "timeout": timeout}, timeout + 10
        )
        return result

    async def no_more_notices(self) -> list[list[Any]]:
        """Whatever notices arrived beyond those taken so far (waits a moment)."""
        return await self.notices(1000, timeout=0.3)

    async def subscribed(self, name: str) -> None:
        """Wait until the peer listens to the per-feed channels of ``name``.

        thoonk.py subscribes a feed's channels when it hears ``newfeed``, in its
        listener thread; anything published before that is lost to it.
        """
        channels = [f"feed.publish:{name}", f"feed.retract:{name}"]
        assert await self._send({"subscribed": channels}), "py2 listener never subscribed"

    async def close(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.write(b'{"quit": true}\n')
            await self.process.stdin.drain()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


PeerFactory = Callable[[], Awaitable[Py2Peer]]


@pytest.fixture
async def py2_factory(
    py2_env: Py2Env,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    tmp_path: Path,
) -> AsyncIterator[PeerFactory]:
    """Starts listening thoonk.py peers on the freshly flushed test database."""
    peers: list[Py2Peer] = []
    env = {**os.environ, "PYTHONPATH": str(py2_env.pythonpath), "PYTHONIOENCODING": "utf-8"}
    env.pop("PYTHONHOME", None)

    async def start() -> Py2Peer:
        stderr = tmp_path / f"py2-driver-{len(peers)}.stderr"
        with stderr.open("wb") as errors:
            process = await asyncio.create_subprocess_exec(
                py2_env.python,
                str(DRIVER),
                "127.0.0.1",
                str(redis_server.port),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                env=env,
            )
        peer = Py2Peer(process, stderr)
        peers.append(peer)
        await peer.start()
        return peer

    try:
        yield start
    finally:
        for peer in peers:
            await peer.close()


@pytest.fixture
async def py2(py2_factory: PeerFactory) -> Py2Peer:
    """A listening thoonk.py peer on the freshly flushed test database."""
    return await py2_factory()
