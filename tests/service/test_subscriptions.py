"""Subscriptions and affiliations: subscribe, unsubscribe, the entity's own lists and
the owner's management (XEP-0060 §5.6, §5.7, §6.1, §6.2, §8.8, §8.9)."""

from __future__ import annotations

import redis.asyncio as aioredis

from tests.dbstate import refused
from thoonk_xmpp.service.errors import (
    ClosedNode,
    Forbidden,
    InvalidJid,
    InvalidNodeConfig,
    InvalidSubId,
    LastOwner,
    NodeIdRequired,
    NodeNotFound,
    NotSubscribed,
    SubIdRequired,
)
from thoonk_xmpp.service.model import Affiliation, Subscription, SubscriptionState
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk, keys

from .conftest import ADMIN, ALICE, BOB, OWNER, REMOTE, make_policy

SUBSCRIBED = SubscriptionState.SUBSCRIBED
NONE = SubscriptionState.NONE


async def raw_subs(redis: aioredis.Redis, node: str) -> dict[str, str]:
    raw = await redis.hgetall(keys.node_subscriptions(node))
    return {k.decode(): v.decode() for k, v in raw.items()}


async def raw_index(redis: aioredis.Redis, jid: str) -> set[bytes]:
    """The JID's entries in its bucket of the subscription index, as ``<node>\\0<subid>``."""
    prefix = jid.encode() + b"\x00"
    fields = await redis.hkeys(keys.jid_subscriptions(jid))
    return {f[len(prefix) :] for f in fields if f.startswith(prefix)}


# --- subscribe ------------------------------------------------------------------------------


async def test_subscribe_stores_subscription_and_index(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    sub = await service.subscribe(ALICE, "n", ALICE.bare + "/laptop")
    assert sub == Subscription("n", ALICE.bare + "/laptop", sub.subid, SUBSCRIBED)
    assert len(sub.subid) == 16  # 64 random bits in hex: short, as it is stored twice
    assert await raw_subs(redis_client, "n") == {sub.subid: ALICE.bare + "/laptop"}
    # the index is keyed by the bare JID
    assert await raw_index(redis_client, ALICE.bare) == {f"n\x00{sub.subid}".encode()}
    assert await service.node_subscriptions(OWNER, "n") == [sub]


async def test_resubscribe_returns_the_same_subscription(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    first = await service.subscribe(ALICE, "n", ALICE.bare)
    again = await service.subscribe(ALICE, "n", ALICE.bare)
    assert again == first
    assert len(await raw_subs(redis_client, "n")) == 1
    # another resource of the same account is another subscription
    other = await service.subscribe(ALICE, "n", ALICE.bare + "/phone")
    assert other.subid != first.subid
    assert await service.own_subscriptions(ALICE, "n") == [first, other]


async def test_subscribe_jid_mismatch(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    error = await refused(redis_client, InvalidJid, service.subscribe(ALICE, "n", BOB.bare))
    assert error.jid == BOB.bare
    await refused(redis_client, InvalidJid, service.subscribe(ALICE, "n", BOB.bare + "/x"))
    await refused(redis_client, InvalidJid, service.subscribe(ALICE, "n", ""))
    # an owner of the node is no exception; a service admin is
    await refused(redis_client, InvalidJid, service.subscribe(OWNER, "n", BOB.bare))
    sub = await service.subscribe(ADMIN, "n", BOB.bare)
    assert sub.jid == BOB.bare


async def test_subscribe_errors(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    await service.set_affiliations(
        OWNER, "n", {BOB.bare: Affiliation.OUTCAST, REMOTE.bare: Affiliation.PUBLISH_ONLY}
    )
    await refused(redis_client, NodeNotFound, service.subscribe(ALICE, "missing", ALICE.bare))
    await refused(redis_client, NodeIdRequired, service.subscribe(ALICE, "", ALICE.bare))
    await refused(redis_client, Forbidden, service.subscribe(BOB, "n", BOB.bare))
    await refused(redis_client, Forbidden, service.subscribe(REMOTE, "n", REMOTE.bare))


async def test_whitelist_closed_node_vs_outcast(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n", {"pubsub#access_model": ["whitelist"]})
    await service.set_affiliations(
        OWNER, "n", {ALICE.bare: Affiliation.MEMBER, BOB.bare: Affiliation.OUTCAST}
    )
    error = await refused(redis_client, ClosedNode, service.subscribe(REMOTE, "n", REMOTE.bare))
    assert error.node == "n"
    await refused(redis_client, Forbidden, service.subscribe(BOB, "n", BOB.bare))
    assert (await service.subscribe(ALICE, "n", ALICE.bare)).jid == ALICE.bare
    # the owner is on the whitelist by definition
    assert (await service.subscribe(OWNER, "n", OWNER.bare)).jid == OWNER.bare
    # whitelisting later lets a stranger in
    await service.set_affiliations(OWNER, "n", {REMOTE.bare: Affiliation.MEMBER})
    assert (await service.subscribe(REMOTE, "n", REMOTE.bare)).jid == REMOTE.bare


# --- unsubscribe --------------------------------------------------------------------------


async def test_unsubscribe(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    keep = await service.subscribe(ALICE, "n", ALICE.bare + "/phone")
    await service.subscribe(ALICE, "n", ALICE.bare)
    await service.unsubscribe(ALICE, "n", ALICE.bare)
    assert await raw_subs(redis_client, "n") == {keep.subid: keep.jid}
    assert await raw_index(redis_client, ALICE.bare) == {f"n\x00{keep.subid}".encode()}
    await service.unsubscribe(ALICE, "n", keep.jid, keep.subid)
    assert await raw_subs(redis_client, "n") == {}
    assert await raw_index(redis_client, ALICE.bare) == set()


async def test_unsubscribe_errors(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    sub = await service.subscribe(ALICE, "n", ALICE.bare)
    await refused(redis_client, NotSubscribed, service.unsubscribe(BOB, "n", BOB.bare))
    await refused(
        redis_client, NotSubscribed, service.unsubscribe(ALICE, "n", ALICE.bare + "/other")
    )
    await refused(
        redis_client, InvalidSubId, service.unsubscribe(ALICE, "n", ALICE.bare, "not-a-subid")
    )
    # someone else's subscription: insufficient privileges
    await refused(redis_client, Forbidden, service.unsubscribe(BOB, "n", ALICE.bare))
    await refused(redis_client, Forbidden, service.unsubscribe(BOB, "n", ALICE.bare, sub.subid))
    await refused(redis_client, NodeNotFound, service.unsubscribe(ALICE, "missing", ALICE.bare))
    # a subid of another JID is not valid for this one
    await service.subscribe(BOB, "n", BOB.bare)
    await refused(redis_client, InvalidSubId, service.unsubscribe(BOB, "n", BOB.bare, sub.subid))


async def test_unsubscribe_several_needs_a_subid(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    one = await service.store.subscribe("n", ALICE.bare)
    two = await service.store.subscribe("n", ALICE.bare)
    await refused(redis_client, SubIdRequired, service.unsubscribe(ALICE, "n", ALICE.bare))
    await service.unsubscribe(ALICE, "n", ALICE.bare, two.subid)
    assert await service.own_subscriptions(ALICE) == [one]


async def test_owner_and_admin_unsubscribe_others(service: PubSubService) -> None:
    await service.create_node(OWNER, "n")
    await service.subscribe(ALICE, "n", ALICE.bare)
    await service.subscribe(BOB, "n", BOB.bare)
    await service.unsubscribe(OWNER, "n", ALICE.bare)
    await service.unsubscribe(ADMIN, "n", BOB.bare)
    assert await service.node_subscriptions(OWNER, "n") == []


# --- own subscriptions and affiliations ----------------------------------------------------


async def test_own_subscriptions_across_nodes(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    for node in ("a", "b", "c"):
        await service.create_node(OWNER, node)
    a = await service.subscribe(ALICE, "a", ALICE.bare)
    b = await service.subscribe(ALICE, "b", ALICE.bare + "/phone")
    await service.subscribe(BOB, "a", BOB.bare)
    mine = await service.own_subscriptions(ALICE)
    assert sorted(mine, key=lambda s: s.node) == [a, b]
    assert await service.own_subscriptions(ALICE, "b") == [b]
    assert await service.own_subscriptions(ALICE, "c") == []
    assert await service.own_subscriptions(REMOTE) == []
    await refused(redis_client, NodeNotFound, service.own_subscriptions(ALICE, "missing"))


async def test_own_affiliations_across_nodes(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "a")
    await service.create_node(ALICE, "b")
    await service.set_affiliations(OWNER, "a", {ALICE.bare: Affiliation.PUBLISHER})
    assert await service.own_affiliations(ALICE) == {
        "a": Affiliation.PUBLISHER,
        "b": Affiliation.OWNER,
    }
    assert await service.own_affiliations(ALICE, "a") == {"a": Affiliation.PUBLISHER}
    assert await service.own_affiliations(OWNER) == {"a": Affiliation.OWNER}
    assert await service.own_affiliations(OWNER, "b") == {}
    assert await service.own_affiliations(REMOTE) == {}
    await refused(redis_client, NodeNotFound, service.own_affiliations(ALICE, "missing"))


# --- owner: subscriptions --------------------------------------------------------------------


async def test_set_subscriptions(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    alice = await service.subscribe(ALICE, "n", ALICE.bare)
    added = await service.set_subscriptions(
        OWNER,
        "n",
        [
            (BOB.bare, SUBSCRIBED, None),
            (ALICE.bare, SUBSCRIBED, None),  # already subscribed: unchanged
            (REMOTE.bare + "/r", SUBSCRIBED, None),
        ],
    )
    assert sorted(s.jid for s in added) == [BOB.bare, REMOTE.bare + "/r"]
    listed = await service.node_subscriptions(OWNER, "n")
    assert sorted(s.jid for s in listed) == [ALICE.bare, BOB.bare, REMOTE.bare + "/r"]
    assert alice in listed
    bob = next(s for s in listed if s.jid == BOB.bare)
    assert await service.own_subscriptions(BOB) == [bob]

    await service.set_subscriptions(
        OWNER, "n", [(ALICE.bare, NONE, alice.subid), (BOB.bare, NONE, None)]
    )
    assert [s.jid for s in await service.node_subscriptions(OWNER, "n")] == [REMOTE.bare + "/r"]
    assert await raw_index(redis_client, ALICE.bare) == set()
    assert await raw_index(redis_client, BOB.bare) == set()


async def test_set_subscriptions_errors_change_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    alice = await service.subscribe(ALICE, "n", ALICE.bare)
    await service.set_affiliations(OWNER, "n", {BOB.bare: Affiliation.PUBLISHER})
    # one bad change refuses the whole request
    await refused(
        redis_client,
        NotSubscribed,
        service.set_subscriptions(
            OWNER,
            "n",
            [(ALICE.bare, NONE, None), (REMOTE.bare, SUBSCRIBED, None), (BOB.bare, NONE, None)],
        ),
    )
    await refused(
        redis_client,
        NotSubscribed,
        service.set_subscriptions(OWNER, "n", [(ALICE.bare, NONE, "wrong-subid")]),
    )
    for actor in (ALICE, BOB):
        await refused(
            redis_client,
            Forbidden,
            service.set_subscriptions(actor, "n", [(ALICE.bare, NONE, alice.subid)]),
        )
        await refused(redis_client, Forbidden, service.node_subscriptions(actor, "n"))
    await refused(
        redis_client,
        NodeNotFound,
        service.set_subscriptions(OWNER, "missing", [(ALICE.bare, SUBSCRIBED, None)]),
    )


# --- owner: affiliations -----------------------------------------------------------------------


async def test_set_affiliations(service: PubSubService, redis_client: aioredis.Redis) -> None:
    await service.create_node(OWNER, "n")
    await service.set_affiliations(
        OWNER,
        "n",
        {
            ALICE.bare: Affiliation.PUBLISHER,
            BOB.bare: Affiliation.MEMBER,
            REMOTE.bare: Affiliation.PUBLISH_ONLY,
        },
    )
    assert await service.node_affiliations(OWNER, "n") == {
        ALICE.bare: Affiliation.PUBLISHER,
        BOB.bare: Affiliation.MEMBER,
        OWNER.bare: Affiliation.OWNER,
        REMOTE.bare: Affiliation.PUBLISH_ONLY,
    }
    assert await redis_client.smembers(keys.jid_affiliations(BOB.bare)) == {b"n"}
    # "none" removes the stored affiliation and the index entry
    await service.set_affiliations(OWNER, "n", {BOB.bare: Affiliation.NONE})
    assert BOB.bare not in await service.node_affiliations(OWNER, "n")
    assert await redis_client.hget(keys.node_affiliations("n"), BOB.bare) is None
    assert await redis_client.smembers(keys.jid_affiliations(BOB.bare)) == set()
    # a new owner may manage; the old one may resign
    await service.set_affiliations(OWNER, "n", {ALICE.bare: Affiliation.OWNER})
    await service.set_affiliations(ALICE, "n", {OWNER.bare: Affiliation.NONE})
    assert await service.own_affiliations(OWNER) == {}
    await refused(redis_client, Forbidden, service.node_affiliations(OWNER, "n"))


async def test_outcast_drops_its_subscriptions(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    await service.create_node(OWNER, "other")
    await service.subscribe(BOB, "n", BOB.bare)
    await service.subscribe(BOB, "n", BOB.bare + "/phone")
    elsewhere = await service.subscribe(BOB, "other", BOB.bare)
    alice = await service.subscribe(ALICE, "n", ALICE.bare)
    await service.set_affiliations(OWNER, "n", {BOB.bare: Affiliation.OUTCAST})
    assert await service.node_subscriptions(OWNER, "n") == [alice]
    assert await service.own_subscriptions(BOB) == [elsewhere]
    assert await raw_index(redis_client, BOB.bare) == {f"other\x00{elsewhere.subid}".encode()}
    await refused(redis_client, Forbidden, service.subscribe(BOB, "n", BOB.bare))


async def test_set_affiliations_errors_change_nothing(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    await service.set_affiliations(OWNER, "n", {ALICE.bare: Affiliation.PUBLISHER})
    # a node keeps an owner (§8.9.2.4)
    strict = PubSubService(service.thoonk, make_policy(admins=frozenset()))
    await refused(
        redis_client,
        LastOwner,
        strict.set_affiliations(OWNER, "n", {OWNER.bare: Affiliation.NONE}),
    )
    await refused(
        redis_client,
        LastOwner,
        strict.set_affiliations(
            OWNER, "n", {OWNER.bare: Affiliation.MEMBER, BOB.bare: Affiliation.MEMBER}
        ),
    )
    for jid in ("", "bob@example.org/res", "a\x00b"):
        error = await refused(
            redis_client,
            InvalidNodeConfig,
            service.set_affiliations(
                OWNER, "n", {BOB.bare: Affiliation.MEMBER, jid: Affiliation.MEMBER}
            ),
        )
        assert error.field == "jid"
    for actor in (ALICE, BOB):
        await refused(
            redis_client,
            Forbidden,
            service.set_affiliations(actor, "n", {actor.bare: Affiliation.OWNER}),
        )
        await refused(redis_client, Forbidden, service.node_affiliations(actor, "n"))
    await refused(
        redis_client,
        NodeNotFound,
        service.set_affiliations(OWNER, "missing", {BOB.bare: Affiliation.MEMBER}),
    )


async def test_the_last_owner_may_not_leave_even_with_admins(
    thoonk: AsyncThoonk, redis_client: aioredis.Redis
) -> None:
    for admins in (frozenset(), frozenset({ADMIN.bare})):
        service = PubSubService(thoonk, make_policy(admins=admins))
        node = f"n{len(admins)}"
        await service.create_node(OWNER, node)
        for actor in (OWNER, ADMIN) if admins else (OWNER,):
            for lower in (Affiliation.NONE, Affiliation.PUBLISHER, Affiliation.OUTCAST):
                await refused(
                    redis_client,
                    LastOwner,
                    service.set_affiliations(actor, node, {OWNER.bare: lower}),
                )
        # handing over in the same request is fine
        await service.set_affiliations(
            OWNER, node, {OWNER.bare: Affiliation.MEMBER, BOB.bare: Affiliation.OWNER}
        )
        assert await service.node_affiliations(BOB, node) == {
            OWNER.bare: Affiliation.MEMBER,
            BOB.bare: Affiliation.OWNER,
        }


async def test_an_index_kept_one_set_per_jid_moves_into_the_buckets(
    service: PubSubService, redis_client: aioredis.Redis
) -> None:
    await service.create_node(OWNER, "n")
    await service.create_node(OWNER, "m")
    # as earlier versions stored them: the node's hash, and a set per subscriber JID
    for node, subid in (("n", "0123456789abcdef0123456789abcdef"), ("m", "feedface")):
        await redis_client.hset(keys.node_subscriptions(node), subid, ALICE.bare + "/phone")
        await redis_client.sadd(
            keys.LEGACY_JID_SUBSCRIPTIONS + ALICE.bare.encode(), f"{node}\x00{subid}"
        )
    assert await service.store.migrate_jid_index() == 2
    assert await redis_client.exists(keys.LEGACY_JID_SUBSCRIPTIONS + ALICE.bare.encode()) == 0
    assert {(s.node, s.subid) for s in await service.own_subscriptions(ALICE)} == {
        ("n", "0123456789abcdef0123456789abcdef"),
        ("m", "feedface"),
    }
    assert await service.store.migrate_jid_index() == 0  # once
