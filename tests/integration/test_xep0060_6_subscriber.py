"""XEP-0060 §6 subscriber use cases over real Prosody, the component and Redis."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.integration.bridge_fixtures import (
    EVENT,
    ON_BOTH_SERVERS,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    find,
    ids_in,
    pubsub,
)
from thoonk_xmpp.xmpp import ns

RSM = ns.RSM


def subscription_of(result: ET.Element) -> dict[str, str]:
    return dict(find(result, "subscription").attrib)


async def own_subscriptions(client: PubSubClient) -> list[dict[str, str]]:
    result = await client.ok("get", pubsub("<subscriptions/>"))
    return [dict(s.attrib) for s in result.iter(ns.tag(ns.PUBSUB, "subscription"))]


# --- §6.1 subscribe --------------------------------------------------------------------------


@ON_BOTH_SERVERS
async def test_subscribe_returns_the_subscription_with_its_subid(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")

    sub = subscription_of(await bob.subscribe("news"))

    assert sub["node"] == "news"
    assert sub["jid"] == bob.jid
    assert sub["subscription"] == "subscribed"
    assert sub["subid"]
    assert await own_subscriptions(bob) == [sub]
    again = subscription_of(await bob.subscribe("news"))
    assert again["subid"] == sub["subid"]  # one subscription per JID: the current one


async def test_subscribe_a_full_jid_gets_events_there(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")

    result = await bob.ok("set", pubsub(f"<subscribe node='news' jid='{bob.full_jid}'/>"))

    assert subscription_of(result)["jid"] == bob.full_jid
    await alice.publish("news", "i1")
    event = await bob.next_event()
    assert event.get("to") == bob.full_jid
    assert ids_in(event, EVENT) == ["i1"]


async def test_subscribe_errors_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    carol = await pubsub_client()
    await alice.create("news")
    await alice.create("club", {"pubsub#access_model": "whitelist"})
    await alice.create("banned")
    await alice.affiliate("banned", carol.jid, "outcast")

    cases = [
        (f"<subscribe node='news' jid='{alice.jid}'/>", ("modify", "bad-request", "invalid-jid")),
        ("<subscribe node='news'/>", ("modify", "bad-request", "jid-required")),
        ("<subscribe node='news' jid='a@b@c'/>", ("modify", "bad-request", "invalid-jid")),
        (f"<subscribe jid='{carol.jid}'/>", ("modify", "bad-request", "nodeid-required")),
        (f"<subscribe node='nope' jid='{carol.jid}'/>", ("cancel", "item-not-found", None)),
        (f"<subscribe node='club' jid='{carol.jid}'/>", ("cancel", "not-allowed", "closed-node")),
        (f"<subscribe node='banned' jid='{carol.jid}'/>", ("auth", "forbidden", None)),
    ]
    for request, expected in cases:
        assert await bridge.refuses(carol, "set", pubsub(request)) == expected, request
    assert await own_subscriptions(carol) == []
    assert await own_subscriptions(bob) == []


async def test_last_published_item_is_sent_on_subscribe_when_configured(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news", {"pubsub#send_last_published_item": "on_sub"})
    await alice.publish("news", "old")
    await alice.publish("news", "last")

    await bob.subscribe("news")

    event = await bob.next_event()
    assert ids_in(event, EVENT) == ["last"]
    assert event.find(ns.tag("urn:xmpp:delay", "delay")) is not None


async def test_no_last_item_on_subscribe_by_default(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    await alice.publish("news", "old")

    await bob.subscribe("news")
    await alice.publish("news", "new")

    assert ids_in(await bob.next_event(), EVENT) == ["new"]


# --- §6.2 unsubscribe ------------------------------------------------------------------------


async def test_unsubscribe_reports_state_none_with_the_subid(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    subid = subscription_of(await bob.subscribe("news"))["subid"]

    result = await bob.ok("set", pubsub(f"<unsubscribe node='news' jid='{bob.jid}'/>"))

    assert subscription_of(result) == {
        "node": "news",
        "jid": bob.jid,
        "subscription": "none",
        "subid": subid,
    }
    assert await own_subscriptions(bob) == []


async def test_unsubscribe_errors_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    await alice.create("other")
    await bob.subscribe("news")

    cases = [
        (
            f"<unsubscribe node='other' jid='{bob.jid}'/>",
            ("cancel", "unexpected-request", "not-subscribed"),
        ),
        (f"<unsubscribe node='nope' jid='{bob.jid}'/>", ("cancel", "item-not-found", None)),
        (
            f"<unsubscribe node='news' jid='{bob.jid}' subid='bogus'/>",
            ("modify", "not-acceptable", "invalid-subid"),
        ),
        ("<unsubscribe node='news'/>", ("modify", "bad-request", "jid-required")),
        (f"<unsubscribe jid='{bob.jid}'/>", ("modify", "bad-request", "nodeid-required")),
    ]
    for request, expected in cases:
        assert await bridge.refuses(bob, "set", pubsub(request)) == expected, request
    unsubscribe_bob = pubsub(f"<unsubscribe node='news' jid='{bob.jid}'/>")
    # Someone else's subscription, by a non-owner (§6.2.3.3).
    carol = await pubsub_client()
    assert await bridge.refuses(carol, "set", unsubscribe_bob) == ("auth", "forbidden", None)
    assert len(await own_subscriptions(bob)) == 1


# --- §6.5 retrieve items ------------------------------------------------------------------------


@pytest.fixture
async def five(pubsub_client: PubSubClientFactory) -> PubSubClient:
    """A client owning node ``news`` with items a..e, published in that order."""
    alice = await pubsub_client()
    await alice.create("news")
    for item_id in "abcde":
        await alice.publish("news", item_id, f"<n xmlns='urn:t'>{item_id}</n>")
    return alice


@ON_BOTH_SERVERS
async def test_retrieve_all_items_oldest_first_with_payloads(five: PubSubClient) -> None:
    result = await five.ok("get", pubsub("<items node='news'/>"))

    assert find(result, "items").get("node") == "news"
    assert ids_in(result) == list("abcde")
    assert [item[0].text for item in result.iter(ns.tag(ns.PUBSUB, "item"))] == list("abcde")
    assert result.find(ns.tag(RSM, "set")) is None


async def test_retrieve_most_recent_items(five: PubSubClient) -> None:
    result = await five.ok("get", pubsub("<items node='news' max_items='2'/>"))

    assert ids_in(result) == ["d", "e"]


async def test_retrieve_items_by_id(five: PubSubClient) -> None:
    result = await five.ok("get", pubsub("<items node='news'><item id='b'/><item id='d'/></items>"))
    assert ids_in(result) == ["b", "d"]

    none = await five.ok("get", pubsub("<items node='news'><item id='zz'/></items>"))
    assert ids_in(none) == []
    assert find(none, "items").get("node") == "news"


def page(result: ET.Element) -> tuple[list[str], str | None, str | None, str | None, str | None]:
    """(ids, first, first index, last, count) of an RSM reply."""
    rsm = find(result, "set", RSM)
    first = rsm.find(ns.tag(RSM, "first"))
    return (
        ids_in(result),
        None if first is None else first.text,
        None if first is None else first.get("index"),
        rsm.findtext(ns.tag(RSM, "last")),
        rsm.findtext(ns.tag(RSM, "count")),
    )


def paged(rsm: str, extra: str = "") -> str:
    return pubsub(f"<items node='news'{extra}/><set xmlns='{RSM}'>{rsm}</set>")


@pytest.mark.parametrize(
    ("rsm", "expected"),
    [
        ("<max>2</max>", (["a", "b"], "a", "0", "b", "5")),
        ("<max>2</max><after>b</after>", (["c", "d"], "c", "2", "d", "5")),
        ("<max>2</max><after>d</after>", (["e"], "e", "4", "e", "5")),
        ("<max>2</max><before/>", (["d", "e"], "d", "3", "e", "5")),
        ("<max>2</max><before>d</before>", (["b", "c"], "b", "1", "c", "5")),
        ("<max>2</max><index>3</index>", (["d", "e"], "d", "3", "e", "5")),
        ("<max>2</max><index>9</index>", ([], None, None, None, "5")),
        ("<max>0</max>", ([], None, None, None, "5")),
        ("<after>e</after>", ([], None, None, None, "5")),
    ],
)
async def test_retrieve_pages_with_rsm(
    five: PubSubClient, rsm: str, expected: tuple[object, ...]
) -> None:
    assert page(await five.ok("get", paged(rsm))) == expected


async def test_rsm_pages_within_max_items(five: PubSubClient) -> None:
    result = await five.ok("get", paged("<max>2</max>", " max_items='3'"))

    assert page(result) == (["c", "d"], "c", "0", "d", "3")


async def test_retrieve_errors(
    bridge: Bridge, five: PubSubClient, pubsub_client: PubSubClientFactory
) -> None:
    carol = await pubsub_client()
    await five.create("club", {"pubsub#access_model": "whitelist"})
    await five.affiliate("news", carol.jid, "outcast")

    cases = [
        ("<items node='nope'/>", ("cancel", "item-not-found", None)),
        ("<items/>", ("modify", "bad-request", "nodeid-required")),
        ("<items node='club'/>", ("cancel", "not-allowed", "closed-node")),
        ("<items node='news'/>", ("auth", "forbidden", None)),
        ("<items node='club' max_items='0'/>", ("modify", "bad-request", None)),
    ]
    for request, expected in cases:
        assert await bridge.refuses(carol, "get", pubsub(request)) == expected, request
    assert await bridge.refuses(five, "get", paged("<max>2</max><after>zz</after>")) == (
        "cancel",
        "item-not-found",
        None,
    )
    assert await bridge.refuses(five, "get", paged("<max>x</max>")) == (
        "modify",
        "bad-request",
        None,
    )
