"""A node's archive (XEP-0313 on pubsub nodes) over the real test Redis: the result set by
time and by id, XEP-0059 pages forwards and backwards with counts, the page cap, who may
read it, which nodes have one, and bad queries refused with nothing changed."""

from __future__ import annotations

import dataclasses

import pytest
import redis.asyncio as aioredis

from tests.dbstate import refused
from thoonk_xmpp.service.archive import ArchiveQuery, score_ms
from thoonk_xmpp.service.errors import (
    BadRequest,
    ClosedNode,
    Forbidden,
    ItemNotFound,
    NoArchive,
    NodeIdRequired,
    NodeNotFound,
)
from thoonk_xmpp.service.model import Affiliation, Item
from thoonk_xmpp.service.service import PageRequest, PubSubService
from thoonk_xmpp.thoonk import keys

from .conftest import ALICE, BOB, OWNER, REMOTE

#: 2026-12-01T00:00:00Z in epoch ms; item iN is published N minutes later.
T0 = 1_796_083_200_000
MINUTE = 60_000


async def history(service: PubSubService, redis: aioredis.Redis, count: int) -> list[str]:
    """Node ``n`` holding i0..i{count-1}, item iN stored as published at T0 + N minutes
    (written as a Thoonk app stores items: score = epoch ms)."""
    await service.create_node(OWNER, "n")
    ids = [f"i{n}" for n in range(count)]
    await redis.zadd(keys.ids("n"), {i: T0 + n * MINUTE for n, i in enumerate(ids)})
    await redis.hset(keys.items("n"), mapping={i: f"<p xmlns='urn:t'>{i}</p>" for i in ids})
    return ids


def ids_of(items: list[Item]) -> list[str]:
    return [item.id for item in items]


async def test_the_whole_archive_oldest_first_with_publication_times(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    ids = await history(service, redis_client, 4)
    page = await service.archive_page(REMOTE, "n", ArchiveQuery())  # open node: anyone
    assert ids_of(page.items) == ids
    assert page.items[1] == Item("i1", b"<p xmlns='urn:t'>i1</p>", T0 + MINUTE)
    assert (page.first_index, page.count, page.complete) == (0, 4, True)


async def test_items_published_through_the_service_have_their_times(
    service: PubSubService,
) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("a", b"<a xmlns='urn:t'/>"), ("b", b"<b xmlns='urn:t'/>")])
    page = await service.archive_page(OWNER, "n", ArchiveQuery())
    assert ids_of(page.items) == ["a", "b"]
    times = [item.published_ms for item in page.items]
    last = await service.last_item("n")
    assert last is not None and last.published_ms == times[1]
    assert times[0] is not None and times[1] is not None and times[0] < times[1]
    # an edit moves the item to the newest place, with its new time
    await service.publish(OWNER, "n", [("a", b"<a2 xmlns='urn:t'/>")])
    page = await service.archive_page(OWNER, "n", ArchiveQuery())
    assert [(i.id, i.payload) for i in page.items] == [
        ("b", b"<b xmlns='urn:t'/>"),
        ("a", b"<a2 xmlns='urn:t'/>"),
    ]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        (ArchiveQuery(start_ms=T0 + 3 * MINUTE), ["i3", "i4", "i5"]),
        (ArchiveQuery(end_ms=T0 + 2 * MINUTE), ["i0", "i1", "i2"]),
        (ArchiveQuery(start_ms=T0 + MINUTE, end_ms=T0 + 3 * MINUTE), ["i1", "i2", "i3"]),
        (ArchiveQuery(start_ms=T0 + MINUTE + 1, end_ms=T0 + 3 * MINUTE - 1), ["i2"]),
        (ArchiveQuery(start_ms=T0 + 2 * MINUTE, end_ms=T0 + 2 * MINUTE), ["i2"]),
        (ArchiveQuery(start_ms=T0 + 9 * MINUTE), []),
        (ArchiveQuery(end_ms=T0 - 1), []),
        (ArchiveQuery(after_id="i3"), ["i4", "i5"]),
        (ArchiveQuery(before_id="i2"), ["i0", "i1"]),
        (ArchiveQuery(after_id="i0", before_id="i4"), ["i1", "i2", "i3"]),
        (ArchiveQuery(after_id="i3", before_id="i1"), []),
        (ArchiveQuery(ids=("i4", "i1", "i4")), ["i1", "i4"]),
        (ArchiveQuery(ids=("i4", "i1"), start_ms=T0 + 2 * MINUTE), ["i4"]),
        (ArchiveQuery(start_ms=T0 + MINUTE, after_id="i2"), ["i3", "i4", "i5"]),
    ],
)
async def test_filters_by_time_and_by_id(
    service: PubSubService, redis_client: aioredis.Redis, query: ArchiveQuery, ids: list[str]
) -> None:
    await history(service, redis_client, 6)
    page = await service.archive_page(OWNER, "n", query)
    assert ids_of(page.items) == ids
    assert page.count == len(ids)
    assert page.first_index == (0 if ids else None)
    assert page.complete


@pytest.mark.parametrize(
    ("paging", "ids", "first_index", "complete"),
    [
        (PageRequest(max=3), ["i2", "i3", "i4"], 0, False),
        (PageRequest(max=3, after="i4"), ["i5", "i6", "i7"], 3, True),
        (PageRequest(max=3, after="i0"), ["i2", "i3", "i4"], 0, False),  # i0: before the set
        (PageRequest(max=2, after="i6"), ["i7"], 5, True),
        (PageRequest(max=2, before=""), ["i6", "i7"], 4, False),
        (PageRequest(max=2, before="i4"), ["i2", "i3"], 0, True),
        (PageRequest(max=9, before="i9"), ["i2", "i3", "i4", "i5", "i6", "i7"], 0, True),
        (PageRequest(max=2, index=3), ["i5", "i6"], 3, False),
        (PageRequest(max=0), [], None, False),  # the count alone
        (PageRequest(max=2, index=6), [], None, True),
    ],
)
async def test_pages_of_a_time_range_forwards_and_backwards(
    service: PubSubService,
    redis_client: aioredis.Redis,
    paging: PageRequest,
    ids: list[str],
    first_index: int | None,
    complete: bool,
) -> None:
    await history(service, redis_client, 10)
    query = ArchiveQuery(start_ms=T0 + 2 * MINUTE, end_ms=T0 + 7 * MINUTE, page=paging)
    page = await service.archive_page(OWNER, "n", query)
    assert ids_of(page.items) == ids
    assert (page.first_index, page.count, page.complete) == (first_index, 6, complete)
    assert page.backwards == (paging.before is not None)


async def test_walking_the_whole_archive_both_ways(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    ids = await history(service, redis_client, 11)
    seen: list[str] = []
    after: str | None = None
    while True:
        page = await service.archive_page(
            OWNER, "n", ArchiveQuery(page=PageRequest(max=4, after=after))
        )
        seen += ids_of(page.items)
        if page.complete:
            break
        after = page.items[-1].id
    assert seen == ids
    back: list[str] = []
    before = ""
    while True:
        page = await service.archive_page(
            OWNER, "n", ArchiveQuery(page=PageRequest(max=4, before=before))
        )
        back = ids_of(page.items) + back
        if page.complete:
            break
        before = page.items[0].id
    assert back == ids


async def test_every_page_is_capped(service: PubSubService, redis_client: aioredis.Redis) -> None:
    service.policy = dataclasses.replace(service.policy, max_archive_page=3)
    await history(service, redis_client, 5)
    for paging in (None, PageRequest(max=100), PageRequest(max=100, before="")):
        page = await service.archive_page(OWNER, "n", ArchiveQuery(page=paging))
        assert len(page.items) == 3
        assert (page.count, page.complete) == (5, False)
    page = await service.archive_page(OWNER, "n", ArchiveQuery(page=PageRequest(max=2)))
    assert ids_of(page.items) == ["i0", "i1"]


async def test_thoonk_py_seconds_are_read_as_times(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    # thoonk.py scores items in epoch seconds (a float); ours and thoonk.js in ms
    await service.create_node(OWNER, "n")
    seconds = T0 / 1000
    await redis_client.zadd(keys.ids("n"), {"py0": seconds, "py1": seconds + 120.5})
    await redis_client.zadd(keys.ids("n"), {"js0": T0 + 60_000, "js1": T0 + 180_000})
    await redis_client.hset(
        keys.items("n"), mapping={"py0": "a", "py1": "b", "js0": "c", "js1": "d"}
    )
    page = await service.archive_page(OWNER, "n", ArchiveQuery())
    assert [(i.id, i.published_ms) for i in page.items] == [
        ("py0", T0),
        ("py1", T0 + 120_500),
        ("js0", T0 + 60_000),
        ("js1", T0 + 180_000),
    ]
    query = ArchiveQuery(start_ms=T0 + 60_000, end_ms=T0 + 150_000)
    assert ids_of((await service.archive_page(OWNER, "n", query)).items) == ["py1", "js0"]
    query = ArchiveQuery(start_ms=T0 + 1, page=PageRequest(max=1, after="py1"))
    page = await service.archive_page(OWNER, "n", query)
    assert (ids_of(page.items), page.first_index, page.count) == (["js0"], 1, 3)
    assert score_ms(b"1796083200.06") == T0 + 60
    # before 1970-01-21 in ms, thoonk.py's scores are bigger: still nothing that early
    early = ArchiveQuery(end_ms=10 * 86_400_000)
    page = await service.archive_page(OWNER, "n", early)
    assert (page.items, page.count) == ([], 0)


async def test_an_id_without_its_item_is_left_out(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    # a feed another client left half-written: the id is counted, but has nothing to send
    await history(service, redis_client, 3)
    await redis_client.hdel(keys.items("n"), "i1")
    page = await service.archive_page(OWNER, "n", ArchiveQuery())
    assert ids_of(page.items) == ["i0", "i2"]


async def test_archive_ends(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "empty")
    assert await service.archive_ends(OWNER, "empty") is None
    await history(service, redis_client, 3)
    assert await service.archive_ends(REMOTE, "n") == (
        Item("i0", b"", T0),
        Item("i2", b"", T0 + 2 * MINUTE),
    )


async def test_bad_queries_change_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await history(service, redis_client, 3)
    for query in (
        ArchiveQuery(after_id="unknown"),
        ArchiveQuery(before_id="unknown"),
        ArchiveQuery(ids=("i1", "unknown")),
        ArchiveQuery(page=PageRequest(after="unknown")),
        ArchiveQuery(page=PageRequest(before="unknown")),
    ):
        error = await refused(redis_client, ItemNotFound, service.archive_page(OWNER, "n", query))
        assert error.item_id == "unknown"
    for query in (
        ArchiveQuery(start_ms=T0 + 1, end_ms=T0),
        ArchiveQuery(page=PageRequest(after="i0", before="i2")),
        ArchiveQuery(page=PageRequest(max=-1)),
        ArchiveQuery(page=PageRequest(index=-1)),
    ):
        await refused(redis_client, BadRequest, service.archive_page(OWNER, "n", query))
    await refused(
        redis_client, NodeNotFound, service.archive_page(OWNER, "missing", ArchiveQuery())
    )
    await refused(redis_client, NodeNotFound, service.archive_ends(OWNER, "missing"))
    await refused(redis_client, NodeIdRequired, service.archive_page(OWNER, "", ArchiveQuery()))


async def test_exactly_who_may_retrieve_items_may_read_the_archive(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await history(service, redis_client, 2)
    await service.configure_node(OWNER, "n", {"pubsub#access_model": ["whitelist"]})
    await service.set_affiliations(
        OWNER, "n", {ALICE.bare: Affiliation.MEMBER, BOB.bare: Affiliation.OUTCAST}
    )
    assert ids_of((await service.archive_page(ALICE, "n", ArchiveQuery())).items) == ["i0", "i1"]
    for actor, error in ((REMOTE, ClosedNode), (BOB, Forbidden)):
        await refused(redis_client, error, service.archive_page(actor, "n", ArchiveQuery()))
        await refused(redis_client, error, service.archive_ends(actor, "n"))
        await refused(redis_client, error, service.check_archive(actor, "n"))


@pytest.mark.parametrize("kind", ["sorted_feed", "job", "queue"])
async def test_ordered_job_and_queue_nodes_have_no_archive(
    service: PubSubService, redis_client: aioredis.Redis, kind: str
) -> None:
    await service.create_node(OWNER, "other", {"thoonkx#node_kind": [kind]})
    await service.publish(OWNER, "other", [(None, b"<a xmlns='urn:t'/>")])
    await refused(redis_client, NoArchive, service.archive_page(OWNER, "other", ArchiveQuery()))
    await refused(redis_client, NoArchive, service.archive_ends(OWNER, "other"))
