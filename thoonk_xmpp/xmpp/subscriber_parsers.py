"""Parsers of the subscriber's requests (§6): items, subscribe and unsubscribe, options and
their defaults, one's own subscriptions and affiliations.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from thoonk_xmpp.service.errors import Unsupported

from . import forms, ns, rsm
from .errors import MalformedRequest
from .parser_registry import (
    child_of,
    children_of,
    item_id_of,
    normalise_jid,
    optional_node,
    parses,
    required_node,
)
from .requests import (
    GetItems,
    GetOptions,
    GetSubscribeDefault,
    IqType,
    OwnAffiliations,
    OwnSubscriptions,
    SetOptions,
    Subscribe,
    Unsubscribe,
)

_G, _S, _P, _O = IqType.GET, IqType.SET, ns.PUBSUB, ns.PUBSUB_OWNER


@parses(_G, _P, "items")
def _get_items(element: ET.Element, pubsub: ET.Element) -> GetItems:
    node = required_node(element)
    ids = tuple(item_id_of(item) for item in children_of(element, _P, "item"))
    raw_max = element.get("max_items")
    max_items = None
    if raw_max is not None:
        if not (raw_max.isascii() and raw_max.isdigit()) or int(raw_max) < 1:
            raise MalformedRequest(f"'max_items' must be a positive integer, got {raw_max!r}")
        max_items = int(raw_max)
    return GetItems(node, ids, max_items, rsm.parse_set(pubsub), element.get("subid") or None)


@parses(_S, _P, "subscribe")
def _subscribe(element: ET.Element, pubsub: ET.Element) -> Subscribe:
    node, jid = required_node(element), normalise_jid(element.get("jid"))
    options = child_of(pubsub, _P, "options")
    if options is None:
        return Subscribe(node, jid)
    # XEP-0254's examples repeat the subscribe's node and jid on the options
    if options.get("node") not in (None, node) or (
        options.get("jid") is not None and normalise_jid(options.get("jid")) != jid
    ):
        raise MalformedRequest("<options/> beside <subscribe/> names another node or jid")
    return Subscribe(node, jid, forms.submitted(options, forms.SUBSCRIBE_OPTIONS))


@parses(_G, _P, "options")
def _get_options(element: ET.Element, pubsub: ET.Element) -> GetOptions:
    node = required_node(element)
    return GetOptions(node, normalise_jid(element.get("jid")), element.get("subid") or None)


@parses(_S, _P, "options")
def _set_options(element: ET.Element, pubsub: ET.Element) -> SetOptions:
    node = required_node(element)
    jid = normalise_jid(element.get("jid"))
    if forms.find_form(element) is None:
        raise MalformedRequest("<options/> must hold a data form")
    changes = forms.submitted(element, forms.SUBSCRIBE_OPTIONS)
    return SetOptions(node, jid, element.get("subid") or None, changes)


@parses(_G, _P, "default")
def _get_subscribe_default(element: ET.Element, pubsub: ET.Element) -> GetSubscribeDefault:
    kind = element.get("type", "leaf")
    if kind != "leaf":
        raise Unsupported("collections", f"node type {kind!r}")
    return GetSubscribeDefault(optional_node(element))


@parses(_S, _P, "unsubscribe")
def _unsubscribe(element: ET.Element, pubsub: ET.Element) -> Unsubscribe:
    node = required_node(element)
    return Unsubscribe(node, normalise_jid(element.get("jid")), element.get("subid") or None)


@parses(_G, _P, "subscriptions")
def _own_subscriptions(element: ET.Element, pubsub: ET.Element) -> OwnSubscriptions:
    return OwnSubscriptions(optional_node(element), rsm.parse_set(pubsub))


@parses(_G, _P, "affiliations")
def _own_affiliations(element: ET.Element, pubsub: ET.Element) -> OwnAffiliations:
    return OwnAffiliations(optional_node(element), rsm.parse_set(pubsub))
