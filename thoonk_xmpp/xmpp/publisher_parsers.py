"""Parsers of the publisher's requests (§7): publish, retract (with a job's result), and
XEP-0254 unlock.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from thoonk_xmpp.service.errors import InvalidPayload, ItemRequired

from . import forms, ns, payloads
from .errors import MalformedRequest
from .parser_registry import (
    child_of,
    children_of,
    item_id_of,
    parse_boolean,
    parses,
    required_node,
)
from .requests import (
    IqType,
    Publish,
    PublishedItem,
    Retract,
    Unlock,
)

_G, _S, _P, _O = IqType.GET, IqType.SET, ns.PUBSUB, ns.PUBSUB_OWNER


def _published_item(item: ET.Element) -> PublishedItem:
    children = list(item)
    if len(children) > 1:
        raise InvalidPayload(f"an item holds one payload element, this one holds {len(children)}")
    payload = None
    if children:
        try:
            payload = payloads.to_stored(children[0])
        except payloads.PayloadError as exc:
            raise InvalidPayload(str(exc)) from None
    return PublishedItem(item.get("id") or None, payload)


@parses(_S, _P, "publish")
def _publish(element: ET.Element, pubsub: ET.Element) -> Publish:
    node = required_node(element)
    items = tuple(_published_item(item) for item in children_of(element, _P, "item"))
    options = child_of(pubsub, _P, "publish-options")
    return Publish(node, items, forms.submitted(options, forms.PUBLISH_OPTIONS))


@parses(_S, _P, "retract")
def _retract(element: ET.Element, pubsub: ET.Element) -> Retract:
    node = required_node(element)
    items = children_of(element, _P, "item")
    ids = tuple(item_id_of(item) for item in items)
    if not ids:
        raise ItemRequired("an item id")
    notify = element.get("notify")
    results = tuple(
        (item_id, _job_result(result))
        for item_id, item in zip(ids, items, strict=True)
        if (result := child_of(item, ns.JOB_RESULT, "result")) is not None
    )
    return Retract(node, ids, notify is not None and parse_boolean(notify, "'notify'"), results)


def _job_result(result: ET.Element) -> bytes:
    """The stored bytes of a ``<result xmlns='urn:thoonk-xmpp:job:0'/>``: its one payload
    element, as a publish stores it (empty without one)."""
    children = list(result)
    if len(children) > 1:
        raise InvalidPayload(f"a result holds one payload element, this one holds {len(children)}")
    if not children:
        return b""
    try:
        return payloads.to_stored(children[0])
    except payloads.PayloadError as exc:
        raise InvalidPayload(str(exc)) from None


@parses(_G, ns.QUEUEING, "unlock")
@parses(_S, ns.QUEUEING, "unlock")
def _unlock(element: ET.Element, parent: ET.Element) -> Unlock:
    """XEP-0254 unlock, inside ``<pubsub/>`` as the XEP shows it or as the iq's payload."""
    items = children_of(element, ns.QUEUEING, "item") or children_of(element, _P, "item")
    if len(items) != 1:
        raise MalformedRequest("<unlock/> names exactly one <item/>")
    return Unlock(required_node(element), item_id_of(items[0]))
