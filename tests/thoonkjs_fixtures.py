"""Fixtures running the original thoonk.js 0.5.5 (``tools/thoonkjs.py``): import them into
a conftest or a test module that needs a thoonk.js peer.

``js_node`` prepares the peer once (``scripts/interop-setup-js.sh``, ``tools/interop.py``
decides): without Node.js, npm or the snapshot the test is skipped with one line saying
so, except under ``CI=true``, where that fails it. One node process
(``tools/thoonkjs_driver.js``) serves the session; each test gets fresh thoonk.js
clients on its freshly flushed database.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tools.interop import InteropPeer, PeerState, prepare_js
from tools.localservers import RedisServer
from tools.thoonkjs import JsPeer


@functools.cache
def js_peer_state() -> InteropPeer:
    """Whether thoonk.js can run here (the setup runs once per session)."""
    return prepare_js()


@pytest.fixture(scope="session")
def js_node() -> str:
    """node's path, with thoonk.js 0.5.5 installed; skips or fails clearly when impossible."""
    peer = js_peer_state()
    if peer.state is PeerState.SKIP:
        pytest.skip(peer.message)
    if peer.state is not PeerState.READY or peer.python is None:
        pytest.fail(peer.message, pytrace=False)
    return peer.python


@pytest.fixture(scope="session")
async def js_driver(
    js_node: str, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[JsPeer]:
    """The session's node process driving thoonk.js on the session's Redis."""
    stderr = tmp_path_factory.mktemp("thoonkjs") / "driver.stderr"
    peer = await JsPeer.start(js_node, redis_server.port, stderr)
    try:
        yield peer
    finally:
        await peer.close()


@pytest.fixture
async def js(js_driver: JsPeer, redis_client: aioredis.Redis) -> AsyncIterator[JsPeer]:
    """thoonk.js with a fresh, listening client 0 on the freshly flushed test database.

    A test fails if thoonk.js threw outside a request (a crash of the original that the
    test did not expect and take from ``js.uncaught``).
    """
    await js_driver.reset()
    yield js_driver
    assert js_driver.uncaught == [], "\n".join(js_driver.uncaught)
