"""Answers cut to the stanza limit (:mod:`thoonk_xmpp.xmpp.fitting`): lists keep the entries
that fit and say where they stop with a XEP-0059 <set/>; what cannot be cut is refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from slixmpp.xmlstream import tostring

from thoonk_xmpp.xmpp import disco, ns
from thoonk_xmpp.xmpp.fitting import Listing, fitted, size

SERVICE = "pubsub.example.org"
SET = ns.tag(ns.RSM, "set")


def render(element: ET.Element) -> str:
    return str(tostring(element, xmlns=ns.STANZA, top_level=True))


def iq_with(payload: ET.Element) -> ET.Element:
    iq = ET.Element(ns.tag(ns.STANZA, "iq"), {"type": "result", "id": "q1", "to": "a@x.org/r"})
    iq.append(payload)
    return iq


def nodes_listing(count: int) -> tuple[ET.Element, Listing]:
    names = [f"node-with-a-rather-long-name-{n:05d}" for n in range(count)]
    query = disco.node_items(SERVICE, names)
    return iq_with(query), Listing(query, names, query, 0, count)


def test_a_stanza_that_fits_is_sent_as_it_is() -> None:
    iq, listing = nodes_listing(10)

    text = fitted(iq, listing, 512 * 1024, render)

    assert text == render(iq) and "<set" not in text


def test_a_list_too_big_keeps_what_fits_and_says_where_it_stops() -> None:
    iq, listing = nodes_listing(20_000)
    assert size(render(iq)) > 512 * 1024

    text = fitted(iq, listing, 512 * 1024, render)

    assert text is not None and 500 * 1024 < size(text) <= 512 * 1024
    query = ET.fromstring(text)[0]
    kept = [item.get("node") for item in query.findall(ns.tag(ns.DISCO_ITEMS, "item"))]
    assert kept == list(listing.keys[: len(kept)])
    result_set = query.find(SET)
    assert result_set is not None
    assert result_set.findtext(ns.tag(ns.RSM, "first")) == kept[0]
    assert result_set.findtext(ns.tag(ns.RSM, "last")) == kept[-1]
    assert result_set.findtext(ns.tag(ns.RSM, "count")) == "20000"


def test_an_entry_too_big_alone_goes_without_its_content() -> None:
    pubsub = ET.Element(ns.tag(ns.PUBSUB, "pubsub"))
    items = ET.SubElement(pubsub, ns.tag(ns.PUBSUB, "items"), {"node": "n"})
    for item_id, length in (("huge", 1_000_000), ("small", 10)):
        item = ET.SubElement(items, ns.tag(ns.PUBSUB, "item"), {"id": item_id})
        ET.SubElement(item, "{urn:t}p").text = "x" * length
    iq = iq_with(pubsub)

    text = fitted(iq, Listing(items, ["huge", "small"], pubsub, 0, 2), 64 * 1024, render)

    assert text is not None
    found = ET.fromstring(text)[0][0]
    assert [(i.get("id"), len(list(i))) for i in found] == [("huge", 0), ("small", 1)]


def test_what_cannot_be_cut_is_not_sent() -> None:
    iq, _ = nodes_listing(20_000)

    assert fitted(iq, None, 512 * 1024, render) is None
