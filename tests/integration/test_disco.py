"""The component itself: XEP-0199 ping, XEP-0030 listings paged with XEP-0059, and the answer
to requests it does not serve — over real Prosody, the component and Redis."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest

from tests.integration.bridge_fixtures import Bridge, PubSubClient, PubSubClientFactory, pubsub
from thoonk_xmpp.xmpp import ns

RSM = ns.RSM


async def test_ping_is_answered_with_an_empty_result(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()

    reply = await alice.send("get", f"<ping xmlns='{ns.PING}'/>")

    assert reply.get("type") == "result"
    assert list(reply) == []


async def test_a_namespace_we_do_not_serve_is_service_unavailable(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()

    error = await bridge.refuses(alice, "get", "<query xmlns='jabber:iq:version'/>")

    assert error == ("cancel", "service-unavailable", None)


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        (
            "get",
            pubsub("<default type='collection'/>"),
            ("cancel", "feature-not-implemented", "unsupported", "collections"),
        ),
        ("get", pubsub("<frobnicate/>"), ("cancel", "feature-not-implemented", None)),
        ("get", pubsub("<publish node='n'/>"), ("modify", "bad-request", None)),
    ],
)
async def test_pubsub_requests_we_do_not_implement_say_so(
    bridge: Bridge,
    pubsub_client: PubSubClientFactory,
    kind: str,
    payload: str,
    expected: tuple[object, ...],
) -> None:
    alice = await pubsub_client()

    assert await bridge.refuses(alice, kind, payload) == expected


# --- XEP-0059 on disco#items ------------------------------------------------------------------


def listing(query: ET.Element) -> tuple[list[str], str | None, str | None, str | None]:
    """(node or item names, first index, last, count) of a paged disco#items reply."""
    names = [
        i.get("node") or i.get("name") or "" for i in query.findall(ns.tag(ns.DISCO_ITEMS, "item"))
    ]
    result_set = query.find(ns.tag(RSM, "set"))
    assert result_set is not None
    first = result_set.find(ns.tag(RSM, "first"))
    return (
        names,
        None if first is None else first.get("index"),
        result_set.findtext(ns.tag(RSM, "last")),
        result_set.findtext(ns.tag(RSM, "count")),
    )


def paged_items(rsm: str, node: str | None = None) -> str:
    attr = "" if node is None else f" node='{node}'"
    return f"<query xmlns='{ns.DISCO_ITEMS}'{attr}><set xmlns='{RSM}'>{rsm}</set></query>"


@pytest.fixture
async def nodes(pubsub_client: PubSubClientFactory) -> PubSubClient:
    """A client owning nodes n1..n5, and n1 holding items i1..i5."""
    alice = await pubsub_client()
    for number in range(1, 6):
        await alice.create(f"n{number}")
        await alice.publish("n1", f"i{number}")
    return alice


@pytest.mark.parametrize(
    ("rsm", "expected"),
    [
        ("<max>2</max>", (["n1", "n2"], "0", "n2", "5")),
        ("<max>2</max><after>n2</after>", (["n3", "n4"], "2", "n4", "5")),
        ("<max>2</max><before/>", (["n4", "n5"], "3", "n5", "5")),
        ("<max>2</max><before>n3</before>", (["n1", "n2"], "0", "n2", "5")),
        ("<max>3</max><index>4</index>", (["n5"], "4", "n5", "5")),
        ("<max>0</max>", ([], None, None, "5")),
    ],
)
async def test_service_items_are_paged(
    nodes: PubSubClient, rsm: str, expected: tuple[object, ...]
) -> None:
    assert listing(await nodes.ok("get", paged_items(rsm))) == expected


async def test_node_items_are_paged(nodes: PubSubClient) -> None:
    query = await nodes.ok("get", paged_items("<max>2</max><after>i3</after>", "n1"))

    assert listing(query) == (["i4", "i5"], "3", "i5", "5")


async def test_paging_after_an_unknown_id_is_item_not_found(
    bridge: Bridge, nodes: PubSubClient
) -> None:
    error = await bridge.refuses(nodes, "get", paged_items("<max>2</max><after>zz</after>"))

    assert error == ("cancel", "item-not-found", None)
    error = await bridge.refuses(nodes, "get", paged_items("<max>two</max>"))
    assert error == ("modify", "bad-request", None)


async def test_many_requests_from_one_sender_are_answered_in_order(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    await alice.create("news")

    # Sent back to back without waiting: publish then retract of the same item must not swap.
    requests = []
    for number in range(20):
        item = f"<item id='i{number}'><x xmlns='urn:t'/></item>"
        requests.append(alice.send("set", pubsub(f"<publish node='news'>{item}</publish>")))
        requests.append(
            alice.send("set", pubsub(f"<retract node='news'><item id='i{number}'/></retract>"))
        )
    replies = await asyncio.gather(*requests)

    assert [reply.get("type") for reply in replies] == ["result"] * 40
    assert await bridge.stored("news") == {}
