"""Items: publish (event types, publish-options, limits, permissions), retract,
and retrieval by id, newest max_items and XEP-0059 pages."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap, refused
from thoonk_xmpp.service.errors import (
    BadRequest,
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
from thoonk_xmpp.service.model import Actor, Affiliation, Item
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk, keys

from .conftest import ADMIN, ALICE, BOB, OWNER, REMOTE, make_policy

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
    await refused(redis_client, Forbidden, service.publish(Actor("x@y.z"), "n", [("s", b"x")]))


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
    await refused(redis_client, ItemRequired, service.retract(OWNER, "n", []))
    await refused(redis_client, BadRequest, service.retract(OWNER, "n", ["a", ""], notify=True))
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


async def test_retract_notify_travels_with_the_retract_notices(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
    async with Tap(redis_client) as tap:
        await service.retract(OWNER, "n", ["a", "b", "a"], notify=True)
        published = await tap.rest()
    assert published == [
        (keys.notify_channel("n"), b"2"),
        (keys.retract_channel("n"), b"a"),
        (keys.retract_channel("n"), b"b"),
    ]
