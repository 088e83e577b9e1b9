"""Regression tests of the XEP-0060 conformance defects of issue 9 (the stanza size limit has
its own module): each asserts the reply and that Redis did not change — over real Prosody,
the component and Redis."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from tests.integration.bridge_fixtures import (
    EVENT,
    Bridge,
    PubSubClientFactory,
    config_form,
    find,
    ids_in,
    pubsub,
)
from thoonk_xmpp.service.model import SendLastPublished
from thoonk_xmpp.thoonk import BYTES, Feed
from thoonk_xmpp.xmpp import ns

LAST_PUBLISHED = f"{ns.PUBSUB}#last-published"
INFO = f"<query xmlns='{ns.DISCO_INFO}'/>"


def features(query: object) -> set[str]:
    assert hasattr(query, "findall")
    return {f.get("var", "") for f in query.findall(ns.tag(ns.DISCO_INFO, "feature"))}


# --- two verbs in one <pubsub/> ----------------------------------------------------------------


async def test_two_verbs_in_one_pubsub_are_refused_and_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("news")
    await alice.publish("news", "a")
    await alice.publish("news", "b")
    both = [
        "<retract node='news'><item id='a'/></retract><purge node='news'/>",
        f"<retract node='news'><item id='a'/></retract><purge xmlns='{ns.PUBSUB_OWNER}'"
        " node='news'/>",
        "<publish node='news'><item id='c'><x xmlns='urn:t'/></item></publish>"
        "<retract node='news'><item id='a'/></retract>",
        f"<subscribe node='news' jid='{alice.jid}'/><unsubscribe node='news' jid='{alice.jid}'/>",
    ]

    for request in both:
        error = await bridge.refuses(alice, "set", pubsub(request))
        assert (error.type, error.condition) == ("modify", "bad-request"), request

    assert await alice.item_ids("news") == ["a", "b"]


async def test_create_with_its_configure_is_still_one_request(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice = await pubsub_client()

    await alice.create("news", {"pubsub#max_items": "3"})

    configured = await alice.ok("get", pubsub("<configure node='news'/>", owner=True))
    assert "3" in [v.text for v in configured.iter(ns.tag(ns.DATA, "value"))]


# --- pubsub#last-published advertised exactly when done -----------------------------------------


async def test_last_published_is_advertised_when_new_nodes_send_the_last_item(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    policy = bridge.service.policy
    on_sub = dataclasses.replace(policy.defaults, send_last_published_item=SendLastPublished.ON_SUB)
    bridge.service.policy = dataclasses.replace(policy, defaults=on_sub)
    alice = await pubsub_client()
    bob = await pubsub_client()

    assert LAST_PUBLISHED in features(await alice.ok("get", INFO))
    await alice.create("news")  # no option given: the default applies
    await alice.publish("news", "last")
    await bob.subscribe("news")
    assert ids_in(await bob.next_event(), EVENT) == ["last"]


async def test_last_published_is_not_advertised_when_nodes_do_not_send_it(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    assert bridge.service.policy.defaults.send_last_published_item == SendLastPublished.NEVER
    alice = await pubsub_client()

    assert LAST_PUBLISHED not in features(await alice.ok("get", INFO))


# --- a bogus subid on item retrieval ------------------------------------------------------------


async def test_items_with_a_subid_that_is_not_the_senders_are_not_acceptable(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    await alice.publish("news", "a")
    mine = find(await bob.subscribe("news"), "subscription").get("subid")
    theirs = find(await alice.subscribe("news"), "subscription").get("subid")

    for subid in ("bogus", theirs):
        error = await bridge.refuses(bob, "get", pubsub(f"<items node='news' subid='{subid}'/>"))
        assert (error.type, error.condition, error.pubsub) == (
            "modify",
            "not-acceptable",
            "invalid-subid",
        ), subid

    result = await bob.ok("get", pubsub(f"<items node='news' subid='{mine}'/>"))
    assert ids_in(result) == ["a"]


# --- the sole owner, max_items, meta-data ----------------------------------------------------


async def test_the_sole_owner_cannot_drop_their_ownership(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")

    for lower in ("none", "publisher", "member", "outcast"):
        change = f"<affiliations node='news'><affiliation jid='{alice.jid}' affiliation='{lower}'/>"
        error = await bridge.refuses(alice, "set", pubsub(change + "</affiliations>", owner=True))
        assert (error.type, error.condition) == ("modify", "not-acceptable"), lower

    await alice.affiliate("news", bob.jid, "owner")
    await alice.affiliate("news", alice.jid, "none")  # with another owner left, fine
    await bob.ok("get", pubsub("<affiliations node='news'/>", owner=True))


async def test_lowering_max_items_trims_the_node_at_once(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news", {"pubsub#publish_node_full": "retract-oldest"})
    feed = Feed(bridge.thoonk, "news", BYTES)
    ids = [f"i{n:02d}" for n in range(25)]
    for item_id in ids:
        await feed.publish(b"<x xmlns='urn:t'/>", item_id)
    await bob.subscribe("news")

    await alice.ok(
        "set",
        pubsub(
            f"<configure node='news'>{config_form({'pubsub#max_items': '5'})}</configure>",
            owner=True,
        ),
    )

    assert await alice.item_ids("news") == ids[-5:]
    retracted: list[str] = []
    while len(retracted) < 20:
        event = await bob.next_event()
        retracted += [r.get("id", "") for r in event.iter(ns.tag(EVENT, "retract"))]
    assert retracted == ids[:20]


async def test_a_whitelist_nodes_meta_data_is_shown_only_to_who_may_see_it(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice = await pubsub_client()
    member = await pubsub_client()
    stranger = await pubsub_client()
    await alice.create("club", {"pubsub#access_model": "whitelist", "pubsub#title": "Secret"})
    await alice.affiliate("club", member.jid, "member")
    await alice.create("open", {"pubsub#title": "Public"})
    await alice.affiliate("open", stranger.jid, "outcast")
    info = f"<query xmlns='{ns.DISCO_INFO}' node='club'/>"

    def meta_form(query: ET.Element) -> ET.Element | None:
        return query.find(ns.tag(ns.DATA, "x"))

    hidden = await stranger.ok("get", info)
    assert meta_form(hidden) is None and "Secret" not in ET.tostring(hidden).decode()
    assert hidden.find(ns.tag(ns.DISCO_INFO, "identity")) is not None  # still a leaf node
    for allowed in (alice, member):
        assert meta_form(await allowed.ok("get", info)) is not None
    open_info = f"<query xmlns='{ns.DISCO_INFO}' node='open'/>"
    assert meta_form(await member.ok("get", open_info)) is not None
    assert meta_form(await stranger.ok("get", open_info)) is None  # an outcast
