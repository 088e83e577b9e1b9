"""Node options over real Prosody, the component and Redis: pubsub#item_expire (items go by
themselves, with retract events, also across a component restart), pubsub#type,
pubsub#contact and pubsub#language (stored, shown in forms and meta-data), and the
collection fields of XEP-0248 (refused as a leaf-only service must)."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap, redis_ms
from tests.integration.bridge_fixtures import (
    DATA,
    EVENT,
    OWNER,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    config_form,
    find,
    form_values,
    pubsub,
)
from tests.integration.bridges import serving
from tests.integration.streams import TIMEOUT, Account, ClientFactory
from thoonk_xmpp.settings import Settings
from thoonk_xmpp.thoonk import keys
from thoonk_xmpp.xmpp import ns
from tools.localservers import ProsodyServer, RedisServer


def event_of(message: ET.Element) -> tuple[str, list[str]]:
    """(``items`` child kind: item or retract, the ids) of an event message."""
    items = message.find(f".//{{{EVENT}}}items")
    assert items is not None, ET.tostring(message).decode()
    kinds = {ns.split(child.tag)[1] for child in items}
    assert len(kinds) == 1, ET.tostring(message).decode()
    return kinds.pop(), [child.get("id", "") for child in items]


async def configuration(client: PubSubClient, node: str) -> dict[str, list[str]]:
    reply = await client.ok("get", pubsub(f"<configure node='{node}'/>", owner=True))
    return form_values(find(reply, "configure", OWNER).find(ns.tag(DATA, "x")))


async def metadata(client: PubSubClient, node: str) -> dict[str, list[str]]:
    info = await client.ok("get", f"<query xmlns='{ns.DISCO_INFO}' node='{node}'/>")
    return form_values(info.find(ns.tag(DATA, "x")))


# --- pubsub#item_expire ---------------------------------------------------------------------


async def test_an_expired_item_is_retracted_with_an_event(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice, bob = await pubsub_client(), await pubsub_client()
    await alice.create("short", {"pubsub#item_expire": "2"})
    await bob.subscribe("short")
    published = time.monotonic()
    await alice.publish("short", "soon-gone")
    assert event_of(await bob.next_event()) == ("item", ["soon-gone"])

    assert event_of(await bob.next_event()) == ("retract", ["soon-gone"])

    assert time.monotonic() - published >= 1.9  # not before its time (ms clock rounding)
    assert await alice.item_ids("short") == []
    assert (await configuration(alice, "short"))["pubsub#item_expire"] == ["2"]


async def test_without_notify_retract_an_expired_item_goes_silently(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice, bob = await pubsub_client(), await pubsub_client()
    await alice.create("quiet", {"pubsub#item_expire": "1", "pubsub#notify_retract": "0"})
    await bob.subscribe("quiet")
    async with Tap(bridge.redis) as tap:
        await alice.publish("quiet", "old")

        async def retracted() -> None:  # the expiry's retract notice
            while (await tap.next())[0] != keys.retract_channel("quiet"):
                pass

        await asyncio.wait_for(retracted(), TIMEOUT)
    assert await alice.item_ids("quiet") == []
    await alice.publish("quiet", "marker")

    assert event_of(await bob.next_event()) == ("item", ["old"])
    assert event_of(await bob.next_event()) == ("item", ["marker"])  # no retract between


async def test_item_expire_is_refused_on_ordered_nodes(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("ordered", {"thoonkx#node_kind": "sorted_feed"})

    error = await bridge.refuses(
        alice,
        "set",
        pubsub(
            f"<configure node='ordered'>{config_form({'pubsub#item_expire': '5'})}</configure>",
            owner=True,
        ),
    )

    assert error == ("modify", "not-acceptable")
    assert "pubsub#item_expire" in error.text


def settings_for(prosody: ProsodyServer, redis_url: str) -> Settings:
    return Settings.from_mapping(
        {
            "component": {
                "jid": prosody.component_jid,
                "secret": prosody.secret,
                "port": prosody.component_port,
            },
            "redis": {"url": redis_url},
            "pubsub": {"node_creation": "anyone"},
        }
    )


async def test_an_item_that_expired_while_no_component_ran_is_retracted_after_the_restart(
    prosody: ProsodyServer,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    xmpp_client: ClientFactory,
    make_account: Callable[[], Account],
) -> None:
    jid = prosody.component_jid
    alice, bob = [PubSubClient(await xmpp_client(*make_account()), jid) for _ in range(2)]
    settings = settings_for(prosody, redis_server.url)
    async with serving(settings):
        await alice.create("kept-time", {"pubsub#item_expire": "3"})
        await bob.subscribe("kept-time")
        await alice.publish("kept-time", "old")
        assert event_of(await bob.next_event()) == ("item", ["old"])
        stored_at = await redis_client.zscore(keys.ids("kept-time"), "old")
        assert stored_at is not None
    # still there with no component running (else this machine is too slow for the test)
    assert await redis_client.zscore(keys.ids("kept-time"), "old") == stored_at

    async def due() -> None:  # the Redis clock passes the item's expiry with none running
        # the clock of another process passing a time: no event to await
        while await redis_ms(redis_client) < stored_at + 3000:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    await asyncio.wait_for(due(), TIMEOUT)

    async with serving(settings):
        assert event_of(await bob.next_event()) == ("retract", ["old"])
        assert await alice.item_ids("kept-time") == []


# --- pubsub#type, pubsub#contact, pubsub#language -------------------------------------------


async def test_type_contact_and_language_are_kept_and_shown(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice, bob = await pubsub_client(), await pubsub_client()
    await alice.create(
        "described",
        {
            "pubsub#type": "http://www.w3.org/2005/Atom",
            "pubsub#contact": [alice.jid, bob.jid],
            "pubsub#language": "pt-BR",
        },
    )

    config = await configuration(alice, "described")
    meta = await metadata(bob, "described")

    for shown in (config, meta):
        assert shown["pubsub#type"] == ["http://www.w3.org/2005/Atom"]
        assert shown["pubsub#contact"] == [alice.jid, bob.jid]
        assert shown["pubsub#language"] == ["pt-BR"]
    # pubsub#type is informational (XEP-0060 §16.4): other payloads are still accepted
    await alice.publish("described", "1", "<note xmlns='urn:other'/>")
    assert await alice.item_ids("described") == ["1"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"pubsub#contact": ["ok@localhost", "a@b@c"]}, "pubsub#contact"),
        ({"pubsub#language": "not a language"}, "pubsub#language"),
        ({"pubsub#item_expire": "0"}, "pubsub#item_expire"),
    ],
)
async def test_bad_values_are_refused_and_change_nothing(
    bridge: Bridge,
    pubsub_client: PubSubClientFactory,
    fields: dict[str, str | list[str]],
    field: str,
) -> None:
    alice = await pubsub_client()
    await alice.create("n")

    error = await bridge.refuses(
        alice, "set", pubsub(f"<configure node='n'>{config_form(fields)}</configure>", owner=True)
    )

    assert error == ("modify", "not-acceptable")
    assert field in error.text


# --- collections (XEP-0248): not supported --------------------------------------------------


async def test_children_on_a_leaf_are_invalid_options(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("leaf")
    await alice.create("other")

    for field in ("pubsub#children", "pubsub#collection"):
        form = config_form({field: "other"})
        error = await bridge.refuses(
            alice, "set", pubsub(f"<configure node='leaf'>{form}</configure>", owner=True)
        )
        assert error == ("cancel", "not-allowed", "invalid-options")


async def test_a_collection_node_is_unsupported(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()

    error = await bridge.refuses(
        alice,
        "set",
        pubsub(
            "<create node='coll'/>"
            f"<configure>{config_form({'pubsub#node_type': 'collection'})}</configure>"
        ),
    )

    assert error == ("cancel", "feature-not-implemented", "unsupported", "collections")


async def test_empty_collection_fields_in_a_resubmitted_form_are_ignored(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice = await pubsub_client()
    await alice.create(
        "resubmitted",
        {"pubsub#node_type": "leaf", "pubsub#children": [], "pubsub#title": "T"},
    )
    assert (await configuration(alice, "resubmitted"))["pubsub#title"] == ["T"]
