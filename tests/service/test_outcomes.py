"""A write whose Redis connection dropped in flight is answered with its real outcome.

The dropped connection is injected around the real script call (the write
runs, or not, on the real Redis of the test session); what is checked is that
the service neither reports an error for a write that happened nor makes a
write twice.  Also: the nodes-per-owner limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.dbstate import refused
from thoonk_xmpp.service.errors import OutcomeUnknown, TooManyNodes
from thoonk_xmpp.service.outcomes import settled
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, ConnectionLost, Feed

from .conftest import ADMIN, ALICE, OWNER, make_policy


def lose_the_connection(
    monkeypatch: pytest.MonkeyPatch, name: str, *, after_running: bool
) -> list[int]:
    """Make the first call of ``Feed.<name>`` fail with ConnectionLost, before or after
    it ran on Redis; returns the list its calls are counted in."""
    real: Callable[..., Awaitable[Any]] = getattr(Feed, name)
    calls: list[int] = []

    async def flaky(self: Feed[Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            if after_running:
                await real(self, *args, **kwargs)
            raise ConnectionLost("connection lost with the command in flight")
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(Feed, name, flaky)
    return calls


@pytest.mark.parametrize("after_running", [True, False])
async def test_a_publish_is_stored_once_whether_or_not_it_ran_before_the_loss(
    service: PubSubService, monkeypatch: pytest.MonkeyPatch, after_running: bool
) -> None:
    await service.create_node(OWNER, "n")
    calls = lose_the_connection(monkeypatch, "publish_many", after_running=after_running)
    ids = await service.publish(
        OWNER, "n", [(None, b"<x xmlns='t'/>"), ("given", b"<y xmlns='t'/>")]
    )
    assert len(calls) == (1 if after_running else 2)  # run again only when it had not run
    feed = Feed(service.thoonk, "n", BYTES)
    assert await feed.get_ids() == ids
    assert ids[1] == "given"


@pytest.mark.parametrize("after_running", [True, False])
async def test_a_retract_whose_connection_dropped_succeeds_once(
    service: PubSubService, monkeypatch: pytest.MonkeyPatch, after_running: bool
) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
    calls = lose_the_connection(monkeypatch, "retract_many", after_running=after_running)
    await service.retract(OWNER, "n", ["a"])
    assert len(calls) == (1 if after_running else 2)
    assert await Feed(service.thoonk, "n", BYTES).get_ids() == ["b"]


async def test_redis_away_too_long_leaves_the_outcome_unknown() -> None:
    async def write() -> str:
        raise ConnectionLost("gone")

    async def happened() -> str | None:
        raise ConnectionLost("still gone")

    with pytest.raises(OutcomeUnknown):
        await settled(write, happened, patience=0.2)


async def test_an_owner_may_hold_only_so_many_nodes(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    service = PubSubService(thoonk, make_policy(max_nodes_per_owner=2))
    await service.create_node(ALICE, "one")
    await service.create_node(ALICE, "two")
    error = await refused(redis_client, TooManyNodes, service.create_node(ALICE, "three"))
    assert error.limit == 2
    await service.create_node(OWNER, "owner's own")  # the limit is per owner
    await service.create_node(ADMIN, "a1")
    await service.create_node(ADMIN, "a2")
    await service.create_node(ADMIN, "a3")  # admins are not limited
    await service.delete_node(ALICE, "one")
    await service.create_node(ALICE, "three")  # room again after a delete
