"""Ordered nodes: a Thoonk sorted feed as a pubsub node, whoever created it. Items in the
feed's order (retrieve, max_items, RSM pages, ids), publishes appended or placed by the
position publish-options, edits in place, retract and purge, and the events (publish,
retract, and the position notices of a Thoonk app's moves and inserts)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap, refused
from thoonk_xmpp.service.admin import node_report
from thoonk_xmpp.service.errors import (
    BadRequest,
    InvalidNodeConfig,
    InvalidPlacement,
    ItemNotFound,
    PreconditionNotMet,
)
from thoonk_xmpp.service.events import ItemMoved, ItemPublished, ItemRetracted, NodePurged
from thoonk_xmpp.service.model import NodeKind, NotificationType, Subscription
from thoonk_xmpp.service.service import PageRequest, PubSubService
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, SortedFeed, keys

from .conftest import ALICE, OWNER
from .eventharness import Harness
from .test_events import recipients

ORDERED = {"thoonkx#node_kind": ["sorted_feed"]}
OPTIONS = "http://jabber.org/protocol/pubsub#publish-options"
HEADLINE = NotificationType.HEADLINE


async def order(redis: aioredis.Redis, node: str = "n") -> list[bytes]:
    return list(await redis.lrange(keys.ids(node), 0, -1))


async def ordered_node(service: PubSubService, *ids: str) -> None:
    await service.create_node(OWNER, "n", ORDERED)
    if ids:
        await service.publish(OWNER, "n", [(i, i.encode()) for i in ids])


def at(field: str, value: str) -> dict[str, list[str]]:
    return {"FORM_TYPE": [OPTIONS], f"thoonkx#position_{field}": [value]}


# --- the node ---------------------------------------------------------------------------


async def test_created_over_xmpp_it_is_a_sorted_feed(
    service: PubSubService, redis_client: aioredis.Redis, app: AsyncThoonk
) -> None:
    await ordered_node(service, "a", "b")
    assert await redis_client.hget(keys.config("n"), "type") == b"sorted_feed"
    assert await redis_client.type(keys.ids("n")) == b"list"
    sorted_feed = await app.sorted_feed("n")
    assert await sorted_feed.get_ids() == ["a", "b"]
    meta = await service.metadata("n")
    assert meta.config.node_kind == NodeKind.SORTED_FEED
    assert (await service.get_config(OWNER, "n")).node_kind == NodeKind.SORTED_FEED
    assert await service.list_nodes() == ["n"]
    assert (await node_report(service, OWNER, "n")).items == 2


async def test_a_thoonk_apps_sorted_feed_is_an_ordered_node(
    service: PubSubService, app: AsyncThoonk
) -> None:
    sorted_feed = await app.sorted_feed("app")
    first = await sorted_feed.append("one")
    await sorted_feed.prepend("zero")
    meta = await service.metadata("app")
    assert meta.config.node_kind == NodeKind.SORTED_FEED
    page = await service.get_items(OWNER, "app")
    assert [(i.id, i.payload) for i in page.items] == [
        (str(int(first) + 1), b"zero"),
        (first, b"one"),
    ]


async def test_the_kind_is_chosen_at_creation_only(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "plain")
    await ordered_node(service)
    await refused(
        redis_client,
        InvalidNodeConfig,
        service.configure_node(OWNER, "plain", {"thoonkx#node_kind": ["sorted_feed"]}),
    )
    await refused(
        redis_client,
        InvalidNodeConfig,
        service.configure_node(OWNER, "n", {"thoonkx#node_kind": ["feed"]}),
    )
    await refused(
        redis_client,
        InvalidNodeConfig,
        service.create_node(OWNER, "bad", {"thoonkx#node_kind": ["pyqueue"]}),
    )
    # configuring other options keeps the kind (Thoonk's type); max_items trims nothing
    await service.publish(OWNER, "n", [("a", b""), ("b", b"")])
    await service.configure_node(OWNER, "n", {"pubsub#title": ["t"], "pubsub#max_items": ["1"]})
    assert await redis_client.hget(keys.config("n"), "type") == b"sorted_feed"
    assert await order(redis_client) == [b"a", b"b"]


# --- retrieval in feed order ------------------------------------------------------------------


async def test_items_come_in_feed_order(service: PubSubService, app: AsyncThoonk) -> None:
    await ordered_node(service, "c", "a", "b")
    sorted_feed = await app.sorted_feed("n")
    await sorted_feed.move_first("b")  # b c a
    page = await service.get_items(OWNER, "n")
    assert [i.id for i in page.items] == ["b", "c", "a"]
    assert page.count == 3
    # max_items: the last ones in feed order
    assert [i.id for i in (await service.get_items(OWNER, "n", max_items=2)).items] == ["c", "a"]
    assert [i.id for i in (await service.get_items(OWNER, "n", ids=["a", "b"])).items] == [
        "a",
        "b",
    ]
    assert await service.item_ids(OWNER, "n") == ["b", "c", "a"]
    last = await service.last_item("n")
    assert last is not None and (last.id, last.payload) == ("a", b"a")


async def test_rsm_pages_follow_feed_order(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await ordered_node(service, "e", "d", "c", "b", "a")
    first = await service.get_items(OWNER, "n", page=PageRequest(max=2))
    assert ([i.id for i in first.items], first.count, first.first_index) == (["e", "d"], 5, 0)
    after = await service.get_items(OWNER, "n", page=PageRequest(max=2, after="d"))
    assert [i.id for i in after.items] == ["c", "b"]
    before = await service.get_items(OWNER, "n", page=PageRequest(max=2, before="b"))
    assert [i.id for i in before.items] == ["d", "c"]
    last = await service.get_items(OWNER, "n", page=PageRequest(max=2, before=""))
    assert [i.id for i in last.items] == ["b", "a"]
    indexed = await service.get_items(OWNER, "n", page=PageRequest(max=1, index=3))
    assert [i.id for i in indexed.items] == ["b"]
    await refused(
        redis_client,
        ItemNotFound,
        service.get_items(OWNER, "n", page=PageRequest(max=2, after="nope")),
    )


# --- publishing ---------------------------------------------------------------------------


async def test_publish_appends_and_an_existing_id_is_edited_in_place(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await ordered_node(service, "a", "b")
    async with Tap(redis_client) as tap:
        ids = await service.publish(OWNER, "n", [("a", b"A2"), (None, b"new")])
        published = await tap.rest()
    assert ids[0] == "a" and len(ids[1]) == 32
    assert await order(redis_client) == [b"a", b"b", ids[1].encode()]
    assert await redis_client.hget(keys.items("n"), "a") == b"A2"
    # Thoonk sorted feed notices: an edit on feed.publish with no position notice
    assert published == [
        (keys.publish_channel("n"), b"a\x00A2"),
        (keys.publish_channel("n"), ids[1].encode() + b"\x00new"),
        (keys.position_channel("n"), ids[1].encode() + b"\x00:end"),
    ]


async def test_position_publish_options_place_new_items(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await ordered_node(service, "a", "b")
    await service.publish(OWNER, "n", [("x", b""), ("y", b"")], at("before", "b"))
    assert await order(redis_client) == [b"a", b"x", b"y", b"b"]
    await service.publish(OWNER, "n", [("s1", b""), ("s2", b"")], at("at", "start"))
    assert await order(redis_client) == [b"s1", b"s2", b"a", b"x", b"y", b"b"]
    await service.publish(OWNER, "n", [("z", b"")], at("after", "a"))
    await service.publish(OWNER, "n", [("e", b"")], at("at", "end"))
    assert await order(redis_client) == [b"s1", b"s2", b"a", b"z", b"x", b"y", b"b", b"e"]
    # an existing id is edited where it is, whatever the position says
    await service.publish(OWNER, "n", [("b", b"B")], at("at", "start"))
    assert (await order(redis_client))[6] == b"b"
    # the position is announced with the item
    async with Tap(redis_client) as tap:
        await service.publish(OWNER, "n", [("w", b"W")], at("before", "a"))
        assert await tap.rest() == [
            (keys.publish_channel("n"), b"w\x00W"),
            (keys.position_channel("n"), b"w\x00:a"),
        ]


async def test_a_numeric_id_moves_the_counter_past_it(
    service: PubSubService, redis_client: aioredis.Redis, app: AsyncThoonk
) -> None:
    await ordered_node(service, "7")
    sorted_feed = await app.sorted_feed("n")
    assert await sorted_feed.append("next") == "8"
    assert await order(redis_client) == [b"7", b"8"]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (at("before", "nope"), ItemNotFound),
        (at("after", "nope"), ItemNotFound),
        (at("at", "middle"), InvalidPlacement),
        (at("at", ""), InvalidPlacement),
        (at("before", ""), InvalidPlacement),
        ({"thoonkx#position_at": ["start", "end"]}, InvalidPlacement),
        ({"thoonkx#position_at": ["start"], "thoonkx#position_before": ["a"]}, InvalidPlacement),
        ({**at("at", "start"), "pubsub#title": ["other"]}, PreconditionNotMet),
    ],
)
async def test_bad_positions_change_nothing(
    service: PubSubService,
    redis_client: aioredis.Redis,
    options: dict[str, list[str]],
    error: type[Exception],
) -> None:
    await ordered_node(service, "a")
    caught = await refused(redis_client, error, service.publish(OWNER, "n", [("x", b"")], options))
    if isinstance(caught, ItemNotFound):
        assert "nope" in str(caught)


async def test_positions_only_on_ordered_nodes(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "plain")
    caught = await refused(
        redis_client,
        BadRequest,
        service.publish(OWNER, "plain", [("x", b"")], at("at", "start")),
    )
    assert isinstance(caught, InvalidPlacement)


# --- retract and purge ----------------------------------------------------------------------


async def test_retract_and_purge(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await ordered_node(service, "a", "b", "c")
    await service.retract(OWNER, "n", ["b"])
    assert await order(redis_client) == [b"a", b"c"]
    assert await redis_client.hkeys(keys.items("n")) == [b"a", b"c"]
    await refused(redis_client, ItemNotFound, service.retract(OWNER, "n", ["a", "nope"]))
    await service.purge_node(OWNER, "n")
    assert await order(redis_client) == []
    assert await redis_client.exists(keys.items("n")) == 0


async def test_sorted_feed_retract_many_is_all_or_nothing(
    app: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    sorted_feed = SortedFeed(app, "s", BYTES)
    await app.sorted_feed("s")
    one, two = await sorted_feed.append_many([b"1", b"2"])
    await refused(redis_client, LookupError, sorted_feed.retract_many([one, "nope"]))
    await sorted_feed.retract_many([one, two, one])
    assert await sorted_feed.get_ids() == []


# --- events ---------------------------------------------------------------------------------


async def subscribed(harness: Harness) -> Subscription:
    await harness.service.create_node(OWNER, "n", ORDERED)
    return await harness.service.subscribe(ALICE, "n", ALICE.bare)


async def test_publish_edit_and_retract_events(harness: Harness) -> None:
    alice = await subscribed(harness)
    service = harness.service
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
    await service.publish(OWNER, "n", [("a", b"A")])
    await service.retract(OWNER, "n", ["b"])
    to = recipients(alice)
    # appends bring no position event: the end is where a new item goes
    assert await harness.events() == [
        ItemPublished("n", to, HEADLINE, "a", b"1"),
        ItemPublished("n", to, HEADLINE, "b", b"2"),
        ItemPublished("n", to, HEADLINE, "a", b"A"),
        ItemRetracted("n", to, HEADLINE, "b"),
    ]
    await service.purge_node(OWNER, "n")
    assert await harness.events() == [NodePurged("n", to, HEADLINE)]


async def test_placed_publishes_and_thoonk_moves_reach_subscribers(
    harness: Harness, app: AsyncThoonk
) -> None:
    alice = await subscribed(harness)
    service = harness.service
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
    await service.publish(OWNER, "n", [("x", b"X")], at("at", "start"))
    sorted_feed = await app.sorted_feed("n")
    await sorted_feed.move_after("b", "a")
    await sorted_feed.move_last("x")
    inserted = await sorted_feed.publish_before("b", "I")
    to = recipients(alice)
    assert await harness.events() == [
        ItemPublished("n", to, HEADLINE, "a", b"1"),
        ItemPublished("n", to, HEADLINE, "b", b"2"),
        ItemPublished("n", to, HEADLINE, "x", b"X"),
        ItemMoved("n", to, HEADLINE, "x", "begin:"),
        ItemMoved("n", to, HEADLINE, "a", "b:"),
        ItemMoved("n", to, HEADLINE, "x", ":end"),
        ItemPublished("n", to, HEADLINE, inserted, b"I"),
        ItemMoved("n", to, HEADLINE, inserted, ":b"),
    ]
    assert await sorted_feed.get_ids() == [inserted, "b", "a", "x"]


async def test_events_made_while_the_link_is_down_are_held(harness: Harness) -> None:
    alice = await subscribed(harness)
    service = harness.service
    await service.publish(OWNER, "n", [("a", b"1")])
    to = recipients(alice)
    assert await harness.events() == [ItemPublished("n", to, HEADLINE, "a", b"1")]
    harness.router.link_lost()
    await service.publish(OWNER, "n", [("b", b"2")], at("at", "start"))
    await service.publish(OWNER, "n", [("c", b"3")])
    harness.router.link_up()
    # the catch-up skips ordered nodes (no publication times): their events wait instead
    # (it may send the marker node's items again: they are not looked at here)
    assert [e for e in await harness.events() if e.node == "n"] == [
        ItemPublished("n", to, HEADLINE, "b", b"2"),
        ItemMoved("n", to, HEADLINE, "b", "begin:"),
        ItemPublished("n", to, HEADLINE, "c", b"3"),
    ]
