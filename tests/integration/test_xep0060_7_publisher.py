"""XEP-0060 §7 publisher use cases over real Prosody, the component and Redis."""

from __future__ import annotations

import json

from tests.integration.bridge_fixtures import (
    EVENT,
    ON_BOTH_SERVERS,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    find,
    form,
    ids_in,
    pubsub,
)
from thoonk_xmpp.xmpp import ns

ENTRY = "<entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title></entry>"
PUBLISH_OPTIONS = f"{ns.PUBSUB}#publish-options"


def publish(node: str, *items: str, options: str = "") -> str:
    return pubsub(f"<publish node='{node}'>{''.join(items)}</publish>{options}")


def item(body: str = ENTRY, item_id: str | None = None) -> str:
    attr = "" if item_id is None else f" id='{item_id}'"
    return f"<item{attr}>{body}</item>"


async def owner_and_subscriber(
    pubsub_client: PubSubClientFactory,
) -> tuple[PubSubClient, PubSubClient]:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    await bob.subscribe("news")
    return alice, bob


# --- §7.1 publish ---------------------------------------------------------------------------


@ON_BOTH_SERVERS
async def test_publish_with_an_id_stores_and_notifies(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice, bob = await owner_and_subscriber(pubsub_client)

    result = await alice.ok("set", publish("news", item(item_id="i1")))

    assert find(result, "publish").get("node") == "news"
    assert ids_in(result) == ["i1"]
    stored = await bridge.stored("news")
    assert list(stored) == ["i1"]
    assert b"Soliloquy" in stored["i1"]
    event = await bob.next_event()
    assert ids_in(event, EVENT) == ["i1"]
    entry = find(event, "event/items/item", EVENT)[0]
    assert entry.tag == "{http://www.w3.org/2005/Atom}entry"


async def test_publish_without_an_id_gets_a_generated_one(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("news")

    result = await alice.ok("set", publish("news", item()))

    [generated] = ids_in(result)
    assert generated
    assert list(await bridge.stored("news")) == [generated]


async def test_republishing_an_id_overwrites_and_notifies_again(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice, bob = await owner_and_subscriber(pubsub_client)
    await alice.ok("set", publish("news", item("<v xmlns='urn:t'>1</v>", "i1")))
    await alice.ok("set", publish("news", item("<v xmlns='urn:t'>2</v>", "i1")))

    assert await bridge.stored("news") == {"i1": b'<v xmlns="urn:t">2</v>'}
    assert ids_in(await bob.next_event(), EVENT) == ["i1"]
    second = await bob.next_event()
    assert find(second, "event/items/item", EVENT)[0].text == "2"


async def test_several_items_in_one_publish(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("news")

    result = await alice.ok("set", publish("news", item(item_id="a"), item(), item(item_id="c")))

    ids = ids_in(result)
    assert ids[0] == "a" and ids[2] == "c" and ids[1] not in ("", "a", "c")
    assert list(await bridge.stored("news")) == ids


async def test_json_payload_is_stored_as_plain_json_for_thoonk_apps(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("news")

    await alice.ok(
        "set", publish("news", item("<json xmlns='urn:xmpp:json:0'>{\"a\": [1, 2]}</json>", "j"))
    )

    stored = await bridge.stored("news")
    assert json.loads(stored["j"]) == {"a": [1, 2]}
    result = await alice.ok("get", pubsub("<items node='news'/>"))
    assert find(result, "items/item")[0].tag == "{urn:xmpp:json:0}json"


async def test_publish_options_that_hold_let_the_item_through(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("news", {"pubsub#access_model": "whitelist"})
    options = form(PUBLISH_OPTIONS, {"pubsub#access_model": "whitelist"})

    await alice.ok(
        "set",
        publish(
            "news", item(item_id="i1"), options=f"<publish-options>{options}</publish-options>"
        ),
    )

    assert list(await bridge.stored("news")) == ["i1"]


async def test_publish_options_are_strict_preconditions(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("news")

    def with_options(fields: dict[str, str | list[str]], form_type: str = PUBLISH_OPTIONS) -> str:
        options = f"<publish-options>{form(form_type, fields)}</publish-options>"
        return publish("news", item(item_id="i1"), options=options)

    error = await bridge.refuses(alice, "set", with_options({"pubsub#access_model": "whitelist"}))
    assert error == ("cancel", "conflict", "precondition-not-met")
    assert "pubsub#access_model" in error.text
    error = await bridge.refuses(alice, "set", with_options({"pubsub#item_expire": "60"}))
    assert error == ("cancel", "conflict", "precondition-not-met")
    assert "pubsub#item_expire" in error.text
    error = await bridge.refuses(alice, "set", with_options({"pubsub#max_items": "ten"}))
    assert error == ("cancel", "conflict", "precondition-not-met")
    wrong_type = with_options({"pubsub#access_model": "open"}, f"{ns.PUBSUB}#node_config")
    assert await bridge.refuses(alice, "set", wrong_type) == ("modify", "bad-request", None)
    assert await bridge.stored("news") == {}


async def test_publish_errors_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news", {"pubsub#max_payload_size": "100"})
    await alice.create("pings", {"pubsub#persist_items": "0", "pubsub#deliver_payloads": "0"})

    cases = [
        (bob, publish("news", item(item_id="x")), ("auth", "forbidden", None)),
        (alice, publish("nope", item()), ("cancel", "item-not-found", None)),
        (
            alice,
            pubsub(f"<publish>{item()}</publish>"),
            ("modify", "bad-request", "nodeid-required"),
        ),
        (alice, publish("news", item(ENTRY + ENTRY)), ("modify", "bad-request", "invalid-payload")),
        (
            alice,
            publish("news", item("<json xmlns='urn:xmpp:json:0'>{oops</json>")),
            ("modify", "bad-request", "invalid-payload"),
        ),
        (alice, publish("news"), ("modify", "bad-request", "item-required")),
        (alice, publish("news", "<item id='e'/>"), ("modify", "bad-request", "payload-required")),
        (alice, publish("pings", item()), ("modify", "bad-request", "item-forbidden")),
        (
            alice,
            publish("news", item(f"<big xmlns='urn:t'>{'x' * 200}</big>")),
            ("modify", "not-acceptable", "payload-too-big"),
        ),
    ]
    for client, request, expected in cases:
        assert await bridge.refuses(client, "set", request) == expected, request


async def test_transient_notification_node_takes_a_publish_without_item(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("pings", {"pubsub#persist_items": "0", "pubsub#deliver_payloads": "0"})
    await bob.subscribe("pings")

    await alice.ok("set", publish("pings"))

    event = await bob.next_event()
    assert find(event, "event/items", EVENT).get("node") == "pings"
    assert await alice.item_ids("pings") == []


# --- §7.2 retract ---------------------------------------------------------------------------


async def test_retract_several_items(bridge: Bridge, pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    await alice.create("news")
    for item_id in ("a", "b", "c"):
        await alice.publish("news", item_id)

    await alice.ok("set", pubsub("<retract node='news'><item id='a'/><item id='c'/></retract>"))

    assert list(await bridge.stored("news")) == ["b"]


@ON_BOTH_SERVERS
async def test_retract_notifies_per_node_option_or_notify_attribute(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice, bob = await owner_and_subscriber(pubsub_client)
    config = f"{ns.PUBSUB}#node_config"
    quiet = form(config, {"pubsub#notify_retract": "0"})
    await alice.ok("set", pubsub(f"<configure node='news'>{quiet}</configure>", owner=True))
    for item_id in ("a", "b"):
        await alice.publish("news", item_id)
        assert ids_in(await bob.next_event(), EVENT) == [item_id]

    await alice.ok("set", pubsub("<retract node='news'><item id='a'/></retract>"))
    await alice.ok("set", pubsub("<retract node='news' notify='true'><item id='b'/></retract>"))

    # The quiet retraction sent nothing: the next event is the forced one.
    event = await bob.next_event()
    assert find(event, "event/items/retract", EVENT).get("id") == "b"


async def test_retract_errors_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    await alice.publish("news", "a")

    cases = [
        (
            alice,
            "<retract node='news'><item id='a'/><item id='zz'/></retract>",
            ("cancel", "item-not-found", None),
        ),
        (
            alice,
            "<retract node='nope'><item id='a'/></retract>",
            ("cancel", "item-not-found", None),
        ),
        (alice, "<retract node='news'/>", ("modify", "bad-request", "item-required")),
        (
            alice,
            "<retract node='news'><item/></retract>",
            ("modify", "bad-request", "item-required"),
        ),
        (alice, "<retract><item id='a'/></retract>", ("modify", "bad-request", "nodeid-required")),
        (
            alice,
            "<retract node='news' notify='loud'><item id='a'/></retract>",
            ("modify", "bad-request", None),
        ),
        (bob, "<retract node='news'><item id='a'/></retract>", ("auth", "forbidden", None)),
    ]
    for client, request, expected in cases:
        assert await bridge.refuses(client, "set", pubsub(request)) == expected, request
    assert list(await bridge.stored("news")) == ["a"]
