"""``pubsub#notify_sub`` (XEP-0060 §8.2 form, §12.6): owners hear of new subscriptions and
unsubscriptions, whichever process made them; subscribers hear of what an owner did to
theirs (§8.8.4).  Real Prosody, Redis, and a second service instance on the same Redis."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.integration.bridge_fixtures import (
    EVENT,
    OWNER,
    Bridge,
    PubSubClientFactory,
    find,
    pubsub,
)
from thoonk_xmpp.service.model import Actor
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk
from tools.localservers import RedisServer


def told(message: ET.Element) -> tuple[str | None, str | None, str | None]:
    """(node, jid, subscription) of the subscription notification in ``message``."""
    sub = find(message, "event/subscription", EVENT)
    return sub.get("node"), sub.get("jid"), sub.get("subscription")


async def test_owners_hear_of_subscriptions_and_unsubscriptions(
    pubsub_client: PubSubClientFactory,
) -> None:
    owner = await pubsub_client()
    co_owner = await pubsub_client()
    bob = await pubsub_client()
    await owner.create("n", {"pubsub#notify_sub": "1"})
    await owner.affiliate("n", co_owner.jid, "owner")

    subid = find(await bob.subscribe("n"), "subscription").get("subid")
    for client in (owner, co_owner):
        message = await client.next_event()
        assert told(message) == ("n", bob.jid, "subscribed")
        assert find(message, "event/subscription", EVENT).get("subid") == subid
    await bob.ok("set", pubsub(f"<unsubscribe node='n' jid='{bob.jid}'/>"))

    for client in (owner, co_owner):
        assert told(await client.next_event()) == ("n", bob.jid, "none")


async def test_without_notify_sub_owners_hear_nothing(pubsub_client: PubSubClientFactory) -> None:
    owner = await pubsub_client()
    bob = await pubsub_client()
    carol = await pubsub_client()
    await owner.create("n")
    await bob.subscribe("n")  # not told: notify_sub is off by default
    form = (
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        "<value>http://jabber.org/protocol/pubsub#node_config</value></field>"
        "<field var='pubsub#notify_sub'><value>true</value></field></x>"
    )
    await owner.ok("set", pubsub(f"<configure node='n'>{form}</configure>", owner=True))

    await carol.subscribe("n")

    assert told(await owner.next_event()) == ("n", carol.jid, "subscribed")


async def test_subscriptions_made_by_another_instance_are_told_alike(
    bridge: Bridge, pubsub_client: PubSubClientFactory, redis_server: RedisServer
) -> None:
    owner = await pubsub_client()
    await owner.create("n", {"pubsub#notify_sub": "1"})
    far = "far@elsewhere.example/r"
    async with AsyncThoonk.from_url(redis_server.url) as thoonk:
        other = PubSubService(thoonk, bridge.service.policy)
        await other.subscribe(Actor("far@elsewhere.example"), "n", far)
        assert told(await owner.next_event()) == ("n", far, "subscribed")
        await other.unsubscribe(Actor("far@elsewhere.example"), "n", far)

    assert told(await owner.next_event()) == ("n", far, "none")


async def test_subscribers_hear_what_an_owner_did_to_theirs(
    pubsub_client: PubSubClientFactory,
) -> None:
    owner = await pubsub_client()
    bob = await pubsub_client()
    carol = await pubsub_client()
    await owner.create("n")
    await bob.subscribe("n")
    change = (
        f"<subscriptions node='n'><subscription jid='{bob.jid}' subscription='none'/>"
        f"<subscription jid='{carol.jid}' subscription='subscribed'/></subscriptions>"
    )

    await owner.ok("set", pubsub(change, owner=True))

    assert told(await bob.next_event()) == ("n", bob.jid, "none")
    assert told(await carol.next_event()) == ("n", carol.jid, "subscribed")
    listing = await owner.ok("get", pubsub("<subscriptions node='n'/>", owner=True))
    assert [s.get("jid") for s in listing.iter(f"{{{OWNER}}}subscription")] == [carol.jid]


async def test_an_outcast_hears_its_subscription_ended(
    pubsub_client: PubSubClientFactory,
) -> None:
    owner = await pubsub_client()
    bob = await pubsub_client()
    await owner.create("n", {"pubsub#notify_sub": "1"})
    await bob.subscribe("n")
    assert told(await owner.next_event()) == ("n", bob.jid, "subscribed")

    await owner.affiliate("n", bob.jid, "outcast")

    assert told(await bob.next_event()) == ("n", bob.jid, "none")
    assert told(await owner.next_event()) == ("n", bob.jid, "none")
