"""The pieces of pubsub replies that several handler modules build alike."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from thoonk_xmpp.service.model import Subscription

from . import ns, rsm
from .fitting import Listing
from .handler_registry import Reply


def pubsub_element(owner: bool = False) -> ET.Element:
    return ET.Element(ns.tag(ns.PUBSUB_OWNER if owner else ns.PUBSUB, "pubsub"))


def sub_element(parent: ET.Element, name: str, attrs: dict[str, str] | None = None) -> ET.Element:
    namespace, _ = ns.split(parent.tag)
    return ET.SubElement(parent, ns.tag(namespace, name), attrs or {})


def node_attrs(node: str | None) -> dict[str, str]:
    return {} if node is None else {"node": node}


def add_subscription(
    parent: ET.Element, sub: Subscription, *, with_node: bool = True, state: str | None = None
) -> None:
    attrs = {"node": sub.node} if with_node else {}
    attrs |= {"jid": sub.jid, "subscription": state or sub.state.value, "subid": sub.subid}
    sub_element(parent, "subscription", attrs)


def listed_reply(pubsub: ET.Element, listing: ET.Element, page: rsm.Page, paged: bool) -> Reply:
    """A list reply: the <set/> when paging was asked for, and its entries cuttable."""
    if paged:
        pubsub.append(rsm.set_element(page.members, page.first_index, page.count))
    return Reply(
        pubsub, listing=Listing(listing, page.members, pubsub, page.first_index, page.count)
    )
