"""Ordered nodes through the real XMPP server: an XMPP-created ordered node and a Thoonk
app's sorted feed, read in feed order (items, max_items, RSM, disco#items), published to
with the position publish-options (and refused bad positions that change nothing), and
a Thoonk app's moves and inserts reaching an XMPP subscriber as position events."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.integration.bridge_fixtures import (
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    form,
    form_values,
    pubsub,
)
from tests.integration.test_bridging import event_child, expect_item, published_item
from thoonk_xmpp.thoonk import BYTES, SortedFeed
from thoonk_xmpp.xmpp import ns

ORDERED = {"thoonkx#node_kind": "sorted_feed"}
OPTIONS = "http://jabber.org/protocol/pubsub#publish-options"
POSITION = "urn:thoonk-xmpp:position:0"


def items_of(result: ET.Element) -> list[str]:
    return [item.get("id", "") for item in result.iter(ns.tag(ns.PUBSUB, "item"))]


async def publish_at(
    client: PubSubClient, node: str, ids: list[str], field: str, value: str
) -> ET.Element:
    """Send a publish of ``ids`` with one position publish-option; the reply iq."""
    items = "".join(f"<item id='{i}'><x xmlns='urn:t'>{i}</x></item>" for i in ids)
    options = form(OPTIONS, {f"thoonkx#position_{field}": value})
    return await client.send(
        "set",
        pubsub(
            f"<publish node='{node}'>{items}</publish><publish-options>{options}</publish-options>"
        ),
    )


async def moved_to(client: PubSubClient, node: str, item_id: str) -> dict[str, str]:
    """The next event must be a position event for ``item_id``: its attributes."""
    message = await client.next_event()
    item = published_item(message, node)
    assert item.get("id") == item_id, ET.tostring(message)
    (position,) = list(item)
    assert position.tag == ns.tag(POSITION, "position"), ET.tostring(message)
    return dict(position.attrib)


async def test_ordered_node_publish_options_and_reads(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner, subscriber = await pubsub_client(), await pubsub_client()
    await owner.create("list", ORDERED)
    await subscriber.subscribe("list")
    for item_id in ("a", "b"):
        await owner.publish("list", item_id)
        await expect_item(subscriber, "list", item_id)
    assert (await publish_at(owner, "list", ["s"], "at", "start")).get("type") == "result"
    await expect_item(subscriber, "list", "s")
    assert await moved_to(subscriber, "list", "s") == {"at": "start"}
    reply = await publish_at(owner, "list", ["x", "y"], "before", "b")
    assert reply.get("type") == "result"
    await expect_item(subscriber, "list", "x")
    assert await moved_to(subscriber, "list", "x") == {"before": "b"}
    await expect_item(subscriber, "list", "y")
    assert await moved_to(subscriber, "list", "y") == {"after": "x"}
    await publish_at(owner, "list", ["z"], "after", "s")
    await expect_item(subscriber, "list", "z")
    assert await moved_to(subscriber, "list", "z") == {"after": "s"}
    order = ["s", "z", "a", "x", "y", "b"]
    assert await SortedFeed(bridge.thoonk, "list", BYTES).get_ids() == order

    # reads in feed order
    assert await subscriber.item_ids("list") == order
    last = await subscriber.ok("get", pubsub("<items node='list' max_items='2'/>"))
    assert items_of(last) == ["y", "b"]
    page = await subscriber.ok(
        "get",
        pubsub(f"<items node='list'/><set xmlns='{ns.RSM}'><max>2</max><after>z</after></set>"),
    )
    assert items_of(page) == ["a", "x"]
    disco = await subscriber.send("get", f"<query xmlns='{ns.DISCO_ITEMS}' node='list'/>")
    names = [i.get("name") for i in disco.iter(ns.tag(ns.DISCO_ITEMS, "item"))]
    assert names == order
    info = await subscriber.ok("get", f"<query xmlns='{ns.DISCO_INFO}' node='list'/>")
    features = {f.get("var") for f in info.iter(ns.tag(ns.DISCO_INFO, "feature"))}
    assert POSITION in features
    meta = form_values(info.find(ns.tag(ns.DATA, "x")))
    assert meta["thoonkx#node_kind"] == ["sorted_feed"]

    # an edit keeps its place; a retract removes
    await owner.publish("list", "a", "<x xmlns='urn:t'>edited</x>")
    await expect_item(subscriber, "list", "a")
    await owner.ok("set", pubsub("<retract node='list' notify='1'><item id='x'/></retract>"))
    retract = event_child(await subscriber.next_event())
    assert retract.find(ns.tag(f"{ns.PUBSUB}#event", "retract")) is not None
    assert await subscriber.item_ids("list") == ["s", "z", "a", "y", "b"]


async def test_bad_positions_are_refused_and_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    await owner.create("list", ORDERED)
    await owner.create("plain")
    await owner.publish("list", "a")

    async def refused(node: str, field: str, value: str) -> str:
        before = await bridge.state()
        reply = await publish_at(owner, node, ["new"], field, value)
        assert reply.get("type") == "error", ET.tostring(reply)
        assert await bridge.state() == before
        (error,) = reply.iter("{jabber:client}error")
        return next(c.tag.split("}")[1] for c in error if c.tag.startswith(f"{{{ns.STANZAS}"))

    assert await refused("list", "before", "nope") == "item-not-found"
    assert await refused("list", "after", "nope") == "item-not-found"
    assert await refused("list", "at", "middle") == "bad-request"
    assert await refused("plain", "at", "start") == "bad-request"
    # an unknown node kind at creation
    reply = await owner.send(
        "set",
        pubsub(
            "<create node='bad'/><configure>"
            + form(f"{ns.PUBSUB}#node_config", {"thoonkx#node_kind": "pyqueue"})
            + "</configure>"
        ),
    )
    assert reply.get("type") == "error"


async def test_thoonk_app_moves_reach_the_subscriber(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    app_feed = await bridge.thoonk.sorted_feed("app-list")  # made by a Thoonk app
    first = await app_feed.append("one")
    second = await app_feed.append("two")
    subscriber = await pubsub_client()
    await subscriber.subscribe("app-list")
    assert await subscriber.item_ids("app-list") == [first, second]

    await app_feed.move_first(second)
    assert await moved_to(subscriber, "app-list", second) == {"at": "start"}
    await app_feed.move_after(second, first)
    assert await moved_to(subscriber, "app-list", first) == {"after": second}
    await app_feed.move_last(second)
    assert await moved_to(subscriber, "app-list", second) == {"at": "end"}
    inserted = await app_feed.publish_before(second, "between")
    await expect_item(subscriber, "app-list", inserted)
    assert await moved_to(subscriber, "app-list", inserted) == {"before": second}
    assert await subscriber.item_ids("app-list") == [first, inserted, second]
