"""What subscription options do to the messages subscribers get, over real Prosody, the
component and Redis (XEP-0060 §6.3): deliver, include_body, subscription_type, digests,
show-values (presence sent to the service), and leases that end with a notification, also
across a component restart."""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from tests.integration.bridge_fixtures import (
    EVENT,
    PUBSUB,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    find,
    form,
    pubsub,
)
from tests.integration.bridges import serving
from tests.integration.rosters import until
from tests.integration.streams import Account, ClientFactory
from tests.integration.test_restart import clients, settings_for
from thoonk_xmpp.service.presence import Show
from thoonk_xmpp.xmpp import ns
from tools.localservers import ProsodyServer, RedisServer

SUBSCRIBE_OPTIONS = f"{PUBSUB}#subscribe_options"


def after(seconds: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def subscribe_with(client: PubSubClient, node: str, options: dict[str, str]) -> str:
    """Subscribe with ``options``; the subid."""
    result = await client.ok(
        "set",
        pubsub(
            f"<subscribe node='{node}' jid='{client.jid}'/>"
            f"<options>{form(SUBSCRIBE_OPTIONS, dict(options))}</options>"
        ),
    )
    return find(result, "subscription").get("subid", "")


async def set_options(client: PubSubClient, node: str, options: dict[str, str]) -> None:
    await client.ok(
        "set",
        pubsub(
            f"<options node='{node}' jid='{client.jid}'>"
            f"{form(SUBSCRIBE_OPTIONS, dict(options))}</options>"
        ),
    )


def events_in(message: ET.Element) -> list[ET.Element]:
    return message.findall(f"{{{EVENT}}}event")


def item_ids(message: ET.Element) -> list[str]:
    return [item.get("id", "") for item in message.iter(f"{{{EVENT}}}item")]


def body_of(message: ET.Element) -> str | None:
    return message.findtext("{jabber:client}body")


async def test_deliver_body_and_subscription_type_shape_the_messages(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice = await pubsub_client()
    muted, reader, watcher = await pubsub_client(), await pubsub_client(), await pubsub_client()
    await alice.create("news", {"pubsub#notify_config": "1"})
    await subscribe_with(muted, "news", {"pubsub#deliver": "0"})
    await subscribe_with(reader, "news", {"pubsub#include_body": "1"})
    await subscribe_with(watcher, "news", {"pubsub#subscription_type": "nodes"})

    await alice.publish("news", "i1")
    message = await reader.next_event()
    assert item_ids(message) == ["i1"]
    assert body_of(message) == "New item i1 on node news"

    await alice.ok(
        "set",
        pubsub(
            f"<configure node='news'>{form(f'{PUBSUB}#node_config', {'pubsub#title': 'T'})}"
            "</configure>",
            owner=True,
        ),
    )
    # the node event is the watcher's first message: it heard nothing of i1
    configured = await watcher.next_event()
    assert configured.find(f"{{{EVENT}}}event/{{{EVENT}}}configuration") is not None
    assert body_of(configured) is None
    assert body_of(await reader.next_event()) == "Node news configuration changed"

    await set_options(muted, "news", {"pubsub#deliver": "1"})
    await alice.publish("news", "i2")
    assert item_ids(await muted.next_event()) == ["i2"]  # i1 never came
    assert item_ids(await reader.next_event()) == ["i2"]
    assert muted.events.empty() and watcher.events.empty()


async def test_a_digest_comes_as_one_message(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    await subscribe_with(bob, "news", {"pubsub#digest": "1", "pubsub#digest_frequency": "800"})
    for item in ("i1", "i2", "i3"):
        await alice.publish("news", item)

    digest = await bob.next_event()

    assert len(events_in(digest)) == 3
    assert item_ids(digest) == ["i1", "i2", "i3"]
    assert bob.events.empty()


@pytest.mark.parametrize("xmpp_server", ["prosody_unprivileged"], indirect=True)
async def test_show_values_online_gets_nothing_while_away_and_everything_while_online(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    """No XEP-0356 privilege: the component learns the subscriber's presence from the
    presence it sends to the service itself."""
    alice = await pubsub_client()
    bob = await pubsub_client()
    # subscribed without show-values: once an item reached carol, bob's fate for it is
    # decided (one routing for all recipients), so bob's presence may change
    carol = await pubsub_client()
    await alice.create("news")
    await subscribe_with(bob, "news", {"pubsub#show-values": "online"})
    await carol.subscribe("news")

    async def published(item: str) -> None:
        await alice.publish("news", item)
        assert item_ids(await carol.next_event()) == [item]

    async def shown(show: Show | None) -> bool:
        return (await bridge.service.presence.shows(bob.jid)).get(bob.full_jid) == show

    assert await shown(None)  # not told of bob yet: offline, as far as the service knows
    await published("offline")
    bob.xmpp.send_presence(pto=bridge.jid, pshow="away")
    await until(lambda: shown(Show.AWAY), "bob is known away")
    await published("away")
    bob.xmpp.send_presence(pto=bridge.jid)
    await until(lambda: shown(Show.ONLINE), "bob is known online")
    for item in ("online-1", "online-2"):
        await published(item)

    assert item_ids(await bob.next_event()) == ["online-1"]  # nothing before
    assert item_ids(await bob.next_event()) == ["online-2"]
    bob.xmpp.send_presence(pto=bridge.jid, pshow="xa")
    await until(lambda: shown(Show.XA), "bob is known away for long")
    await published("xa")
    bob.xmpp.send_presence(pto=bridge.jid)
    await until(lambda: shown(Show.ONLINE), "bob is known online again")
    await published("back")
    assert item_ids(await bob.next_event()) == ["back"]


def ended_subscription(message: ET.Element) -> dict[str, str]:
    found = message.find(f"{{{EVENT}}}event/{{{EVENT}}}subscription")
    assert found is not None, ET.tostring(message)
    return dict(found.attrib)


async def test_a_lease_ends_with_a_notification(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    subid = await subscribe_with(bob, "news", {"pubsub#expire": after(1.0)})

    ended = ended_subscription(await bob.next_event())

    assert ended == {"node": "news", "jid": bob.jid, "subid": subid, "subscription": "none"}
    mine = await bob.ok("get", pubsub("<subscriptions/>"))
    assert list(mine.iter(ns.tag(ns.PUBSUB, "subscription"))) == []


@pytest.mark.slow
async def test_a_lease_that_ends_while_no_component_runs_is_ended_by_the_next(
    prosody: ProsodyServer,
    redis_server: RedisServer,
    xmpp_client: ClientFactory,
    make_account: Callable[[], Account],
) -> None:
    settings = settings_for(prosody, redis_server.url)
    alice, bob = await clients(xmpp_client, make_account, prosody.component_jid, 2)
    async with serving(settings, first_retry_delay=0.2):
        await alice.create("leased")
        subid = await subscribe_with(bob, "leased", {"pubsub#expire": after(1.5)})
    assert bob.events.empty()  # the component stopped before the lease ended

    async with serving(settings, first_retry_delay=0.2):
        ended = ended_subscription(await bob.next_event())
    assert ended == {"node": "leased", "jid": bob.jid, "subid": subid, "subscription": "none"}
