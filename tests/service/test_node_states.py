"""The node state cache: reads once, forgets on every change notice and on our own writes,
never keeps a read that raced a change, and trusts nothing across listener epochs."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.service.access import Action
from thoonk_xmpp.service.errors import ClosedNode, Forbidden, NodeNotFound, PubSubError
from thoonk_xmpp.service.model import Actor, Affiliation
from thoonk_xmpp.service.node_states import NodeState, NodeStates
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.service.store import NodeStore
from thoonk_xmpp.thoonk import AsyncThoonk, Notice, NoticeKind, keys
from tools.localservers import RedisServer

from .conftest import ALICE, BOB, OWNER, make_policy


class CountedLoads:
    """Wraps a store's loader; counts the nodes it read."""

    def __init__(self, store: NodeStore) -> None:
        self.inner = store.states._load
        self.reads: list[str] = []
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()
        store.states._load = self  # type: ignore[method-assign,assignment]

    async def __call__(self, nodes: list[str]) -> dict[str, NodeState]:
        self.reads += nodes
        loaded = await self.inner(nodes)
        self.started.set()
        gate, self.gate = self.gate, None  # holds back only the next read
        if gate is not None:
            await gate.wait()
        return loaded


async def refusal(service: PubSubService, actor: Actor, node: str, action: Action) -> object:
    """The error class ``check`` raises now, or None when it allows the action."""
    try:
        await service.check(actor, node, action)
    except PubSubError as exc:
        return type(exc)
    return None


async def until_refused_with(
    expected: type[PubSubError] | None,
    service: PubSubService,
    actor: Actor,
    node: str,
    action: Action,
) -> None:
    """Poll ``check`` (up to 3 s) until it answers ``expected`` (None: allowed)."""
    async with asyncio.timeout(3.0):
        # polls Redis-backed state until a notice lands, not a local flag
        while await refusal(service, actor, node, action) is not expected:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def settle(thoonk: AsyncThoonk) -> None:
    """Return once every notice sent so far reached the listener (one connection, in order)."""
    marker = f"settle-{uuid.uuid4().hex}"
    heard = asyncio.Event()

    def sink(notice: Notice) -> None:
        if notice.kind == NoticeKind.STATE and notice.feed == marker:
            heard.set()

    thoonk.listener.add_sink(sink)
    await thoonk.redis.publish(keys.state_channel(marker), b"")
    async with asyncio.timeout(5):
        await heard.wait()


@pytest.fixture
async def other(redis_server: RedisServer) -> AsyncIterator[PubSubService]:
    """A second service on its own client: another component on the same Redis."""
    async with AsyncThoonk.from_url(redis_server.url) as client:
        yield PubSubService(client, make_policy())


async def test_checks_read_the_node_once(service: PubSubService, thoonk: AsyncThoonk) -> None:
    await service.create_node(OWNER, "n")
    await settle(thoonk)  # the create's own notices forget "n" when they come
    loads = CountedLoads(service.store)
    for _ in range(5):
        await service.check(OWNER, "n", Action.PUBLISH)
    assert loads.reads == ["n"]


async def test_own_writes_are_seen_at_once(service: PubSubService) -> None:
    await service.create_node(OWNER, "n", {"pubsub#publish_model": ["subscribers"]})
    with pytest.raises(Forbidden):
        await service.check(ALICE, "n", Action.PUBLISH)
    await service.subscribe(ALICE, "n", ALICE.bare)
    # no await between the write and the check: the notice has not been heard yet
    assert "n" not in service.store.states
    assert (await service.check(ALICE, "n", Action.PUBLISH)).subscribed


async def test_a_change_by_another_component_is_seen_after_its_notice(
    service: PubSubService, other: PubSubService
) -> None:
    await service.create_node(OWNER, "n")
    with pytest.raises(Forbidden):
        await service.check(BOB, "n", Action.PUBLISH)
    loads = CountedLoads(service.store)
    await other.set_affiliations(OWNER, "n", {BOB.bare: Affiliation.PUBLISHER})
    await until_refused_with(None, service, BOB, "n", Action.PUBLISH)
    assert loads.reads  # read again because of the state notice, not served stale


async def test_a_config_change_by_a_thoonk_app_is_seen_after_its_notice(
    service: PubSubService, thoonk: AsyncThoonk, app: AsyncThoonk
) -> None:
    await service.create_node(OWNER, "n")
    await settle(thoonk)  # the create's own notices, which would forget "n" too, are heard
    await service.check(ALICE, "n", Action.SUBSCRIBE)
    assert "n" in service.store.states
    await app.set_config("n", {"pubsub#access_model": "whitelist"})
    await until_refused_with(ClosedNode, service, ALICE, "n", Action.SUBSCRIBE)


async def test_a_feed_deleted_by_a_thoonk_app_is_gone_after_its_notice(
    service: PubSubService, thoonk: AsyncThoonk, app: AsyncThoonk
) -> None:
    await service.create_node(OWNER, "n")
    await settle(thoonk)
    await service.check(OWNER, "n", Action.PUBLISH)
    assert "n" in service.store.states
    await app.delete_feed("n")
    await until_refused_with(NodeNotFound, service, OWNER, "n", Action.PUBLISH)


@contextlib.asynccontextmanager
async def notices_held(thoonk: AsyncThoonk) -> AsyncIterator[None]:
    """Hold the listener (no notice reaches any sink) until the block ends."""
    marker = f"hold-{uuid.uuid4().hex}"
    holding, release = asyncio.Event(), asyncio.Event()

    def sink(notice: Notice) -> Awaitable[None] | None:
        if notice.kind != NoticeKind.STATE or notice.feed != marker:
            return None
        holding.set()
        return release.wait()  # the listener reads nothing more until this is done

    thoonk.listener.add_sink(sink)
    await thoonk.redis.publish(keys.state_channel(marker), b"")
    async with asyncio.timeout(5):
        await holding.wait()
    try:
        yield
    finally:
        release.set()


async def test_own_configuration_is_seen_before_its_notice(
    service: PubSubService, thoonk: AsyncThoonk
) -> None:
    await service.create_node(OWNER, "n")
    await settle(thoonk)
    await service.check(ALICE, "n", Action.SUBSCRIBE)
    assert "n" in service.store.states
    async with notices_held(thoonk):
        await service.configure_node(OWNER, "n", {"pubsub#access_model": ["whitelist"]})
        assert "n" not in service.store.states
        assert await refusal(service, ALICE, "n", Action.SUBSCRIBE) is ClosedNode


async def test_a_read_that_raced_a_change_is_not_kept(
    service: PubSubService, thoonk: AsyncThoonk
) -> None:
    await service.create_node(OWNER, "n")
    await settle(thoonk)
    loads = CountedLoads(service.store)
    gate = loads.gate = asyncio.Event()
    reading = asyncio.create_task(service.store.state("n"))
    await loads.started.wait()
    await service.subscribe(ALICE, "n", ALICE.bare)  # forgets "n" while the read is out
    gate.set()
    stale = await reading
    assert ALICE.bare not in stale.subscribers
    assert "n" not in service.store.states
    assert ALICE.bare in (await service.store.state("n")).subscribers


async def test_without_a_listener_every_check_reads_redis(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    async with AsyncThoonk.from_url(redis_server.url) as client:
        service = PubSubService(client, make_policy())
        await service.create_node(OWNER, "n")
        loads = CountedLoads(service.store)
        await service.check(OWNER, "n", Action.PUBLISH)
        await service.check(OWNER, "n", Action.PUBLISH)
        assert loads.reads == ["n", "n"]


async def test_a_new_listener_epoch_starts_empty(
    service: PubSubService, thoonk: AsyncThoonk
) -> None:
    await service.create_node(OWNER, "n")
    await settle(thoonk)
    await service.check(OWNER, "n", Action.PUBLISH)
    assert "n" in service.store.states
    await thoonk.listener.stop()  # notices sent now would be lost
    loads = CountedLoads(service.store)
    await service.check(OWNER, "n", Action.PUBLISH)
    await thoonk.listener.start()
    await service.check(OWNER, "n", Action.PUBLISH)
    assert loads.reads == ["n", "n"]
    await service.check(OWNER, "n", Action.PUBLISH)
    assert loads.reads == ["n", "n"]


async def test_the_cache_keeps_the_most_recently_used_nodes(service: PubSubService) -> None:
    states = NodeStates(service.store._read_states, service.thoonk.listener, size=2)
    for node in ("a", "b", "c"):
        await service.create_node(OWNER, node)
    await settle(service.thoonk)
    await states.get_many(["a", "b"])
    await states.get_many(["a"])  # "a" is now the most recent
    await states.get_many(["c"])
    assert ("a" in states, "b" in states, "c" in states) == (True, False, True)
    assert len(states) == 2


async def test_a_missing_node_is_not_found_and_its_creation_is_seen(
    service: PubSubService, other: PubSubService
) -> None:
    with pytest.raises(NodeNotFound):
        await service.check(OWNER, "later", Action.PUBLISH)
    await other.create_node(OWNER, "later")
    await until_refused_with(None, service, OWNER, "later", Action.PUBLISH)
