"""No stanza over the server's limit (issue 9, defect 1): Prosody closes a component's link
when one stanza from it exceeds 512 KiB, and everything in flight on it is lost.  Big items
written by Thoonk apps (which no XMPP limit stops), big lists and big payloads — over real
Prosody, the component and Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import xml.etree.ElementTree as ET

from tests.integration.bridge_fixtures import (
    EVENT,
    PUBSUB,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    find,
    ids_in,
    pubsub,
)
from thoonk_xmpp.service.policy import DEFAULT_MAX_STANZA_SIZE
from thoonk_xmpp.thoonk import BYTES, Feed
from thoonk_xmpp.xmpp import ns

RSM = ns.RSM
INFO = f"<query xmlns='{ns.DISCO_INFO}'/>"


def big_xml(size: int, mark: str = "x") -> bytes:
    """An XML payload of ``size`` bytes."""
    head, tail = b"<big xmlns='urn:t'>", b"</big>"
    return head + mark.encode() * (size - len(head) - len(tail)) + tail


def result_set(result: ET.Element) -> tuple[str | None, str | None, str | None, str | None]:
    """(first, its index, last, count) of the reply's <set/>."""
    found = result.find(ns.tag(RSM, "set"))
    assert found is not None, "no <set/> in a cut result"
    first = found.find(ns.tag(RSM, "first"))
    return (
        None if first is None else first.text,
        None if first is None else first.get("index"),
        found.findtext(ns.tag(RSM, "last")),
        found.findtext(ns.tag(RSM, "count")),
    )


async def answered_by_everyone(bridge: Bridge, client: PubSubClient, count: int) -> None:
    """``count`` disco#info requests at once, every one answered with a result."""
    replies = await asyncio.gather(*(client.send("get", INFO) for _ in range(count)))
    assert [reply.get("type") for reply in replies] == ["result"] * count
    assert bridge.component.connected.is_set()


async def test_a_megabyte_item_written_by_a_thoonk_app_does_not_close_the_link(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    carol = await pubsub_client()
    await alice.create("news")
    await bob.subscribe("news")
    feed = Feed(bridge.thoonk, "news", BYTES)

    await feed.publish(big_xml(1_000_000), "huge")

    event = await bob.next_event()  # the event, without the payload it cannot carry
    item = find(event, "event/items/item", EVENT)
    assert (item.get("id"), list(item)) == ("huge", [])
    await feed.publish(b"<small xmlns='urn:t'/>", "small")
    assert ids_in(await bob.next_event(), EVENT) == ["small"]

    # the items result, while another user's requests are in flight
    retrieval = asyncio.ensure_future(bob.ok("get", pubsub("<items node='news'/>")))
    await answered_by_everyone(bridge, carol, 20)
    items = find(await retrieval, "items").findall(ns.tag(PUBSUB, "item"))
    assert [(i.get("id"), len(list(i))) for i in items] == [("huge", 0), ("small", 1)]
    await answered_by_everyone(bridge, carol, 20)


async def test_items_too_big_together_are_cut_and_the_rest_follows_with_rsm(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("news")
    feed = Feed(bridge.thoonk, "news", BYTES)
    ids = [f"i{n}" for n in range(4)]
    for n, item_id in enumerate(ids):
        await feed.publish(big_xml(200_000, str(n)), item_id)

    first = await alice.ok("get", pubsub("<items node='news'/>"))

    got = ids_in(first)
    assert 1 <= len(got) < 4 and got == ids[: len(got)]
    assert result_set(first) == (ids[0], "0", got[-1], "4")
    while len(got) < 4:
        page = await alice.ok(
            "get",
            pubsub(
                f"<items node='news'/><set xmlns='{RSM}'><after>{got[-1]}</after></set>",
            ),
        )
        more = ids_in(page)
        assert more and result_set(page)[1:] == (str(len(got)), more[-1], "4")
        got += more
    assert got == ids
    await alice.publish("news", "after")  # the link is still up
    assert bridge.component.connected.is_set()


async def test_ten_thousand_subscriptions_are_cut_and_paged(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("crowd")
    jids = [f"subscriber-number-{n:05d}@{bridge.server.domain}" for n in range(10_000)]
    subids = {
        sub.subid
        for sub in await asyncio.gather(
            *(bridge.service.store.subscribe("crowd", jid) for jid in jids)
        )
    }
    listing = pubsub("<subscriptions node='crowd'/>", owner=True)

    first = await alice.ok("get", listing)

    def subids_in(result: ET.Element) -> list[str]:
        return [s.get("subid", "") for s in result.iter(ns.tag(ns.PUBSUB_OWNER, "subscription"))]

    got = subids_in(first)
    assert 0 < len(got) < 10_000
    assert result_set(first)[1:] == ("0", got[-1], "10000")
    while len(got) < 10_000:
        after = f"<set xmlns='{RSM}'><after>{got[-1]}</after></set>"
        page = await alice.ok("get", pubsub(f"<subscriptions node='crowd'/>{after}", owner=True))
        assert subids_in(page), "a page must hold something"
        got += subids_in(page)
    assert len(got) == 10_000 and set(got) == subids
    await answered_by_everyone(bridge, alice, 5)


async def test_a_payload_over_the_service_limit_is_refused_whatever_the_node_allows(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    assert bridge.service.policy.max_payload_size == DEFAULT_MAX_STANZA_SIZE // 2
    bridge.service.policy = dataclasses.replace(bridge.service.policy, max_payload_size=1000)
    alice = await pubsub_client()
    await alice.create("news", {"pubsub#max_payload_size": "100000"})
    body = big_xml(2000).decode()

    error = await bridge.refuses(
        alice, "set", pubsub(f"<publish node='news'><item id='a'>{body}</item></publish>")
    )

    assert error == ("modify", "not-acceptable", "payload-too-big")
    await alice.publish("news", "b", big_xml(900).decode())
    assert await alice.item_ids("news") == ["b"]
