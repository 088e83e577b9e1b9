"""Both directions of the bridge, on real Redis, Prosody and component.

Thoonk → XMPP: whatever a plain Thoonk client does to a feed (publish, edit,
retract, purge, delete, config) reaches XMPP subscribers as XEP-0060 events,
with the payload mapping of :mod:`thoonk_xmpp.xmpp.payloads`.  XMPP → Thoonk:
an XMPP publish is an ordinary Thoonk publish of the payload's XML text.

"Nothing was sent" is shown without waiting: a later event that must be sent
is the next one the subscriber gets (one delivery queue keeps events in order).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import re
import xml.etree.ElementTree as ET

from slixmpp.xmlstream import tostring

from tests.integration.bridge_fixtures import (
    EVENT,
    ON_BOTH_SERVERS,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    config_form,
    pubsub,
)
from tests.integration.streams import TIMEOUT
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk
from thoonk_xmpp.xmpp import ns, payloads

E = f"{{{EVENT}}}"
ATOM = "http://www.w3.org/2005/Atom"


def event_child(message: ET.Element) -> ET.Element:
    """The one child of the message's ``<event/>``."""
    event = message.find(f"{E}event")
    assert event is not None, ET.tostring(message)
    (child,) = list(event)
    return child


def published_item(message: ET.Element, node: str) -> ET.Element:
    items = event_child(message)
    assert items.tag == f"{E}items" and items.get("node") == node, ET.tostring(message)
    (item,) = list(items)
    assert item.tag == f"{E}item", ET.tostring(message)
    return item


def payload_of(message: ET.Element, node: str) -> ET.Element:
    (payload,) = list(published_item(message, node))
    return payload


async def setup(
    pubsub_client: PubSubClientFactory,
    node: str,
    config: dict[str, str | list[str]] | None = None,
) -> tuple[PubSubClient, PubSubClient]:
    """An owner who created ``node`` and a subscriber to it."""
    owner, subscriber = await pubsub_client(), await pubsub_client()
    await owner.create(node, config)
    await subscriber.subscribe(node)
    return owner, subscriber


async def expect_item(client: PubSubClient, node: str, item_id: str) -> ET.Element:
    message = await client.next_event()
    item = published_item(message, node)
    assert item.get("id") == item_id, ET.tostring(message)
    return message


# --- Thoonk → XMPP ----------------------------------------------------------------------------


@ON_BOTH_SERVERS
async def test_thoonk_app_publish_reaches_xmpp_subscriber_with_payload_mapping(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    _, bob = await setup(pubsub_client, "mapped")
    feed = await thoonk.feed("mapped")
    await feed.publish(f"<entry xmlns='{ATOM}'><title>From Thoonk</title></entry>", "xml")
    await feed.publish('{"temperature": 21.5, "tags": ["a"]}', "json")
    await feed.publish("just some text <not xml", "text")
    binary = await thoonk.feed("mapped", codec=BYTES)
    await binary.publish(b"\xff\x00\xfe", "bytes")

    entry = payload_of(await bob.next_event(), "mapped")
    assert entry.tag == f"{{{ATOM}}}entry"
    assert entry.findtext(f"{{{ATOM}}}title") == "From Thoonk"

    wrapped = payload_of(await bob.next_event(), "mapped")
    assert wrapped.tag == payloads.JSON_TAG
    assert json.loads(wrapped.text or "") == {"temperature": 21.5, "tags": ["a"]}

    text = payload_of(await bob.next_event(), "mapped")
    assert text.tag == payloads.DATA_TAG
    assert text.text == "just some text <not xml"
    assert text.get("encoding") is None

    raw = payload_of(await bob.next_event(), "mapped")
    assert raw.tag == payloads.DATA_TAG
    assert raw.get("encoding") == "base64"
    assert base64.b64decode(raw.text or "") == b"\xff\x00\xfe"


async def test_thoonk_app_edit_notifies_again(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    _, bob = await setup(pubsub_client, "edited")
    feed = await thoonk.feed("edited")
    await feed.publish("first", "same")
    await feed.publish("second", "same")
    assert payload_of(await bob.next_event(), "edited").text == "first"
    assert payload_of(await bob.next_event(), "edited").text == "second"


async def test_event_message_envelope(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    _, bob = await setup(pubsub_client, "envelope")
    await (await thoonk.feed("envelope")).publish("hello", "one")
    await (await thoonk.feed("envelope")).publish("hello", "two")
    first, second = await bob.next_event(), await bob.next_event()
    assert first.get("from") == bridge.jid
    assert first.get("to") == bob.jid
    assert first.get("type") == "headline"
    assert first.get("id") and second.get("id") and first.get("id") != second.get("id")


async def test_thoonk_app_created_feed_is_a_node(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    feed = await thoonk.feed("made-by-an-app")
    await feed.publish("<note xmlns='urn:example:note'>old</note>", "n1")
    bob = await pubsub_client()

    listed = await bob.ok("get", f"<query xmlns='{ns.DISCO_ITEMS}'/>")
    assert "made-by-an-app" in [item.get("node") for item in listed]
    await bob.subscribe("made-by-an-app")
    assert await bob.item_ids("made-by-an-app") == ["n1"]

    await feed.publish("<note xmlns='urn:example:note'>new</note>", "n2")
    note = payload_of(await expect_item(bob, "made-by-an-app", "n2"), "made-by-an-app")
    assert note.tag == "{urn:example:note}note" and note.text == "new"


# --- XMPP → Thoonk ----------------------------------------------------------------------------


@ON_BOTH_SERVERS
async def test_xmpp_publish_is_an_ordinary_thoonk_publish(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    seen: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
    thoonk.register_handler("publish", lambda feed, item, id: seen.put_nowait((feed, item, id)))
    alice, bob = await setup(pubsub_client, "outbound")

    await alice.publish(
        "outbound", "x1", "<entry xmlns='urn:example:e'><t>Hi &amp; bye</t></entry>"
    )
    await alice.publish("outbound", "j1", f"<json xmlns='{payloads.JSON_NS}'>{{\"n\": 1}}</json>")
    await alice.publish("outbound", "d1", f"<data xmlns='{payloads.DATA_NS}'>plain</data>")

    got = [await asyncio.wait_for(seen.get(), TIMEOUT) for _ in range(3)]
    assert got == [
        ("outbound", '<entry xmlns="urn:example:e"><t>Hi &amp; bye</t></entry>', "x1"),
        ("outbound", '{"n": 1}', "j1"),
        ("outbound", "plain", "d1"),
    ]
    feed = await thoonk.feed("outbound")
    assert await feed.get_item("x1") == got[0][1]

    # and the XMPP subscriber sees the same items, mapped back
    entry = payload_of(await expect_item(bob, "outbound", "x1"), "outbound")
    assert tostring(entry) == got[0][1]
    assert payload_of(await expect_item(bob, "outbound", "j1"), "outbound").tag == payloads.JSON_TAG
    assert payload_of(await expect_item(bob, "outbound", "d1"), "outbound").text == "plain"


async def test_xmpp_retract_and_purge_are_thoonk_notices(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    seen: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()
    thoonk.register_handler("retract", lambda feed, id: seen.put_nowait(("retract", feed, id)))
    thoonk.register_handler("purge", lambda feed, n: seen.put_nowait(("purge", feed, str(n))))
    alice = await pubsub_client()
    await alice.create("notices")
    await alice.publish("notices", "a")
    await alice.publish("notices", "b")
    await alice.ok("set", pubsub("<retract node='notices'><item id='a'/></retract>"))
    await alice.ok("set", pubsub("<purge node='notices'/>", owner=True))
    got = [await asyncio.wait_for(seen.get(), TIMEOUT) for _ in range(2)]
    assert got[0] == ("retract", "notices", "a")
    assert got[1] == ("purge", "notices", "1")


# --- notify_* options ---------------------------------------------------------------------------


@ON_BOTH_SERVERS
async def test_retracts_from_xmpp_and_thoonk_notify_subscribers(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    alice, bob = await setup(pubsub_client, "retracting", {"pubsub#notify_retract": "1"})
    await alice.publish("retracting", "by-xmpp")
    await alice.publish("retracting", "by-app")
    await expect_item(bob, "retracting", "by-xmpp")
    await expect_item(bob, "retracting", "by-app")

    await alice.ok("set", pubsub("<retract node='retracting'><item id='by-xmpp'/></retract>"))
    await (await thoonk.feed("retracting")).retract("by-app")
    for item_id in ("by-xmpp", "by-app"):
        items = event_child(await bob.next_event())
        assert items.get("node") == "retracting"
        assert [(c.tag, c.get("id")) for c in items] == [(f"{E}retract", item_id)]


async def test_notify_retract_off_sends_nothing_unless_asked(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    alice, bob = await setup(pubsub_client, "quiet", {"pubsub#notify_retract": "0"})
    await alice.publish("quiet", "i1")
    await expect_item(bob, "quiet", "i1")
    await alice.ok("set", pubsub("<retract node='quiet'><item id='i1'/></retract>"))
    await (await thoonk.feed("quiet")).publish("x", "i2")
    await expect_item(bob, "quiet", "i2")
    await (await thoonk.feed("quiet")).retract("i2")
    await alice.publish("quiet", "sentinel")
    await expect_item(bob, "quiet", "sentinel")

    # XEP-0060 §7.2.2.1: notify='true' on the request notifies anyway
    await alice.ok(
        "set", pubsub("<retract node='quiet' notify='true'><item id='sentinel'/></retract>")
    )
    retract = event_child(await bob.next_event())
    assert [(c.tag, c.get("id")) for c in retract] == [(f"{E}retract", "sentinel")]


async def test_purge_sends_one_purge_event_not_retracts(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    alice, bob = await setup(pubsub_client, "purged", {"pubsub#notify_retract": "1"})
    for n in range(3):
        await alice.publish("purged", f"i{n}")
        await expect_item(bob, "purged", f"i{n}")
    await alice.ok("set", pubsub("<purge node='purged'/>", owner=True))
    purge = event_child(await bob.next_event())
    assert (purge.tag, purge.attrib) == (f"{E}purge", {"node": "purged"})

    # a Thoonk app's purge is the same event
    feed = await thoonk.feed("purged")
    await feed.publish("a", "j1")
    await expect_item(bob, "purged", "j1")
    await feed.purge()
    assert event_child(await bob.next_event()).tag == f"{E}purge"
    await alice.publish("purged", "after")
    await expect_item(bob, "purged", "after")


async def test_purge_is_silent_without_notify_retract(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice, bob = await setup(pubsub_client, "silent-purge", {"pubsub#notify_retract": "0"})
    await alice.publish("silent-purge", "i1")
    await expect_item(bob, "silent-purge", "i1")
    await alice.ok("set", pubsub("<purge node='silent-purge'/>", owner=True))
    await alice.publish("silent-purge", "sentinel")
    await expect_item(bob, "silent-purge", "sentinel")


async def test_discard_oldest_trims_without_retract_events(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    node = "discarding"
    config = {"pubsub#max_items": "1", "pubsub#publish_node_full": "discard-oldest"}
    alice, bob = await setup(pubsub_client, node, config)
    await alice.publish(node, "i1")
    await alice.publish(node, "i2")  # trims i1
    await (await thoonk.feed(node)).publish("x", "i3")  # a Thoonk app's trim (of i2) too
    for item_id in ("i1", "i2", "i3"):
        await expect_item(bob, node, item_id)
    assert await (await thoonk.feed(node)).get_ids() == ["i3"]
    # an explicit retract still notifies, and is the very next event: no trim came before
    await alice.ok("set", pubsub(f"<retract node='{node}'><item id='i3'/></retract>"))
    retract = event_child(await bob.next_event())
    assert [(c.tag, c.get("id")) for c in retract] == [(f"{E}retract", "i3")]


async def test_retract_oldest_trims_with_retract_events(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    node = "retracting-oldest"
    alice, bob = await setup(
        pubsub_client, node, {"pubsub#max_items": "1", "pubsub#publish_node_full": "retract-oldest"}
    )
    await alice.publish(node, "i1")
    await expect_item(bob, node, "i1")
    await alice.publish(node, "i2")
    retract = event_child(await bob.next_event())
    assert [(c.tag, c.get("id")) for c in retract] == [(f"{E}retract", "i1")]
    await expect_item(bob, node, "i2")


async def test_delete_notifies_with_redirect(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice, bob = await setup(pubsub_client, "old-home")
    uri = f"xmpp:{bridge.jid}?;node=new-home"
    await alice.ok(
        "set", pubsub(f"<delete node='old-home'><redirect uri='{uri}'/></delete>", owner=True)
    )
    deleted = event_child(await bob.next_event())
    assert (deleted.tag, deleted.get("node")) == (f"{E}delete", "old-home")
    assert [(c.tag, c.attrib) for c in deleted] == [(f"{E}redirect", {"uri": uri})]


@ON_BOTH_SERVERS
async def test_delete_by_a_thoonk_app_notifies_without_redirect(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    _, bob = await setup(pubsub_client, "app-deleted")
    await thoonk.delete_feed("app-deleted")
    deleted = event_child(await bob.next_event())
    assert (deleted.tag, deleted.get("node"), list(deleted)) == (f"{E}delete", "app-deleted", [])


async def test_notify_delete_off_sends_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice, bob = await setup(pubsub_client, "gone-quietly", {"pubsub#notify_delete": "0"})
    await alice.create("still-here")
    await bob.subscribe("still-here")
    await alice.ok("set", pubsub("<delete node='gone-quietly'/>", owner=True))
    await alice.publish("still-here", "sentinel")
    await expect_item(bob, "still-here", "sentinel")


async def test_config_change_notifies_with_the_form(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice, bob = await setup(pubsub_client, "configured", {"pubsub#notify_config": "1"})
    await alice.ok(
        "set",
        pubsub(
            f"<configure node='configured'>{config_form({'pubsub#title': 'New title'})}</configure>",
            owner=True,
        ),
    )
    configuration = event_child(await bob.next_event())
    assert (configuration.tag, configuration.get("node")) == (f"{E}configuration", "configured")
    (form,) = list(configuration)
    assert (form.tag, form.get("type")) == (f"{{{ns.DATA}}}x", "result")
    values = {
        f.get("var"): [v.text for v in f.findall(f"{{{ns.DATA}}}value")]
        for f in form.findall(f"{{{ns.DATA}}}field")
    }
    assert values["FORM_TYPE"] == ["http://jabber.org/protocol/pubsub#node_config"]
    assert values["pubsub#title"] == ["New title"]
    assert values["pubsub#notify_config"] == ["1"]


async def test_config_change_without_payloads_is_an_empty_configuration(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    config = {"pubsub#notify_config": "1", "pubsub#deliver_payloads": "0"}
    alice, bob = await setup(pubsub_client, "bare-config", config)
    form = config_form({"pubsub#title": "T"})
    await alice.ok("set", pubsub(f"<configure node='bare-config'>{form}</configure>", owner=True))
    configuration = event_child(await bob.next_event())
    assert (configuration.tag, configuration.attrib, list(configuration)) == (
        f"{E}configuration",
        {"node": "bare-config"},
        [],
    )


async def test_notify_config_off_sends_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    alice, bob = await setup(pubsub_client, "config-quiet", {"pubsub#notify_config": "0"})
    form = config_form({"pubsub#title": "T"})
    await alice.ok("set", pubsub(f"<configure node='config-quiet'>{form}</configure>", owner=True))
    await thoonk.set_config("config-quiet", {"pubsub#title": "by an app"})
    await alice.publish("config-quiet", "sentinel")
    await expect_item(bob, "config-quiet", "sentinel")


async def test_deliver_payloads_off_sends_items_without_payload(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    alice, bob = await setup(pubsub_client, "ids-only", {"pubsub#deliver_payloads": "0"})
    await alice.publish("ids-only", "by-xmpp", "<secret xmlns='urn:s'>x</secret>")
    await (await thoonk.feed("ids-only")).publish("<secret xmlns='urn:s'>y</secret>", "by-app")
    for item_id in ("by-xmpp", "by-app"):
        item = published_item(await bob.next_event(), "ids-only")
        assert (item.attrib, list(item)) == ({"id": item_id}, [])
    # the items are stored with their payloads all the same
    assert await (await thoonk.feed("ids-only")).get_item("by-xmpp") == (
        '<secret xmlns="urn:s">x</secret>'
    )


async def test_deliver_notifications_off_sends_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    alice, bob = await setup(pubsub_client, "no-events", {"pubsub#deliver_notifications": "0"})
    await alice.create("events")
    await bob.subscribe("events")
    await alice.publish("no-events", "i1")
    await (await thoonk.feed("no-events")).publish("x", "i2")
    await alice.publish("events", "sentinel")
    await expect_item(bob, "events", "sentinel")


# --- federation -----------------------------------------------------------------------------


async def test_remote_subscriber_is_addressed_like_a_local_one(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    alice, bob = await setup(pubsub_client, "federated")
    remote = "carol@remote.invalid"
    await alice.ok(
        "set",
        pubsub(
            f"<subscriptions node='federated'><subscription jid='{remote}' "
            "subscription='subscribed'/></subscriptions>",
            owner=True,
        ),
    )
    written: list[str] = []
    real_send = bridge.component._write  # what send_soon and send_text write with

    def spy(text: str) -> None:
        written.append(text)
        real_send(text)

    bridge.component._write = spy  # type: ignore[method-assign]
    try:
        await (await thoonk.feed("federated")).publish("<p xmlns='urn:p'>hi</p>", "f1")
        await expect_item(bob, "federated", "f1")
        await bridge.router.drain()
    finally:
        del bridge.component._write
    sent = list(ET.fromstring(f"<stream xmlns='{ns.STANZA}'>{''.join(written)}</stream>"))
    by_recipient = {m.get("to"): m for m in sent if m.tag == ns.tag(ns.STANZA, "message")}
    assert set(by_recipient) == {bob.jid, remote}
    local, far = by_recipient[bob.jid], by_recipient[remote]
    assert far.get("from") == local.get("from") == bridge.jid
    assert far.get("type") == local.get("type") == "headline"
    assert far.get("id") != local.get("id")
    assert [tostring(child) for child in far] == [tostring(child) for child in local]


# --- last published item ------------------------------------------------------------------


async def test_new_subscriber_gets_the_last_item_stamped_with_delay(
    bridge: Bridge, pubsub_client: PubSubClientFactory, thoonk: AsyncThoonk
) -> None:
    alice = await pubsub_client()
    await alice.create("with-history", {"pubsub#send_last_published_item": "on_sub"})
    await alice.publish("with-history", "older")
    feed = await thoonk.feed("with-history")
    await feed.publish("<p xmlns='urn:p'>newest</p>", "newest")
    published_ms = await feed.published_ms("newest")
    assert published_ms is not None
    late = await pubsub_client()
    await late.subscribe("with-history")
    message = await expect_item(late, "with-history", "newest")
    assert payload_of(message, "with-history").text == "newest"
    delay = message.find("{urn:xmpp:delay}delay")
    assert delay is not None, ET.tostring(message)
    assert delay.get("from") == bridge.jid
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", delay.get("stamp", ""))
    # the stamp is when the item was published, not when it was replayed
    stamped = datetime.datetime.strptime(delay.get("stamp", "")[:19], "%Y-%m-%dT%H:%M:%S")
    assert stamped.replace(tzinfo=datetime.UTC).timestamp() == published_ms // 1000
    # live items after that carry no stamp
    await alice.publish("with-history", "live")
    live = await expect_item(late, "with-history", "live")
    assert live.find("{urn:xmpp:delay}delay") is None
