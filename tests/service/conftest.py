"""A PubSubService on the real test Redis, with a few actors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.service.model import Actor, NodeCreation
from thoonk_xmpp.service.policy import ServicePolicy
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk
from tools.localservers import RedisServer

from .admincli import AdminCli, write_settings
from .eventharness import ADMIN, Harness, RecordingSink, start_harness

OWNER = Actor("owner@example.org")
ALICE = Actor("alice@example.org")
BOB = Actor("bob@example.org")
REMOTE = Actor("eve@remote.example")


def make_policy(**changes: object) -> ServicePolicy:
    base: dict[str, object] = {
        "admins": frozenset({ADMIN.bare}),
        "node_creation": NodeCreation.LOCAL,
        "local_domains": frozenset({"example.org"}),
    }
    base.update(changes)
    return ServicePolicy(**base)  # type: ignore[arg-type]


@pytest.fixture
def service(thoonk: AsyncThoonk) -> PubSubService:
    return PubSubService(thoonk, make_policy())


@pytest.fixture
async def harness(service: PubSubService) -> AsyncIterator[Harness]:
    """The service's notices routed to a recording sink."""
    started = await start_harness(service, RecordingSink())
    try:
        yield started
    finally:
        await started.router.aclose()


@pytest.fixture
async def app(redis_server: RedisServer) -> AsyncIterator[AsyncThoonk]:
    """A separate plain Thoonk client, as a Thoonk application would use."""
    async with AsyncThoonk.from_url(redis_server.url) as client:
        yield client


@pytest.fixture
def cli(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> AdminCli:
    """The admin CLI run in process on settings pointing at the session's Redis (flushed)."""
    return AdminCli(write_settings(tmp_path / "thoonk_xmpp.toml", redis_server.url), capsys)
