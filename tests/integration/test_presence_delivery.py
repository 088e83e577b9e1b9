"""send_last_published_item = on_sub_and_presence (XEP-0060 §6.1.7, §12.5): a subscribed
resource coming online gets the node's last item, over the real Prosody — told of the
login by the XEP-0356 presence privilege, or by presence sent to the service."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.bridge_fixtures import (
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    form,
    ids_in,
    pubsub,
)
from tests.integration.rosters import privileged, until
from tests.integration.streams import Account, ClientFactory
from thoonk_xmpp.service.events import ItemPublished
from thoonk_xmpp.service.presence import Show
from thoonk_xmpp.xmpp import ns

UNPRIVILEGED = pytest.mark.parametrize("xmpp_server", ["prosody_unprivileged"], indirect=True)
SEND_LAST = "pubsub#send_last_published_item"


def replays_to(bridge: Bridge, jid: str) -> list[tuple[str, str]]:
    """(node, item id) of every last-item event the bridge sent ``jid``."""
    return [
        (event.node, event.item_id)
        for event in bridge.sink.events
        if isinstance(event, ItemPublished)
        and event.replay
        and any(r.jid == jid for r in event.recipients)
    ]


async def subscribed_account(
    bridge: Bridge,
    owner: PubSubClient,
    make_account: Callable[[], Account],
    xmpp_client: ClientFactory,
) -> tuple[Account, PubSubClient]:
    """An account subscribed (bare JID) to nodes ``n`` and ``m``, through a first resource
    that got the last item of each on subscribing."""
    account = make_account()
    first = PubSubClient(await xmpp_client(*account, plugins=()), bridge.jid)
    for node in ("m", "n"):
        await first.subscribe(node)
        assert ids_in(await first.next_event(), f"{ns.PUBSUB}#event") == ["i2"]
    return account, first


async def nodes_with_items(owner: PubSubClient) -> None:
    """``n`` sends the last item on subscription and presence, ``m`` on subscription only."""
    await owner.create("n", {SEND_LAST: "on_sub_and_presence"})
    await owner.create("m", {SEND_LAST: "on_sub"})
    for node in ("m", "n"):
        await owner.publish(node, "i1")
        await owner.publish(node, "i2")


async def test_a_subscribed_resource_coming_online_gets_the_last_item(
    bridge: Bridge,
    pubsub_client: PubSubClientFactory,
    make_account: Callable[[], Account],
    xmpp_client: ClientFactory,
) -> None:
    await privileged(bridge)
    owner = await pubsub_client()
    await nodes_with_items(owner)
    account, first = await subscribed_account(bridge, owner, make_account, xmpp_client)

    second = PubSubClient(await xmpp_client(*account, plugins=()), bridge.jid)

    event = await second.next_event()
    assert event.get("to") == second.full_jid
    assert ids_in(event, f"{ns.PUBSUB}#event") == ["i2"]
    assert event.find(f"{{{ns.PUBSUB}#event}}event/{{{ns.PUBSUB}#event}}items").get("node") == "n"
    assert event.find(ns.tag("urn:xmpp:delay", "delay")) is not None
    # m (on_sub) was looked at first, n after it: nothing for m, nothing to the first resource
    assert replays_to(bridge, second.full_jid) == [("n", "i2")]
    assert replays_to(bridge, first.full_jid) == []


@UNPRIVILEGED
async def test_presence_sent_to_the_service_counts_as_coming_online(
    bridge: Bridge,
    pubsub_client: PubSubClientFactory,
    make_account: Callable[[], Account],
    xmpp_client: ClientFactory,
) -> None:
    owner = await pubsub_client()
    await nodes_with_items(owner)
    account, _ = await subscribed_account(bridge, owner, make_account, xmpp_client)
    second = PubSubClient(await xmpp_client(*account, plugins=()), bridge.jid)

    second.xmpp.send_presence(pto=bridge.jid)

    event = await second.next_event()
    assert event.get("to") == second.full_jid
    assert ids_in(event, f"{ns.PUBSUB}#event") == ["i2"]
    assert replays_to(bridge, second.full_jid) == [("n", "i2")]


async def test_show_values_follow_the_presence_the_server_forwards(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    """The subscription option pubsub#show-values (XEP-0060 §6.3) judged by the presence
    the component hears (service/presence.py)."""
    await privileged(bridge)
    owner, reader, watcher = [await pubsub_client() for _ in range(3)]
    await owner.create("n")
    options = form(f"{ns.PUBSUB}#subscribe_options", {"pubsub#show-values": ["online", "chat"]})
    await reader.ok(
        "set", pubsub(f"<subscribe node='n' jid='{reader.jid}'/><options>{options}</options>")
    )
    await watcher.subscribe("n")

    async def shown(show: Show) -> bool:
        return (await bridge.service.presence.shows(reader.jid)).get(reader.full_jid) == show

    await until(lambda: shown(Show.ONLINE), "the reader is known online")
    await owner.publish("n", "a1")
    for client in (reader, watcher):
        assert ids_in(await client.next_event(), f"{ns.PUBSUB}#event") == ["a1"]
    reader.xmpp.send_presence(pshow="away")
    await until(lambda: shown(Show.AWAY), "the reader is known away")
    await owner.publish("n", "a2")
    # routed once for all: when the watcher has a2, the reader's share of it is decided
    assert ids_in(await watcher.next_event(), f"{ns.PUBSUB}#event") == ["a2"]
    reader.xmpp.send_presence(pshow="chat")
    await until(lambda: shown(Show.CHAT), "the reader is known chatty")
    await owner.publish("n", "a3")
    assert ids_in(await reader.next_event(), f"{ns.PUBSUB}#event") == ["a3"]
