"""Node lifecycle: create (policy, instant nodes), configure through the Thoonk config
hash, delete with its tombstone, purge, metadata and listing."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap, refused, snapshot
from thoonk_xmpp.service.errors import (
    BadRequest,
    Forbidden,
    InvalidNodeConfig,
    NodeExists,
    NodeIdRequired,
    NodeNotFound,
)
from thoonk_xmpp.service.model import AccessModel, Actor, Affiliation, NodeCreation
from thoonk_xmpp.service.node_config import NodeConfig
from thoonk_xmpp.service.service import CREATION_DATE, CREATOR, PubSubService
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, keys

from .conftest import ADMIN, ALICE, BOB, OWNER, REMOTE, make_policy


async def stored_config(redis: aioredis.Redis, node: str) -> dict[str, str]:
    raw = await redis.hgetall(keys.config(node))
    return {k.decode(): v.decode() for k, v in raw.items()}


# --- create ---------------------------------------------------------------------------


async def test_create_writes_a_thoonk_feed_and_makes_the_creator_owner(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    async with Tap(redis_client) as tap:
        assert await service.create_node(OWNER, "news") == "news"
        published = await tap.rest()
    assert await redis_client.smembers(keys.FEEDS) == {b"news"}
    stored = await stored_config(redis_client, "news")
    assert stored["type"] == "feed"
    assert stored[CREATOR] == OWNER.bare
    assert stored[CREATION_DATE].endswith("Z")
    assert stored["persist"] == "true"
    assert "max_length" not in stored
    assert stored["pubsub#access_model"] == "open"
    assert await redis_client.hgetall(keys.node_affiliations("news")) == {
        OWNER.bare.encode(): b"owner"
    }
    assert await redis_client.smembers(keys.jid_affiliations(OWNER.bare)) == {b"news"}
    # the same registry notices as a Thoonk create
    assert [channel for channel, _ in published] == [keys.NEWFEED, keys.CONFFEED]
    name, _, instance = published[0][1].partition(b"\x00")
    assert name == b"news"
    assert instance == service.thoonk.instance.encode()
    # and a Thoonk client sees a plain feed it can use
    assert await service.thoonk.feed_type("news") == "feed"


async def test_create_with_config(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(
        OWNER,
        "n",
        {"pubsub#max_items": ["3"], "pubsub#access_model": ["whitelist"], "pubsub#title": ["T"]},
    )
    stored = await stored_config(redis_client, "n")
    assert stored["max_length"] == "3"
    assert stored["pubsub#access_model"] == "whitelist"
    assert stored["pubsub#title"] == "T"
    config = await service.get_config(OWNER, "n")
    assert config == NodeConfig(max_items=3, access_model=AccessModel.WHITELIST, title="T")


async def test_create_bad_config_names_the_field_and_changes_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    error = await refused(
        redis_client,
        InvalidNodeConfig,
        service.create_node(OWNER, "n", {"pubsub#max_items": ["0"]}),
    )
    assert error.field == "pubsub#max_items"
    error = await refused(
        redis_client,
        InvalidNodeConfig,
        service.create_node(OWNER, "n", {"pubsub#bogus": ["1"]}),
    )
    assert error.field == "pubsub#bogus"


async def test_instant_node(service: PubSubService, redis_client: aioredis.Redis) -> None:
    first = await service.create_node(ALICE, None)
    second = await service.create_node(ALICE, None)
    assert first != second
    assert len(first) >= 16
    assert await redis_client.smembers(keys.FEEDS) == {first.encode(), second.encode()}
    assert await service.own_affiliations(ALICE) == {
        first: Affiliation.OWNER,
        second: Affiliation.OWNER,
    }


async def test_create_existing_node(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    await refused(redis_client, NodeExists, service.create_node(ALICE, "n"))
    # a feed made by a Thoonk app counts too
    await service.thoonk.create_feed("app-feed", {"max_length": 4})
    await refused(redis_client, NodeExists, service.create_node(ALICE, "app-feed"))


@pytest.mark.parametrize("name", ["", "a\x00b"])
async def test_create_invalid_node_id(
    service: PubSubService, redis_client: aioredis.Redis, name: str
) -> None:
    await refused(redis_client, BadRequest, service.create_node(OWNER, name))


@pytest.mark.parametrize(
    ("creation", "allowed", "refused_actors"),
    [
        (NodeCreation.ANYONE, [OWNER, REMOTE], []),
        (NodeCreation.LOCAL, [OWNER, ALICE], [REMOTE]),
        (NodeCreation.LIST, [BOB], [ALICE, REMOTE]),
    ],
)
async def test_creation_policy(
    thoonk: AsyncThoonk,
    redis_client: aioredis.Redis,
    creation: NodeCreation,
    allowed: list[Actor],
    refused_actors: list[Actor],
) -> None:
    service = PubSubService(
        thoonk, make_policy(node_creation=creation, creators=frozenset({BOB.bare}))
    )
    for actor in refused_actors:
        await refused(redis_client, Forbidden, service.create_node(actor, "x"))
        await refused(redis_client, Forbidden, service.create_node(actor, None))
    # admins always may
    await service.create_node(ADMIN, f"admin-{creation}")
    for actor in allowed:
        assert await service.create_node(actor, f"{actor.bare}-{creation}")


async def test_local_policy_without_domains_refuses_everyone_but_admins(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    service = PubSubService(thoonk, make_policy(local_domains=frozenset()))
    await refused(redis_client, Forbidden, service.create_node(OWNER, "x"))
    await service.create_node(ADMIN, "x")


async def test_max_items_cap_applies_to_max(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    service = PubSubService(thoonk, make_policy(max_items_cap=5))
    await service.create_node(OWNER, "capped")
    assert (await stored_config(redis_client, "capped"))["max_length"] == "5"
    await refused(
        redis_client,
        InvalidNodeConfig,
        service.create_node(OWNER, "big", {"pubsub#max_items": ["6"]}),
    )
    await refused(
        redis_client,
        InvalidNodeConfig,
        service.configure_node(OWNER, "capped", {"pubsub#max_items": ["6"]}),
    )
    await service.configure_node(OWNER, "capped", {"pubsub#max_items": ["2"]})
    assert (await stored_config(redis_client, "capped"))["max_length"] == "2"
    await service.configure_node(OWNER, "capped", {"pubsub#max_items": ["max"]})
    assert (await stored_config(redis_client, "capped"))["max_length"] == "5"


async def test_defaults_from_policy(thoonk: AsyncThoonk, redis_client: aioredis.Redis) -> None:
    defaults = NodeConfig(notify_config=True, max_items=10, access_model=AccessModel.WHITELIST)
    service = PubSubService(thoonk, make_policy(defaults=defaults))
    assert service.default_config() == defaults
    await service.create_node(OWNER, "n")
    assert await service.get_config(OWNER, "n") == defaults
    assert (await stored_config(redis_client, "n"))["max_length"] == "10"


# --- configure ------------------------------------------------------------------------


async def test_configure_round_trip_through_the_thoonk_hash(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    async with Tap(redis_client) as tap:
        updated = await service.configure_node(
            OWNER,
            "n",
            {
                "FORM_TYPE": ["http://jabber.org/protocol/pubsub#node_config"],
                "pubsub#max_items": ["2"],
                "pubsub#persist_items": ["1"],
                "pubsub#notify_config": ["1"],
                "pubsub#max_payload_size": ["100"],
            },
        )
        published = await tap.rest()
    assert published == [(keys.CONFFEED, b"n\x00" + service.thoonk.instance.encode())]
    assert updated == NodeConfig(max_items=2, notify_config=True, max_payload_size=100)
    stored = await stored_config(redis_client, "n")
    assert stored["max_length"] == "2"
    assert stored["persist"] == "true"
    assert stored["pubsub#notify_config"] == "1"
    assert stored["pubsub#max_payload_size"] == "100"
    assert await service.get_config(OWNER, "n") == updated

    # "max" and an empty payload limit remove the Thoonk fields
    await service.configure_node(
        OWNER, "n", {"pubsub#max_items": ["max"], "pubsub#max_payload_size": [""]}
    )
    stored = await stored_config(redis_client, "n")
    assert "max_length" not in stored
    assert "pubsub#max_payload_size" not in stored
    assert stored[CREATOR] == OWNER.bare  # metadata fields survive


async def test_max_items_really_trims_the_thoonk_feed(
    service: PubSubService, redis_client: aioredis.Redis, app: AsyncThoonk
) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [(f"i{n}", b"x") for n in range(5)])
    await service.configure_node(OWNER, "n", {"pubsub#max_items": ["2"]})
    await service.publish(OWNER, "n", [("new", b"y")])
    assert await redis_client.zrange(keys.ids("n"), 0, -1) == [b"i4", b"new"]
    assert sorted(await redis_client.hkeys(keys.items("n"))) == [b"i4", b"new"]
    # a plain Thoonk client publishing to the node is trimmed the same way
    feed = await app.feed("n", codec=BYTES)
    await feed.publish(b"z", id="from-app")
    assert await redis_client.zrange(keys.ids("n"), 0, -1) == [b"new", b"from-app"]


async def test_configure_persist_items_is_thoonk_persist(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    await service.configure_node(OWNER, "n", {"pubsub#persist_items": ["0"]})
    assert (await stored_config(redis_client, "n"))["persist"] == "false"
    await service.publish(OWNER, "n", [("a", b"payload")])
    assert await redis_client.exists(keys.ids("n"), keys.items("n")) == 0


async def test_configure_errors_change_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    await service.set_affiliations(OWNER, "n", {ALICE.bare: Affiliation.PUBLISHER})
    for actor in (ALICE, BOB, REMOTE):
        await refused(
            redis_client,
            Forbidden,
            service.configure_node(actor, "n", {"pubsub#title": ["x"]}),
        )
        await refused(redis_client, Forbidden, service.get_config(actor, "n"))
    error = await refused(
        redis_client,
        InvalidNodeConfig,
        service.configure_node(OWNER, "n", {"pubsub#title": ["ok"], "pubsub#nope": ["1"]}),
    )
    assert error.field == "pubsub#nope"
    error = await refused(
        redis_client,
        InvalidNodeConfig,
        service.configure_node(OWNER, "n", {"pubsub#notify_retract": ["perhaps"]}),
    )
    assert error.field == "pubsub#notify_retract"
    await refused(
        redis_client,
        NodeNotFound,
        service.configure_node(OWNER, "missing", {"pubsub#title": ["x"]}),
    )
    await refused(redis_client, NodeIdRequired, service.get_config(OWNER, ""))


async def test_admin_may_configure_any_node(service: PubSubService) -> None:
    await service.create_node(OWNER, "n")
    config = await service.configure_node(ADMIN, "n", {"pubsub#title": ["by admin"]})
    assert config.title == "by admin"


async def test_a_thoonk_app_feed_is_a_node_with_defaults(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    feed = await service.thoonk.feed("app", {"max_length": 3}, codec=BYTES)
    await feed.publish(b"hello", id="one")
    config = await service.metadata("app")
    assert config.config == NodeConfig(max_items=3)
    assert config.owners == []
    assert config.creator is None
    # anyone may read an open node; nobody but an admin may configure it
    page = await service.get_items(REMOTE, "app")
    assert [(i.id, i.payload) for i in page.items] == [("one", b"hello")]
    await refused(redis_client, Forbidden, service.get_config(OWNER, "app"))
    await service.configure_node(ADMIN, "app", {"pubsub#title": ["adopted"]})
    assert (await stored_config(redis_client, "app"))["max_length"] == "3"


async def test_every_thoonk_type_but_pickle_queues_is_a_node(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "b-node")
    await service.thoonk.job("a-job")  # job and queue feeds are XEP-0254 queue nodes
    await service.thoonk.create_feed("c-queue", {"type": "queue"})
    await service.thoonk.create_feed("d-plain")
    await service.thoonk.sorted_feed("e-sorted")  # an ordered node
    await service.thoonk.create_feed("f-pickles", {"type": "pyqueue"})  # thoonk.py only
    assert await service.list_nodes() == ["a-job", "b-node", "c-queue", "d-plain", "e-sorted"]
    for request in (
        service.get_items(ADMIN, "f-pickles"),
        service.publish(ADMIN, "f-pickles", [(None, b"x")]),
        service.get_config(ADMIN, "f-pickles"),
        service.delete_node(ADMIN, "f-pickles"),
        service.metadata("f-pickles"),
    ):
        await refused(redis_client, NodeNotFound, request)


async def test_list_nodes_empty(service: PubSubService) -> None:
    assert await service.list_nodes() == []


# --- delete -----------------------------------------------------------------------------


async def test_delete_leaves_a_tombstone_and_removes_the_feed(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n", {"pubsub#notify_delete": ["0"]})
    await service.publish(OWNER, "n", [("a", b"1")])
    async with Tap(redis_client) as tap:
        await service.delete_node(OWNER, "n", redirect="xmpp:pubsub.example.org?;node=new")
        published = await tap.rest()
    assert published == [(keys.DELFEED, b"n\x00" + service.thoonk.instance.encode())]
    assert not await redis_client.sismember(keys.FEEDS, "n")
    for key in keys.all_keys("n"):
        assert not await redis_client.exists(key)
    tombstone = json.loads(await redis_client.get(keys.node_tombstone("n")))
    assert tombstone["redirect"] == "xmpp:pubsub.example.org?;node=new"
    assert tombstone["notify_delete"] is False
    assert 0 < await redis_client.ttl(keys.node_tombstone("n")) <= 300
    await refused(redis_client, NodeNotFound, service.get_items(OWNER, "n"))


async def test_delete_errors_change_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    await service.set_affiliations(OWNER, "n", {ALICE.bare: Affiliation.PUBLISHER})
    for actor in (ALICE, BOB):
        await refused(redis_client, Forbidden, service.delete_node(actor, "n"))
    await refused(redis_client, NodeNotFound, service.delete_node(OWNER, "gone"))
    await refused(redis_client, NodeIdRequired, service.delete_node(OWNER, ""))


async def test_admin_deletes_any_node(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    await service.delete_node(ADMIN, "n")
    assert await service.list_nodes() == []


async def test_recreated_node_starts_clean(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    """Deleted while no router cleaned up: old subscribers and affiliations do not
    carry over to a new node of the same name."""
    await service.create_node(OWNER, "n")
    await service.subscribe(ALICE, "n", ALICE.bare)
    await service.set_affiliations(OWNER, "n", {BOB.bare: Affiliation.PUBLISHER})
    await service.delete_node(OWNER, "n")
    await service.create_node(ALICE, "n")
    assert await service.node_subscriptions(ALICE, "n") == []
    assert await service.node_affiliations(ALICE, "n") == {ALICE.bare: Affiliation.OWNER}
    assert await service.own_subscriptions(ALICE) == []
    assert await service.own_affiliations(BOB) == {}


# --- purge --------------------------------------------------------------------------------


async def test_purge(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    await service.set_affiliations(OWNER, "n", {ALICE.bare: Affiliation.PUBLISHER})
    await service.publish(OWNER, "n", [("a", b"1"), ("b", b"2")])
    await service.purge_node(ALICE, "n")  # publishers may purge (§4.1)
    assert (await service.get_items(OWNER, "n")).items == []
    assert await redis_client.sismember(keys.FEEDS, "n")
    await service.publish(OWNER, "n", [("c", b"3")])
    await service.purge_node(OWNER, "n")
    assert await service.item_ids(OWNER, "n") == []


async def test_purge_errors_change_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    await service.publish(OWNER, "n", [("a", b"1")])
    await service.set_affiliations(
        OWNER, "n", {ALICE.bare: Affiliation.MEMBER, BOB.bare: Affiliation.PUBLISH_ONLY}
    )
    for actor in (ALICE, BOB, REMOTE):
        await refused(redis_client, Forbidden, service.purge_node(actor, "n"))
    await refused(redis_client, NodeNotFound, service.purge_node(OWNER, "none"))


# --- metadata ------------------------------------------------------------------------------


async def test_metadata(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n", {"pubsub#title": ["Title"]})
    await service.set_affiliations(
        OWNER,
        "n",
        {ALICE.bare: Affiliation.PUBLISHER, BOB.bare: Affiliation.OWNER},
    )
    await service.subscribe(ALICE, "n", ALICE.bare)
    await service.subscribe(REMOTE, "n", REMOTE.bare + "/phone")
    meta = await service.metadata("n")
    assert meta.node == "n"
    assert meta.config.title == "Title"
    assert meta.creator == OWNER.bare
    assert meta.creation_date is not None
    assert sorted(meta.owners) == [BOB.bare, OWNER.bare]
    assert meta.publishers == [ALICE.bare]
    assert meta.num_subscribers == 2
    before = await snapshot(redis_client)
    with pytest.raises(NodeNotFound):
        await service.metadata("missing")
    assert await snapshot(redis_client) == before


async def test_legacy_json_string_config_is_a_node(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    """pre-2011-11 thoonk.py kept the config as a JSON string under the same key."""
    await redis_client.sadd(keys.FEEDS, "old", "old-queue")
    await redis_client.set(keys.config("old"), json.dumps({"type": "feed", "max_length": 5}))
    await redis_client.set(keys.config("old-queue"), json.dumps({"type": "pyqueue"}))
    assert await service.list_nodes() == ["old"]
    assert (await service.metadata("old")).config == NodeConfig(max_items=5)
    assert await service.publish(ADMIN, "old", [("a", b"x")]) == ["a"]
    assert [i.id for i in (await service.get_items(ALICE, "old")).items] == ["a"]
    await refused(redis_client, NodeNotFound, service.get_items(ALICE, "old-queue"))
    # configuring turns it into a hash, keeping the old fields
    await service.configure_node(ADMIN, "old", {"pubsub#title": ["modern"]})
    assert (await stored_config(redis_client, "old"))["max_length"] == "5"
