"""Interop with the original thoonk.py 1.0.1.0 running under Python 2.7 (contract 16.C),
and with the original thoonk.js 0.5.5 under Node.js (``test_js_*.py``).

``scripts/interop-setup.sh`` installs thoonk.py (with redis-py 2.4.13) into
``.interop/py2``; the session fixture runs it once. A machine without any Python
2.7 (plain Debian 12) skips these tests with one line saying why, except under
``CI=true``, where that is a failure: CI promises every interop peer was checked.
Any other setup failure fails them everywhere (``tools/interop.py`` decides).

``scripts/interop-setup-js.sh`` installs thoonk.js into ``.interop/js`` (``npm ci`` in a
copy of the snapshot); the same rules apply to the ``test_js_*`` files without Node.js
(fixtures in ``tests/thoonkjs_fixtures.py``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.thoonkjs_fixtures import js, js_driver, js_node, js_peer_state
from tools.interop import TARGET, InteropPeer, PeerState, prepare
from tools.localservers import RedisServer

__all__ = ["js", "js_driver", "js_node"]  # thoonk.js fixtures, for test_js_*.py

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "py2_driver.py"
_skipped: list[str] = []


@functools.cache
def _peer() -> InteropPeer:
    return prepare()


def _is_js(item: pytest.Item) -> bool:
    return item.path.name.startswith("test_js_")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a peer's runtime (and not under CI), leave its interop tests out, said once."""
    ours = [item for item in items if HERE in item.path.parents]
    for is_js, peer in ((False, _peer), (True, js_peer_state)):
        these = [item for item in ours if _is_js(item) is is_js]
        if not these or peer().state is not PeerState.SKIP:
            continue
        config.hook.pytest_deselected(items=these)
        left_out = set(these)
        items[:] = [item for item in items if item not in left_out]
        _skipped.append(f"{len(these)} {peer().message}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _skipped:
        terminalreporter.write_line(line, yellow=True)


@dataclass(frozen=True)
class Py2Env:
    python: str
    pythonpath: Path


@pytest.fixture(scope="session")
def py2_env() -> Py2Env:
    """Python 2.7 with thoonk==1.0.1.0 importable; skips or fails clearly when impossible."""
    peer = _peer()
    if peer.state is not PeerState.READY or peer.python is None:
        pytest.fail(peer.message, pytrace=False)
    python = peer.python
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
