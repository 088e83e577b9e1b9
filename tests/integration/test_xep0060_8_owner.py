"""XEP-0060 §8 owner use cases over real Prosody, the component and Redis."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.integration.bridge_fixtures import (
    DATA,
    EVENT,
    ON_BOTH_SERVERS,
    OWNER,
    PUBSUB,
    Bridge,
    PubSubClientFactory,
    config_form,
    find,
    form_values,
    ids_in,
    pubsub,
)
from thoonk_xmpp.xmpp import ns

NODE_CONFIG = f"{PUBSUB}#node_config"


def config_of(payload: ET.Element, container: str = "configure") -> dict[str, list[str]]:
    """The fields of the form inside <pubsub#owner><configure/> (or <default/>)."""
    return form_values(find(payload, container, OWNER).find(ns.tag(DATA, "x")))


# --- §8.1 create --------------------------------------------------------------------------------


async def test_create_with_default_configuration(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()

    result = await alice.ok("set", pubsub("<create node='news'/>"))

    assert find(result, "create").get("node") == "news"
    assert await bridge.thoonk.feed_exists("news")
    affiliations = await alice.ok("get", pubsub("<affiliations node='news'/>", owner=True))
    entries = [
        (a.get("jid"), a.get("affiliation"))
        for a in affiliations.iter(ns.tag(OWNER, "affiliation"))
    ]
    assert entries == [(alice.jid, "owner")]


async def test_create_instant_node_returns_the_generated_id(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()

    result = await alice.ok("set", pubsub("<create/>"))

    node = find(result, "create").get("node")
    assert node
    assert await bridge.thoonk.feed_exists(node)
    assert await alice.item_ids(node) == []


@ON_BOTH_SERVERS
async def test_create_and_configure(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    await alice.create(
        "news", {"pubsub#max_items": "3", "pubsub#title": "News", "pubsub#notify_retract": "0"}
    )

    values = config_of(await alice.ok("get", pubsub("<configure node='news'/>", owner=True)))

    assert values["FORM_TYPE"] == [NODE_CONFIG]
    assert values["pubsub#max_items"] == ["3"]
    assert values["pubsub#title"] == ["News"]
    assert values["pubsub#notify_retract"] == ["0"]


async def test_create_existing_node_is_a_conflict(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")

    error = await bridge.refuses(bob, "set", pubsub("<create node='news'/>"))

    assert error == ("cancel", "conflict", None)


async def test_create_with_a_bad_value_names_the_field_and_creates_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    configure = f"<configure>{config_form({'pubsub#max_items': 'lots'})}</configure>"

    error = await bridge.refuses(alice, "set", pubsub(f"<create node='news'/>{configure}"))

    assert error == ("modify", "not-acceptable", None)
    assert "pubsub#max_items" in error.text
    assert not await bridge.thoonk.feed_exists("news")


async def test_create_with_an_unknown_field_creates_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    configure = f"<configure>{config_form({'pubsub#body_xslt': 'x.xslt'})}</configure>"

    error = await bridge.refuses(alice, "set", pubsub(f"<create node='news'/>{configure}"))

    assert error == ("modify", "not-acceptable", None)
    assert "pubsub#body_xslt" in error.text


async def test_create_with_an_unsupported_access_model(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    configure = f"<configure>{config_form({'pubsub#access_model': 'nobody'})}</configure>"

    error = await bridge.refuses(alice, "set", pubsub(f"<create node='news'/>{configure}"))

    assert error == ("modify", "not-acceptable", "unsupported-access-model")


async def test_configure_beside_create_must_not_name_a_node(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()

    error = await bridge.refuses(alice, "set", pubsub("<create node='a'/><configure node='a'/>"))

    assert error == ("modify", "bad-request", None)


# --- §8.2 configure -------------------------------------------------------------------------------


async def test_owner_gets_and_sets_the_configuration(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    await alice.create("news")
    assert config_of(await alice.ok("get", pubsub("<configure node='news'/>", owner=True)))[
        "pubsub#max_items"
    ] == ["max"]

    form = config_form({"pubsub#max_items": "2", "pubsub#access_model": "whitelist"})
    await alice.ok("set", pubsub(f"<configure node='news'>{form}</configure>", owner=True))

    values = config_of(await alice.ok("get", pubsub("<configure node='news'/>", owner=True)))
    assert values["pubsub#max_items"] == ["2"]
    assert values["pubsub#access_model"] == ["whitelist"]


async def test_cancelled_configuration_changes_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("news")
    before = await bridge.state()

    cancel = f"<configure node='news'><x xmlns='{DATA}' type='cancel'/></configure>"
    await alice.ok("set", pubsub(cancel, owner=True))

    assert await bridge.state() == before


async def test_configure_errors_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    good = config_form({"pubsub#title": "x"})

    assert await bridge.refuses(bob, "get", pubsub("<configure node='news'/>", owner=True)) == (
        "auth",
        "forbidden",
        None,
    )
    assert await bridge.refuses(
        bob, "set", pubsub(f"<configure node='news'>{good}</configure>", owner=True)
    ) == ("auth", "forbidden", None)
    assert await bridge.refuses(alice, "get", pubsub("<configure node='nope'/>", owner=True)) == (
        "cancel",
        "item-not-found",
        None,
    )
    assert await bridge.refuses(alice, "get", pubsub("<configure/>", owner=True)) == (
        "modify",
        "bad-request",
        "nodeid-required",
    )
    assert await bridge.refuses(alice, "set", pubsub("<configure node='news'/>", owner=True)) == (
        "modify",
        "bad-request",
        None,
    )
    bad = config_form({"pubsub#title": "x", "pubsub#deliver_payloads": "maybe"})
    error = await bridge.refuses(
        alice, "set", pubsub(f"<configure node='news'>{bad}</configure>", owner=True)
    )
    assert error == ("modify", "not-acceptable", None)
    assert "pubsub#deliver_payloads" in error.text


async def test_default_configuration(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()

    result = await alice.ok("get", pubsub("<default/>", owner=True))

    values = config_of(result, "default")
    assert values["FORM_TYPE"] == [NODE_CONFIG]
    assert values["pubsub#access_model"] == ["open"]
    assert values["pubsub#persist_items"] == ["1"]


# --- §8.4 delete, §8.5 purge ------------------------------------------------------------------------


@ON_BOTH_SERVERS
async def test_delete_with_redirect_tells_subscribers(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    await alice.publish("news", "i1")
    await bob.subscribe("news")

    uri = "xmpp:pubsub.localhost?;node=blog"
    await alice.ok(
        "set", pubsub(f"<delete node='news'><redirect uri='{uri}'/></delete>", owner=True)
    )

    event = await bob.next_event()
    if event.find(f"{{{EVENT}}}event/{{{EVENT}}}items") is not None:
        # i1's notice may be routed after bob's subscription landed: its event comes first
        assert ids_in(event, EVENT) == ["i1"]
        event = await bob.next_event()
    deleted = find(event, "event/delete", EVENT)
    assert deleted.get("node") == "news"
    assert find(deleted, "redirect", EVENT).get("uri") == uri
    assert not await bridge.thoonk.feed_exists("news")
    assert await alice.fails("get", pubsub("<items node='news'/>")) == ("cancel", "item-not-found")


async def test_delete_errors_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")

    assert await bridge.refuses(bob, "set", pubsub("<delete node='news'/>", owner=True)) == (
        "auth",
        "forbidden",
        None,
    )
    assert await bridge.refuses(alice, "set", pubsub("<delete node='nope'/>", owner=True)) == (
        "cancel",
        "item-not-found",
        None,
    )
    assert await bridge.refuses(alice, "set", pubsub("<delete/>", owner=True)) == (
        "modify",
        "bad-request",
        "nodeid-required",
    )


@ON_BOTH_SERVERS
async def test_purge_removes_every_item_with_one_event(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    for item_id in ("a", "b", "c"):
        await alice.publish("news", item_id)
    await bob.subscribe("news")

    await alice.ok("set", pubsub("<purge node='news'/>", owner=True))

    event = await bob.next_event()
    assert find(event, "event/purge", EVENT).get("node") == "news"
    assert await alice.item_ids("news") == []
    await alice.publish("news", "d")  # the next event is the publish, not a retract
    assert ids_in(await bob.next_event(), EVENT) == ["d"]


async def test_purge_errors_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    await alice.publish("news", "a")

    assert await bridge.refuses(bob, "set", pubsub("<purge node='news'/>", owner=True)) == (
        "auth",
        "forbidden",
        None,
    )
    assert await bridge.refuses(alice, "set", pubsub("<purge node='nope'/>", owner=True)) == (
        "cancel",
        "item-not-found",
        None,
    )
