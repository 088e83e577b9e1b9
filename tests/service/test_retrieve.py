"""Retrieval (XEP-0060 §6.5): by id, the newest max_items, XEP-0059 pages with
count and first index, and who may retrieve."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from tests.dbstate import refused
from thoonk_xmpp.service.errors import (
    BadRequest,
    ClosedNode,
    Forbidden,
    ItemNotFound,
    NodeIdRequired,
    NodeNotFound,
)
from thoonk_xmpp.service.model import Affiliation, Item
from thoonk_xmpp.service.service import PageRequest, PubSubService

from .conftest import ADMIN, ALICE, BOB, OWNER, REMOTE


async def node_with_items(service: PubSubService, count: int) -> list[str]:
    await service.create_node(OWNER, "n")
    ids = [f"i{n}" for n in range(count)]
    await service.publish(OWNER, "n", [(i, i.encode()) for i in ids])
    return ids


def ids_of(items: list[Item]) -> list[str]:
    return [item.id for item in items]


async def test_get_all_items_oldest_first(service: PubSubService) -> None:
    ids = await node_with_items(service, 4)
    page = await service.get_items(REMOTE, "n")  # open node: anyone may retrieve
    assert ids_of(page.items) == ids
    assert page.items[0] == Item("i0", b"i0")
    assert (page.count, page.first_index) == (4, 0)
    assert await service.item_ids(REMOTE, "n") == ids
    last = await service.last_item("n")
    assert last is not None and last.published_ms is not None
    assert last == Item("i3", b"i3", last.published_ms)


async def test_get_items_by_id(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await node_with_items(service, 4)
    page = await service.get_items(OWNER, "n", ids=["i2", "missing", "i0"])
    assert page.items == [Item("i2", b"i2"), Item("i0", b"i0")]
    assert page.count == 2
    error = await refused(redis_client, ItemNotFound, service.get_items(OWNER, "n", ids=["x", "y"]))
    assert error.item_id == "x"


async def test_max_items_gives_the_newest(service: PubSubService) -> None:
    await node_with_items(service, 5)
    page = await service.get_items(OWNER, "n", max_items=2)
    assert ids_of(page.items) == ["i3", "i4"]
    assert (page.count, page.first_index) == (2, 0)
    page = await service.get_items(OWNER, "n", max_items=10)
    assert ids_of(page.items) == ["i0", "i1", "i2", "i3", "i4"]
    assert page.count == 5


async def test_empty_node(service: PubSubService) -> None:
    await service.create_node(OWNER, "n")
    page = await service.get_items(OWNER, "n")
    assert (page.items, page.count, page.first_index) == ([], 0, None)
    assert await service.last_item("n") is None
    page = await service.get_items(OWNER, "n", page=PageRequest(max=3, before=""))
    assert (page.items, page.count, page.first_index) == ([], 0, None)


@pytest.mark.parametrize(
    ("request_", "ids", "first_index"),
    [
        (PageRequest(max=3), ["i0", "i1", "i2"], 0),
        (PageRequest(max=3, after="i2"), ["i3", "i4", "i5"], 3),
        (PageRequest(max=3, after="i8"), ["i9"], 9),
        (PageRequest(after="i6"), ["i7", "i8", "i9"], 7),
        (PageRequest(max=3, before=""), ["i7", "i8", "i9"], 7),
        (PageRequest(max=3, before="i7"), ["i4", "i5", "i6"], 4),
        (PageRequest(max=3, before="i1"), ["i0"], 0),
        (PageRequest(before="i2"), ["i0", "i1"], 0),
        (PageRequest(max=2, index=4), ["i4", "i5"], 4),
        (PageRequest(index=8), ["i8", "i9"], 8),
        (PageRequest(max=2, after="i3", before="i6"), ["i4", "i5"], 4),
    ],
)
async def test_rsm_pages(
    service: PubSubService, request_: PageRequest, ids: list[str], first_index: int
) -> None:
    await node_with_items(service, 10)
    page = await service.get_items(OWNER, "n", page=request_)
    assert ids_of(page.items) == ids
    assert page.count == 10
    assert page.first_index == first_index


@pytest.mark.parametrize(
    "request_",
    [
        PageRequest(max=0),  # count only
        PageRequest(max=3, after="i9"),
        PageRequest(max=3, before="i0"),
        PageRequest(index=10),
        PageRequest(max=5, index=20),
    ],
)
async def test_rsm_empty_pages_still_count(service: PubSubService, request_: PageRequest) -> None:
    await node_with_items(service, 10)
    page = await service.get_items(OWNER, "n", page=request_)
    assert (page.items, page.count, page.first_index) == ([], 10, None)


async def test_rsm_walk_forward_and_backward(service: PubSubService) -> None:
    ids = await node_with_items(service, 7)
    seen: list[str] = []
    after: str | None = None
    while True:
        page = await service.get_items(OWNER, "n", page=PageRequest(max=3, after=after))
        if not page.items:
            break
        assert page.first_index == len(seen)
        seen += ids_of(page.items)
        after = page.items[-1].id
    assert seen == ids
    backwards: list[str] = []
    before = ""
    while True:
        page = await service.get_items(OWNER, "n", page=PageRequest(max=3, before=before))
        if not page.items:
            break
        assert page.first_index == len(ids) - len(backwards) - len(page.items)
        backwards = ids_of(page.items) + backwards
        before = page.items[0].id
    assert backwards == ids


async def test_rsm_within_max_items(service: PubSubService) -> None:
    await node_with_items(service, 10)
    # the result set is the newest 4 (i6..i9); pages count and index within it
    page = await service.get_items(OWNER, "n", max_items=4, page=PageRequest(max=2))
    assert ids_of(page.items) == ["i6", "i7"]
    assert (page.count, page.first_index) == (4, 0)
    page = await service.get_items(OWNER, "n", max_items=4, page=PageRequest(max=2, index=1))
    assert ids_of(page.items) == ["i7", "i8"]
    assert page.first_index == 1
    page = await service.get_items(OWNER, "n", max_items=4, page=PageRequest(max=3, before=""))
    assert ids_of(page.items) == ["i7", "i8", "i9"]
    assert page.first_index == 1
    page = await service.get_items(OWNER, "n", max_items=4, page=PageRequest(after="i1"))
    assert ids_of(page.items) == ["i6", "i7", "i8", "i9"]


async def test_retrieve_errors_change_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await node_with_items(service, 3)
    for request in (
        PageRequest(max=2, after="unknown"),
        PageRequest(max=2, before="unknown"),
    ):
        error = await refused(
            redis_client, ItemNotFound, service.get_items(OWNER, "n", page=request)
        )
        assert error.item_id == "unknown"
    await refused(redis_client, BadRequest, service.get_items(OWNER, "n", page=PageRequest(max=-1)))
    await refused(
        redis_client, BadRequest, service.get_items(OWNER, "n", page=PageRequest(index=-1))
    )
    await refused(redis_client, BadRequest, service.get_items(OWNER, "n", max_items=0))
    await refused(redis_client, NodeNotFound, service.get_items(OWNER, "missing"))
    await refused(redis_client, NodeNotFound, service.item_ids(OWNER, "missing"))
    await refused(redis_client, NodeIdRequired, service.get_items(OWNER, ""))


async def test_retrieve_whitelist_closed_vs_outcast_forbidden(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await node_with_items(service, 2)
    await service.configure_node(OWNER, "n", {"pubsub#access_model": ["whitelist"]})
    await service.set_affiliations(
        OWNER,
        "n",
        {
            ALICE.bare: Affiliation.MEMBER,
            BOB.bare: Affiliation.OUTCAST,
            ADMIN.bare: Affiliation.NONE,
        },
    )
    assert ids_of((await service.get_items(ALICE, "n")).items) == ["i0", "i1"]
    assert ids_of((await service.get_items(OWNER, "n")).items) == ["i0", "i1"]
    await refused(redis_client, ClosedNode, service.get_items(REMOTE, "n"))
    await refused(redis_client, ClosedNode, service.item_ids(REMOTE, "n"))
    await refused(redis_client, Forbidden, service.get_items(BOB, "n"))
    # an outcast stays outcast on an open node too
    await service.configure_node(OWNER, "n", {"pubsub#access_model": ["open"]})
    await refused(redis_client, Forbidden, service.get_items(BOB, "n"))
    assert ids_of((await service.get_items(REMOTE, "n")).items) == ["i0", "i1"]


async def test_publish_only_may_not_retrieve(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await node_with_items(service, 1)
    await service.set_affiliations(OWNER, "n", {BOB.bare: Affiliation.PUBLISH_ONLY})
    await refused(redis_client, Forbidden, service.get_items(BOB, "n"))
