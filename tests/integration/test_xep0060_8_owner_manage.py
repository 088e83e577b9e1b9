"""XEP-0060 §8.8-8.9: the owner manages subscriptions and affiliations (real Prosody, Redis)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.integration.bridge_fixtures import (
    EVENT,
    OWNER,
    Bridge,
    PubSubClientFactory,
    find,
    ids_in,
    pubsub,
)
from thoonk_xmpp.xmpp import ns

# --- §8.8 manage subscriptions ------------------------------------------------------------------


def subscriptions_of(payload: ET.Element) -> list[tuple[str | None, str | None]]:
    listing = find(payload, "subscriptions", OWNER)
    return [
        (s.get("jid"), s.get("subscription"))
        for s in listing.findall(ns.tag(OWNER, "subscription"))
    ]


async def test_owner_lists_adds_and_removes_subscriptions(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    carol = await pubsub_client()
    await alice.create("news")
    sub = find(await bob.subscribe("news"), "subscription")

    listing = await alice.ok("get", pubsub("<subscriptions node='news'/>", owner=True))
    assert subscriptions_of(listing) == [(bob.jid, "subscribed")]
    assert find(listing, "subscriptions/subscription", OWNER).get("subid") == sub.get("subid")

    change = (
        f"<subscriptions node='news'><subscription jid='{carol.jid}' subscription='subscribed'/>"
        f"<subscription jid='{bob.jid}' subscription='none'/></subscriptions>"
    )
    await alice.ok("set", pubsub(change, owner=True))

    listing = await alice.ok("get", pubsub("<subscriptions node='news'/>", owner=True))
    assert subscriptions_of(listing) == [(carol.jid, "subscribed")]
    # §8.8.4: carol hears of the subscription the owner made for her first
    assert find(await carol.next_event(), "event/subscription", EVENT).get("subscription") == (
        "subscribed"
    )
    await alice.publish("news", "i1")
    assert ids_in(await carol.next_event(), EVENT) == ["i1"]


async def test_manage_subscriptions_errors_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    await bob.subscribe("news")
    remove_bob = f"<subscriptions node='news'><subscription jid='{bob.jid}' subscription='none'/></subscriptions>"

    assert await bridge.refuses(bob, "get", pubsub("<subscriptions node='news'/>", owner=True)) == (
        "auth",
        "forbidden",
        None,
    )
    assert await bridge.refuses(bob, "set", pubsub(remove_bob, owner=True)) == (
        "auth",
        "forbidden",
        None,
    )
    assert await bridge.refuses(
        alice, "get", pubsub("<subscriptions node='nope'/>", owner=True)
    ) == (
        "cancel",
        "item-not-found",
        None,
    )
    nobody = "<subscriptions node='news'><subscription jid='nobody@localhost' subscription='none'/></subscriptions>"
    assert await bridge.refuses(alice, "set", pubsub(nobody, owner=True)) == (
        "cancel",
        "unexpected-request",
        "not-subscribed",
    )
    pending = f"<subscriptions node='news'><subscription jid='{bob.jid}' subscription='pending'/></subscriptions>"
    assert await bridge.refuses(alice, "set", pubsub(pending, owner=True)) == (
        "modify",
        "bad-request",
        None,
    )


# --- §8.9 manage affiliations --------------------------------------------------------------------


def affiliations_of(payload: ET.Element) -> list[tuple[str | None, str | None]]:
    listing = find(payload, "affiliations", OWNER)
    return [
        (a.get("jid"), a.get("affiliation")) for a in listing.findall(ns.tag(OWNER, "affiliation"))
    ]


async def test_owner_lists_and_modifies_affiliations(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    assert await bob.fails("set", pubsub("<publish node='news'><item id='x'/></publish>")) == (
        "auth",
        "forbidden",
    )

    await alice.affiliate("news", bob.jid, "publisher")

    listing = await alice.ok("get", pubsub("<affiliations node='news'/>", owner=True))
    assert sorted(affiliations_of(listing)) == sorted(
        [(alice.jid, "owner"), (bob.jid, "publisher")]
    )
    await bob.publish("news", "x")
    assert await alice.item_ids("news") == ["x"]

    await alice.affiliate("news", bob.jid, "none")
    listing = await alice.ok("get", pubsub("<affiliations node='news'/>", owner=True))
    assert affiliations_of(listing) == [(alice.jid, "owner")]


async def test_manage_affiliations_errors_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")

    def change(*entries: str) -> str:
        return pubsub(f"<affiliations node='news'>{''.join(entries)}</affiliations>", owner=True)

    promote_bob = f"<affiliation jid='{bob.jid}' affiliation='owner'/>"
    assert await bridge.refuses(bob, "set", change(promote_bob)) == ("auth", "forbidden", None)
    assert await bridge.refuses(bob, "get", pubsub("<affiliations node='news'/>", owner=True)) == (
        "auth",
        "forbidden",
        None,
    )
    king = f"<affiliation jid='{bob.jid}' affiliation='king'/>"
    assert await bridge.refuses(alice, "set", change(promote_bob, king)) == (
        "modify",
        "bad-request",
        None,
    )
    twice = f"<affiliation jid='{bob.jid}' affiliation='member'/>"
    assert await bridge.refuses(alice, "set", change(promote_bob, twice)) == (
        "modify",
        "bad-request",
        None,
    )
    full = f"<affiliation jid='{bob.full_jid}' affiliation='member'/>"
    assert await bridge.refuses(alice, "set", change(full)) == ("modify", "not-acceptable", None)
    assert await bridge.refuses(alice, "set", change("<affiliation affiliation='member'/>")) == (
        "modify",
        "bad-request",
        "jid-required",
    )
