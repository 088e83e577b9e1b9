"""The ``authorize`` access model (XEP-0060 §4.5, §6.1.4, §8.6, §8.8) over real Prosody and Redis.

A stranger's subscription waits; each owner gets the subscribe_authorization form as a
message and answers it with a message; the subscriber hears the outcome.  Waiting
subscriptions get no events and no items; a forged, repeated or malformed answer
changes nothing in Redis.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.integration.bridge_fixtures import (
    DATA,
    EVENT,
    ON_BOTH_SERVERS,
    OWNER,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    StanzaError,
    find,
    form,
    form_values,
    ids_in,
    pubsub,
)
from tests.integration.streams import TIMEOUT
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk
from thoonk_xmpp.xmpp import ns
from tools.localservers import RedisServer

AUTHORIZATION = f"{ns.PUBSUB}#subscribe_authorization"
NOT_SUBSCRIBED = ("auth", "not-authorized", "not-subscribed")


class Inbox:
    """Messages of one kind a client receives (forms, or message errors)."""

    def __init__(self, client: PubSubClient, path: str) -> None:
        self.queue: asyncio.Queue[ET.Element] = asyncio.Queue()
        client.xmpp.register_handler(
            Callback(path, MatchXPath(path), lambda message: self.queue.put_nowait(message.xml))
        )

    async def next(self) -> ET.Element:
        return await asyncio.wait_for(self.queue.get(), TIMEOUT)


def forms_of(client: PubSubClient) -> Inbox:
    return Inbox(client, f"{{jabber:client}}message/{{{DATA}}}x")


def errors_of(client: PubSubClient) -> Inbox:
    return Inbox(client, "{jabber:client}message/{jabber:client}error")


def answer(client: PubSubClient, fields: dict[str, str], kind: str = "submit") -> None:
    """Send the service a message holding a subscribe_authorization form."""
    message = client.xmpp.Message()
    message["to"] = client.service_jid
    message.append(ET.fromstring(form(AUTHORIZATION, fields, kind)))
    message.send()


def approval(node: str, jid: str, subid: str, allow: str = "true") -> dict[str, str]:
    return {
        "pubsub#node": node,
        "pubsub#subscriber_jid": jid,
        "pubsub#subid": subid,
        "pubsub#allow": allow,
    }


def subscription_of(result: ET.Element) -> dict[str, str]:
    return dict(find(result, "subscription").attrib)


def told_to(message: ET.Element) -> dict[str, str]:
    """The subscription notification (§8.6, §12.6) a message carries."""
    return dict(find(message, "event/subscription", EVENT).attrib)


async def listed(owner: PubSubClient, node: str) -> list[tuple[str | None, str | None]]:
    """(jid, subscription) of every subscription the owner lists (§8.8.1)."""
    result = await owner.ok("get", pubsub(f"<subscriptions node='{node}'/>", owner=True))
    return [
        (s.get("jid"), s.get("subscription")) for s in result.iter(ns.tag(OWNER, "subscription"))
    ]


async def pending_request(
    owner: PubSubClient, stranger: PubSubClient, node: str = "n"
) -> tuple[Inbox, str]:
    """``owner`` makes an authorize node with item i1; ``stranger`` asks to subscribe.
    Returns the owner's form inbox (the request's form taken) and the subid."""
    inbox = forms_of(owner)
    await owner.create(node, {"pubsub#access_model": "authorize"})
    await owner.publish(node, "i1")
    result = await stranger.subscribe(node)
    asked = subscription_of(result)
    assert asked["subscription"] == "pending"
    assert asked["jid"] == stranger.jid
    request = await inbox.next()
    x = find(request, "x", DATA)
    assert x.get("type") == "form"
    assert form_values(x) == {
        "FORM_TYPE": [AUTHORIZATION],
        "pubsub#subid": [asked["subid"]],
        "pubsub#node": [node],
        "pubsub#subscriber_jid": [stranger.jid],
        "pubsub#allow": ["false"],
    }
    return inbox, asked["subid"]


@ON_BOTH_SERVERS
async def test_an_approved_request_becomes_a_subscription(
    pubsub_client: PubSubClientFactory,
) -> None:
    owner = await pubsub_client()
    stranger = await pubsub_client()
    _, subid = await pending_request(owner, stranger)
    assert await listed(owner, "n") == [(stranger.jid, "pending")]
    assert await stranger.fails("get", pubsub("<items node='n'/>")) == NOT_SUBSCRIBED
    await owner.publish("n", "i2")  # no event for a waiting subscription

    answer(owner, approval("n", stranger.jid, subid))

    # the first message the subscriber gets is the approval, not i2's event
    told = told_to(await stranger.next_event())
    assert told == {"node": "n", "jid": stranger.jid, "subscription": "subscribed", "subid": subid}
    assert await listed(owner, "n") == [(stranger.jid, "subscribed")]
    assert await stranger.item_ids("n") == ["i1", "i2"]
    await owner.publish("n", "i3")
    assert ids_in(await stranger.next_event(), EVENT) == ["i3"]


async def test_a_denied_request_is_dropped_and_the_subscriber_told(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    stranger = await pubsub_client()
    _, subid = await pending_request(owner, stranger)

    answer(owner, approval("n", stranger.jid, subid, allow="0"))

    told = told_to(await stranger.next_event())
    assert told == {"node": "n", "jid": stranger.jid, "subscription": "none", "subid": subid}
    assert await listed(owner, "n") == []
    assert await stranger.fails("get", pubsub("<items node='n'/>")) == NOT_SUBSCRIBED
    mine = await stranger.ok("get", pubsub("<subscriptions/>"))
    assert list(mine.iter(ns.tag(ns.PUBSUB, "subscription"))) == []
    assert not [k for k in (await bridge.state()) if b"pending" in k]


async def test_only_an_owner_decides_and_only_once(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    stranger = await pubsub_client()
    _, subid = await pending_request(owner, stranger)
    refused_stranger, refused_owner = errors_of(stranger), errors_of(owner)

    before = await bridge.state()
    answer(stranger, approval("n", stranger.jid, subid))  # forged: not an owner
    assert StanzaError.of(await refused_stranger.next()) == ("auth", "forbidden")
    assert await bridge.state() == before
    assert await listed(owner, "n") == [(stranger.jid, "pending")]

    answer(owner, approval("n", stranger.jid, subid))
    await stranger.next_event()
    after = await bridge.state()
    answer(owner, approval("n", stranger.jid, subid, allow="false"))  # repeated: decided
    assert StanzaError.of(await refused_owner.next()) == ("cancel", "item-not-found")
    assert await bridge.state() == after
    assert await listed(owner, "n") == [(stranger.jid, "subscribed")]


async def test_bad_answers_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    stranger = await pubsub_client()
    _, subid = await pending_request(owner, stranger)
    refused = errors_of(owner)
    before = await bridge.state()
    bad = [
        ({k: v for k, v in approval("n", stranger.jid, subid).items() if k != "pubsub#node"}),
        approval("n", stranger.jid, subid, allow="maybe"),
        approval("n", "not a jid@@", subid),
        approval("n", stranger.jid, "no-such-subid"),
        approval("nope", stranger.jid, subid),
    ]
    expected = [
        ("modify", "bad-request", "nodeid-required"),
        ("modify", "bad-request"),
        ("modify", "bad-request", "invalid-jid"),
        ("cancel", "item-not-found"),
        ("cancel", "item-not-found"),
    ]

    for fields, error in zip(bad, expected, strict=True):
        answer(owner, fields)
        assert StanzaError.of(await refused.next()) == error
    answer(owner, {"pubsub#node": "n"}, kind="cancel")  # cancelled: stays pending, no answer
    again = await bridge.refuses(
        stranger, "set", pubsub(f"<subscribe node='n' jid='{stranger.jid}'/>")
    )

    assert again == ("auth", "not-authorized", "pending-subscription")
    assert await listed(owner, "n") == [(stranger.jid, "pending")]
    assert await bridge.state() == before


async def test_owner_lists_and_approves_through_manage_subscriptions(
    pubsub_client: PubSubClientFactory,
) -> None:
    owner = await pubsub_client()
    stranger = await pubsub_client()
    other = await pubsub_client()
    _, subid = await pending_request(owner, stranger)
    await other.subscribe("n")
    mine = await stranger.ok("get", pubsub("<subscriptions node='n'/>"))
    assert find(mine, "subscriptions/subscription").get("subscription") == "pending"
    change = (
        f"<subscriptions node='n'><subscription jid='{stranger.jid}' subscription='subscribed'/>"
        f"<subscription jid='{other.jid}' subscription='none'/></subscriptions>"
    )

    await owner.ok("set", pubsub(change, owner=True))

    told = told_to(await stranger.next_event())
    assert (told["subscription"], told["subid"]) == ("subscribed", subid)
    told = told_to(await other.next_event())
    assert told["subscription"] == "none"
    assert await listed(owner, "n") == [(stranger.jid, "subscribed")]


async def test_affiliations_decide_waiting_requests(
    pubsub_client: PubSubClientFactory,
) -> None:
    owner = await pubsub_client()
    stranger = await pubsub_client()
    banned = await pubsub_client()
    await pending_request(owner, stranger)
    await banned.subscribe("n")

    await owner.affiliate("n", stranger.jid, "member")
    await owner.affiliate("n", banned.jid, "outcast")

    assert told_to(await stranger.next_event())["subscription"] == "subscribed"
    assert told_to(await banned.next_event())["subscription"] == "none"
    assert await listed(owner, "n") == [(stranger.jid, "subscribed")]


async def test_the_subscriber_may_withdraw_its_request(
    pubsub_client: PubSubClientFactory,
) -> None:
    owner = await pubsub_client()
    stranger = await pubsub_client()
    await pending_request(owner, stranger)

    result = await stranger.ok("set", pubsub(f"<unsubscribe node='n' jid='{stranger.jid}'/>"))

    assert subscription_of(result)["subscription"] == "none"
    assert await listed(owner, "n") == []


async def test_members_and_publishers_subscribe_at_once(
    pubsub_client: PubSubClientFactory,
) -> None:
    owner = await pubsub_client()
    member = await pubsub_client()
    await owner.create("n", {"pubsub#access_model": "authorize"})
    await owner.affiliate("n", member.jid, "member")

    assert subscription_of(await member.subscribe("n"))["subscription"] == "subscribed"
    await owner.publish("n", "i1")
    assert ids_in(await member.next_event(), EVENT) == ["i1"]


async def test_a_request_made_through_another_instance_reaches_the_owners(
    bridge: Bridge, pubsub_client: PubSubClientFactory, redis_server: RedisServer
) -> None:
    """The form goes out from the state notice, whichever process stored the request."""
    owner = await pubsub_client()
    co_owner = await pubsub_client()
    inboxes = [forms_of(owner), forms_of(co_owner)]
    await owner.create("n", {"pubsub#access_model": "authorize"})
    await owner.affiliate("n", co_owner.jid, "owner")
    async with AsyncThoonk.from_url(redis_server.url) as thoonk:
        other_instance = PubSubService(thoonk, bridge.service.policy)
        await other_instance.store.request_subscription("n", "far@elsewhere.example/r")

    for inbox in inboxes:
        values = form_values(find(await inbox.next(), "x", DATA))
        assert values["pubsub#subscriber_jid"] == ["far@elsewhere.example/r"]


async def test_the_last_item_waits_for_the_approval(pubsub_client: PubSubClientFactory) -> None:
    owner = await pubsub_client()
    stranger = await pubsub_client()
    inbox = forms_of(owner)
    config = {"pubsub#access_model": "authorize", "pubsub#send_last_published_item": "on_sub"}
    await owner.create("n", config)
    await owner.publish("n", "i1")
    subid = subscription_of(await stranger.subscribe("n"))["subid"]
    await inbox.next()

    answer(owner, approval("n", stranger.jid, subid))

    assert told_to(await stranger.next_event())["subscription"] == "subscribed"
    assert ids_in(await stranger.next_event(), EVENT) == ["i1"]
