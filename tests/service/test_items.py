"""Items: publish (event types, publish-options, limits, permissions), retract,
and retrieval by id, newest max_items and XEP-0059 pages."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.service.errors import (
    BadRequest,
    ClosedNode,
    Forbidden,
    ItemForbidden,
    ItemNotFound,
    ItemRequired,
    NodeIdRequired,
    NodeNotFound,
    PayloadRequired,
    PayloadTooBig,
    PreconditionNotMet,
)
from thoonk_xmpp.service.model import Affiliation, Item
from thoonk_xmpp.service.service import PageRequest, PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk, keys

from .conftest import ADMIN, ALICE, BOB, OWNER, REMOTE, make_policy
from .dbstate import Tap, refused

PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options"


async def ids_in_redis(redis: aioredis.Redis, node: str) -> list[bytes]:
    return list(await redis.zrange(keys.ids(node), 0, -1))


# --- publish ------------------------------------------------------------------------------


async def test_publish_with_and_without_ids(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    async with Tap(redis_client) as tap:
        ids = await service.publish(OWNER, "n", [("first", b"<a/>"), (None, b"<b/>")])
        published = await tap.rest()
    assert ids[0] == "first"
    assert len(ids[1]) == 32
    assert await ids_in_redis(redis_client, "n") == [b"first", ids[1].encode()]
    assert await redis_client.hget(keys.items("n"), "first") == b"<a/>"
    # plain Thoonk publish notices: <id>\0<item>
    assert published == [
        (keys.publish_channel("n"), b"first\x00<a/>"),
        (keys.publish_channel("n"), ids[1].encode() + b"\x00<b/>"),
    ]


async def test_republish_same_id_replaces_and_moves_to_newest(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
    async with Tap(redis_client) as tap:
        await service.publish(OWNER, "n", [("a", b"1b")])
        published = await tap.rest()
    assert published == [(keys.edit_channel("n"), b"a\x001b")]
    page = await service.get_items(OWNER, "n")
    assert page.items == [Item("b", b"2"), Item("a", b"1b")]


async def test_publish_permissions(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    await service.set_affiliations(
        OWNER,
        "n",
        {
            ALICE.bare: Affiliation.PUBLISHER,
            BOB.bare: Affiliation.PUBLISH_ONLY,
            REMOTE.bare: Affiliation.MEMBER,
        },
    )
    assert await service.publish(ALICE, "n", [("p", b"x")]) == ["p"]
    assert await service.publish(BOB, "n", [("q", b"x")]) == ["q"]
    assert await service.publish(ADMIN, "n", [("r", b"x")]) == ["r"]
    await refused(redis_client, Forbidden, service.publish(REMOTE, "n", [("s", b"x")]))
    await refused(
        redis_client, Forbidden, service.publish(OWNER.__class__("x@y.z"), "n", [("s", b"x")])
    )


async def test_publish_model_open_and_subscribers(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "open", {"pubsub#publish_model": ["open"]})
    assert await service.publish(REMOTE, "open", [("a", b"x")]) == ["a"]
    await service.set_affiliations(OWNER, "open", {REMOTE.bare: Affiliation.OUTCAST})
    await refused(redis_client, Forbidden, service.publish(REMOTE, "open", [("b", b"x")]))

    await service.create_node(OWNER, "subs", {"pubsub#publish_model": ["subscribers"]})
    await refused(redis_client, Forbidden, service.publish(ALICE, "subs", [("a", b"x")]))
    await service.subscribe(ALICE, "subs", ALICE.bare + "/laptop")
    assert await service.publish(ALICE, "subs", [("a", b"x")]) == ["a"]


async def test_publish_errors_change_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("a", b"1")])
    await refused(redis_client, NodeNotFound, service.publish(OWNER, "missing", [("a", b"1")]))
    await refused(redis_client, NodeIdRequired, service.publish(OWNER, "", [("a", b"1")]))
    await refused(redis_client, BadRequest, service.publish(OWNER, "n", [("", b"1")]))
    await refused(
        redis_client, BadRequest, service.publish(OWNER, "n", [("ok", b"1"), ("a\x00b", b"2")])
    )


async def test_item_required_on_persistent_and_payload_nodes(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "persistent")
    await service.create_node(OWNER, "transient", {"pubsub#persist_items": ["0"]})
    for node in ("persistent", "transient"):
        await refused(redis_client, ItemRequired, service.publish(OWNER, node, []))
        error = await refused(
            redis_client,
            PayloadRequired,
            service.publish(OWNER, node, [("ok", b"x"), ("empty", None)]),
        )
        assert isinstance(error, ItemRequired)


async def test_persistent_notification_only_node_takes_empty_items(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n", {"pubsub#deliver_payloads": ["0"]})
    await refused(redis_client, ItemRequired, service.publish(OWNER, "n", []))
    assert await service.publish(OWNER, "n", [("empty", None), ("full", b"<x/>")]) == [
        "empty",
        "full",
    ]
    page = await service.get_items(OWNER, "n")
    assert page.items == [Item("empty", b""), Item("full", b"<x/>")]


async def test_transient_notification_only_node_forbids_items(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(
        OWNER, "n", {"pubsub#deliver_payloads": ["0"], "pubsub#persist_items": ["0"]}
    )
    await refused(redis_client, ItemForbidden, service.publish(OWNER, "n", [("a", b"<x/>")]))
    await refused(redis_client, ItemForbidden, service.publish(OWNER, "n", [("a", None)]))
    await refused(redis_client, ItemForbidden, service.publish(OWNER, "n", [(None, None)]))
    async with Tap(redis_client) as tap:
        ids = await service.publish(OWNER, "n", [])
        published = await tap.rest()
    # a bare notification: nothing stored, one publish notice with an empty item
    assert len(ids) == 1
    assert published == [(keys.publish_channel("n"), ids[0].encode() + b"\x00")]
    assert await redis_client.exists(keys.ids("n"), keys.items("n")) == 0


async def test_payload_too_big(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n", {"pubsub#max_payload_size": ["4"]})
    assert await service.publish(OWNER, "n", [("fits", b"1234")]) == ["fits"]
    error = await refused(
        redis_client,
        PayloadTooBig,
        service.publish(OWNER, "n", [("small", b"1"), ("big", b"12345")]),
    )
    assert (error.size, error.limit) == (5, 4)
    assert await ids_in_redis(redis_client, "n") == [b"fits"]


# --- publish-options ---------------------------------------------------------------------


async def test_preconditions_met(service: PubSubService) -> None:
    await service.create_node(
        OWNER, "n", {"pubsub#access_model": ["whitelist"], "pubsub#max_items": ["5"]}
    )
    ids = await service.publish(
        OWNER,
        "n",
        [("a", b"x")],
        {
            "FORM_TYPE": [PUBLISH_OPTIONS],
            "pubsub#access_model": ["whitelist"],
            "pubsub#max_items": ["5"],
            "pubsub#persist_items": ["true"],
            "pubsub#deliver_payloads": ["1"],
        },
    )
    assert ids == ["a"]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("pubsub#access_model", "whitelist"),  # mismatch
        ("pubsub#access_model", "presence"),  # a model this service has not
        ("pubsub#persist_items", "0"),
        ("pubsub#max_items", "7"),
        ("pubsub#max_items", "nonsense"),
        ("pubsub#title", "other"),
        ("pubsub#unknown_option", "1"),  # unknown fields are refused
        ("pubsub#collection", ""),
    ],
)
async def test_precondition_not_met_names_the_field_and_publishes_nothing(
    service: PubSubService, redis_client: aioredis.Redis, var: str, value: str
) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("old", b"x")])
    error = await refused(
        redis_client,
        PreconditionNotMet,
        service.publish(
            OWNER,
            "n",
            [("a", b"x")],
            {"FORM_TYPE": [PUBLISH_OPTIONS], "pubsub#deliver_payloads": ["1"], var: [value]},
        ),
    )
    assert error.field == var
    assert var in str(error)


async def test_precondition_max_items_max_is_the_cap(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    service = PubSubService(thoonk, make_policy(max_items_cap=50))
    await service.create_node(OWNER, "n")
    assert await service.publish(OWNER, "n", [("a", b"x")], {"pubsub#max_items": ["max"]})
    assert await service.publish(OWNER, "n", [("b", b"x")], {"pubsub#max_items": ["50"]})
    await service.configure_node(OWNER, "n", {"pubsub#max_items": ["10"]})
    error = await refused(
        redis_client,
        PreconditionNotMet,
        service.publish(OWNER, "n", [("c", b"x")], {"pubsub#max_items": ["max"]}),
    )
    assert error.field == "pubsub#max_items"


# --- retract ------------------------------------------------------------------------------


async def test_retract_several(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2"), ("c", b"3")])
    async with Tap(redis_client) as tap:
        await service.retract(OWNER, "n", ["c", "a"])
        published = await tap.rest()
    assert published == [(keys.retract_channel("n"), b"c"), (keys.retract_channel("n"), b"a")]
    assert await service.item_ids(OWNER, "n") == ["b"]
    assert service.forced_retract_notices == set()


async def test_retract_is_all_or_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
    error = await refused(
        redis_client, ItemNotFound, service.retract(OWNER, "n", ["a", "nope", "b"], notify=True)
    )
    assert error.item_id == "nope"
    assert error.node == "n"
    assert service.forced_retract_notices == set()
    await refused(redis_client, ItemRequired, service.retract(OWNER, "n", []))
    await refused(redis_client, BadRequest, service.retract(OWNER, "n", ["a", ""], notify=True))
    assert service.forced_retract_notices == set()
    await refused(redis_client, NodeNotFound, service.retract(OWNER, "missing", ["a"]))


async def test_retract_permissions(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2"), ("c", b"3")])
    await service.set_affiliations(
        OWNER,
        "n",
        {
            ALICE.bare: Affiliation.PUBLISHER,
            BOB.bare: Affiliation.PUBLISH_ONLY,
            REMOTE.bare: Affiliation.MEMBER,
        },
    )
    # publish-only could only remove its own items, which Thoonk cannot tell apart
    await refused(redis_client, Forbidden, service.retract(BOB, "n", ["a"]))
    await refused(redis_client, Forbidden, service.retract(REMOTE, "n", ["a"]))
    await service.retract(ALICE, "n", ["a"])
    await service.retract(ADMIN, "n", ["b"])
    await service.retract(OWNER, "n", ["c"])
    assert await service.item_ids(OWNER, "n") == []


async def test_retract_notify_is_remembered_for_the_router(service: PubSubService) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
    await service.retract(OWNER, "n", ["a", "b"], notify=True)
    assert service.forced_retract_notices == {("n", "a"), ("n", "b")}


# --- retrieve -----------------------------------------------------------------------------


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
    assert await service.last_item("n") == Item("i3", b"i3")


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
