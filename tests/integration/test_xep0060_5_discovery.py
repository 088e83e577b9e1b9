"""XEP-0060 §5 entity use cases: features, nodes, node metadata, items, own subscriptions and
affiliations — over real Prosody, the component and Redis."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.integration.bridge_fixtures import (
    DATA,
    ON_BOTH_SERVERS,
    Bridge,
    PubSubClientFactory,
    form_values,
    pubsub,
)
from tests.integration.rosters import privileged
from thoonk_xmpp.xmpp import ns
from thoonk_xmpp.xmpp.disco import FEATURES, ROSTER_MODELS

INFO = f"<query xmlns='{ns.DISCO_INFO}'/>"
ITEMS = f"<query xmlns='{ns.DISCO_ITEMS}'/>"


def info(node: str) -> str:
    return f"<query xmlns='{ns.DISCO_INFO}' node='{node}'/>"


def items(node: str) -> str:
    return f"<query xmlns='{ns.DISCO_ITEMS}' node='{node}'/>"


def identities(query: ET.Element) -> list[tuple[str | None, str | None]]:
    return [
        (i.get("category"), i.get("type")) for i in query.findall(ns.tag(ns.DISCO_INFO, "identity"))
    ]


def features(query: ET.Element) -> list[str]:
    return [f.get("var", "") for f in query.findall(ns.tag(ns.DISCO_INFO, "feature"))]


def disco_items(query: ET.Element) -> list[dict[str, str]]:
    return [dict(i.attrib) for i in query.findall(ns.tag(ns.DISCO_ITEMS, "item"))]


# --- §5.1 features --------------------------------------------------------------------------


@ON_BOTH_SERVERS
async def test_service_identity_and_features(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    await privileged(bridge)
    alice = await pubsub_client()

    query = await alice.ok("get", INFO)

    assert identities(query) == [("pubsub", "service")]
    advertised = features(query)
    # both test servers grant reading rosters (XEP-0356): the two access models that need it
    assert advertised == [*FEATURES, *ROSTER_MODELS]
    pubsub_features = {
        f.removeprefix(f"{ns.PUBSUB}#") for f in advertised if f.startswith(f"{ns.PUBSUB}#")
    }
    assert {
        "create-nodes",
        "instant-nodes",
        "create-and-configure",
        "config-node",
        "config-node-max",
        "retrieve-default",
        "delete-nodes",
        "purge-nodes",
        "publish",
        "item-ids",
        "multi-items",
        "persistent-items",
        "publish-options",
        "publish-node-full",
        "delete-items",
        "retract-items",
        "retrieve-items",
        "subscribe",
        "retrieve-subscriptions",
        "access-presence",
        "access-roster",
        "retrieve-affiliations",
        "manage-subscriptions",
        "modify-affiliations",
        "member-affiliation",
        "publisher-affiliation",
        "publish-only-affiliation",
        "outcast-affiliation",
        "access-open",
        "access-whitelist",
        "access-authorize",
        "subscription-notifications",
        "get-pending",
        "meta-data",
        "rsm",
        "subscription-options",
        "retrieve-default-sub",
    } == pubsub_features
    # Not implemented, so never advertised: the last item goes out only on_sub, by choice.
    assert not {"last-published", "auto-create"} & pubsub_features
    assert {ns.PUBSUB, ns.PING, ns.RSM, ns.DISCO_INFO, ns.DISCO_ITEMS} <= set(advertised)


# --- §5.2 nodes -----------------------------------------------------------------------------------


async def test_service_items_list_the_nodes(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("news")
    await alice.create("blog")

    query = await alice.ok("get", ITEMS)

    assert disco_items(query) == [
        {"jid": bridge.jid, "node": "blog"},
        {"jid": bridge.jid, "node": "news"},
    ]


async def test_a_feed_made_by_a_thoonk_app_is_a_node(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    feed = await bridge.thoonk.feed("from-app")
    await feed.publish('{"n": 1}', "x")

    assert disco_items(await alice.ok("get", ITEMS)) == [{"jid": bridge.jid, "node": "from-app"}]
    query = await alice.ok("get", info("from-app"))
    assert identities(query) == [("pubsub", "leaf")]
    assert [i.get("name") for i in (await alice.ok("get", items("from-app")))] == ["x"]


# --- §5.3-5.4 node information and metadata ------------------------------------------------------


async def test_node_info_has_leaf_identity_and_metadata_form(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    carol = await pubsub_client()
    await alice.create(
        "news", {"pubsub#title": "News", "pubsub#max_items": "5", "pubsub#type": "urn:t"}
    )
    await alice.affiliate("news", carol.jid, "publisher")
    await bob.subscribe("news")

    query = await bob.ok("get", info("news"))

    assert query.get("node") == "news"
    assert identities(query) == [("pubsub", "leaf")]
    assert ns.PUBSUB in features(query)
    meta = form_values(query.find(ns.tag(DATA, "x")))
    assert meta["FORM_TYPE"] == [f"{ns.PUBSUB}#meta-data"]
    assert meta["pubsub#creator"] == [alice.jid]
    assert meta["pubsub#creation_date"][0].endswith("Z")
    assert meta["pubsub#owner"] == [alice.jid]
    assert meta["pubsub#publisher"] == [carol.jid]
    assert meta["pubsub#num_subscribers"] == ["1"]
    assert meta["pubsub#title"] == ["News"]
    assert meta["pubsub#type"] == ["urn:t"]
    assert meta["pubsub#access_model"] == ["open"]
    assert meta["pubsub#max_items"] == ["5"]


async def test_info_of_a_missing_node_is_item_not_found(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()

    assert await bridge.refuses(alice, "get", info("nope")) == ("cancel", "item-not-found", None)
    assert await bridge.refuses(alice, "get", items("nope")) == ("cancel", "item-not-found", None)


# --- §5.5 items of a node ----------------------------------------------------------------------


async def test_node_items_are_named_by_item_id_without_node(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("news")
    await alice.publish("news", "a")
    await alice.publish("news", "b")

    query = await alice.ok("get", items("news"))

    assert query.get("node") == "news"
    assert disco_items(query) == [
        {"jid": bridge.jid, "name": "a"},
        {"jid": bridge.jid, "name": "b"},
    ]


async def test_node_items_follow_the_access_model(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("club", {"pubsub#access_model": "whitelist"})

    assert await bridge.refuses(bob, "get", items("club")) == (
        "cancel",
        "not-allowed",
        "closed-node",
    )


# --- §5.6 own subscriptions, §5.7 own affiliations -----------------------------------------------


async def test_own_subscriptions_all_and_per_node(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    await alice.create("blog")
    await bob.subscribe("news")
    await bob.subscribe("blog")
    await alice.subscribe("news")

    every = await bob.ok("get", pubsub("<subscriptions/>"))
    one = await bob.ok("get", pubsub("<subscriptions node='blog'/>"))

    def listed(result: ET.Element) -> list[tuple[str | None, str | None, str | None]]:
        return [
            (s.get("node"), s.get("jid"), s.get("subscription"))
            for s in result.iter(ns.tag(ns.PUBSUB, "subscription"))
            if s.get("subid")
        ]

    assert sorted(listed(every)) == [
        ("blog", bob.jid, "subscribed"),
        ("news", bob.jid, "subscribed"),
    ]
    assert listed(one) == [("blog", bob.jid, "subscribed")]
    nothing = await (await pubsub_client()).ok("get", pubsub("<subscriptions/>"))
    assert list(nothing.iter(ns.tag(ns.PUBSUB, "subscription"))) == []
    assert nothing.find(ns.tag(ns.PUBSUB, "subscriptions")) is not None


async def test_own_affiliations_all_and_per_node(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    await alice.create("blog")
    await alice.affiliate("blog", bob.jid, "publisher")

    def listed(result: ET.Element) -> list[tuple[str | None, str | None]]:
        return [
            (a.get("node"), a.get("affiliation"))
            for a in result.iter(ns.tag(ns.PUBSUB, "affiliation"))
        ]

    assert sorted(listed(await alice.ok("get", pubsub("<affiliations/>")))) == [
        ("blog", "owner"),
        ("news", "owner"),
    ]
    assert listed(await bob.ok("get", pubsub("<affiliations/>"))) == [("blog", "publisher")]
    assert listed(await bob.ok("get", pubsub("<affiliations node='news'/>"))) == []
    assert listed(await alice.ok("get", pubsub("<affiliations node='news'/>"))) == [
        ("news", "owner")
    ]
