"""Parsers of the owner's requests: nodes (§8.1-8.5), subscriptions and affiliations
(§8.8, §8.9).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from thoonk_xmpp.service.errors import Unsupported
from thoonk_xmpp.service.model import Affiliation, SubscriptionState

from . import forms, ns, rsm
from .errors import MalformedRequest
from .parser_registry import (
    child_of,
    children_of,
    normalise_jid,
    optional_node,
    parses,
    required_node,
)
from .requests import (
    Create,
    Delete,
    GetAffiliations,
    GetConfig,
    GetDefault,
    GetSubscriptions,
    IqType,
    Purge,
    SetAffiliations,
    SetConfig,
    SetSubscriptions,
)

_G, _S, _P, _O = IqType.GET, IqType.SET, ns.PUBSUB, ns.PUBSUB_OWNER


@parses(_S, _P, "create")
def _create(element: ET.Element, pubsub: ET.Element) -> Create:
    configure = child_of(pubsub, _P, "configure")
    if configure is not None and configure.get("node") is not None:
        raise MalformedRequest("<configure/> beside <create/> must not have a 'node'")
    return Create(optional_node(element), forms.submitted(configure, forms.NODE_CONFIG))


@parses(_G, _O, "configure")
def _get_config(element: ET.Element, pubsub: ET.Element) -> GetConfig:
    return GetConfig(required_node(element))


@parses(_S, _O, "configure")
def _set_config(element: ET.Element, pubsub: ET.Element) -> SetConfig:
    node = required_node(element)
    if forms.find_form(element) is None:
        raise MalformedRequest("<configure/> must hold a data form")
    return SetConfig(node, forms.submitted(element, forms.NODE_CONFIG))


@parses(_G, _O, "default")
def _get_default(element: ET.Element, pubsub: ET.Element) -> GetDefault:
    kind = element.get("type", "leaf")
    if kind != "leaf":
        raise Unsupported("collections", f"node type {kind!r}")
    return GetDefault()


@parses(_S, _O, "delete")
def _delete(element: ET.Element, pubsub: ET.Element) -> Delete:
    node = required_node(element)
    redirect = child_of(element, _O, "redirect")
    if redirect is None:
        return Delete(node)
    uri = redirect.get("uri")
    if not uri:
        raise MalformedRequest("<redirect/> must have a 'uri'")
    return Delete(node, uri)


@parses(_S, _O, "purge")
def _purge(element: ET.Element, pubsub: ET.Element) -> Purge:
    return Purge(required_node(element))


@parses(_G, _O, "subscriptions")
def _get_subscriptions(element: ET.Element, pubsub: ET.Element) -> GetSubscriptions:
    return GetSubscriptions(required_node(element), rsm.parse_set(pubsub))


@parses(_S, _O, "subscriptions")
def _set_subscriptions(element: ET.Element, pubsub: ET.Element) -> SetSubscriptions:
    node = required_node(element)
    changes: list[tuple[str, SubscriptionState, str | None]] = []
    for entry in children_of(element, _O, "subscription"):
        jid = normalise_jid(entry.get("jid"))
        state = entry.get("subscription")
        if state is None:
            continue  # §8.8.2.1: no 'subscription' attribute, no change
        try:
            if state == SubscriptionState.PENDING:
                raise ValueError(state)  # only the subscriber's own request is pending
            changes.append((jid, SubscriptionState(state), entry.get("subid") or None))
        except ValueError:
            raise MalformedRequest(
                f"subscription {state!r} for {jid}: only 'subscribed' or 'none' can be set"
            ) from None
    return SetSubscriptions(node, tuple(changes))


@parses(_G, _O, "affiliations")
def _get_affiliations(element: ET.Element, pubsub: ET.Element) -> GetAffiliations:
    return GetAffiliations(required_node(element), rsm.parse_set(pubsub))


@parses(_S, _O, "affiliations")
def _set_affiliations(element: ET.Element, pubsub: ET.Element) -> SetAffiliations:
    node = required_node(element)
    changes: dict[str, Affiliation] = {}
    seen: set[str] = set()
    for entry in children_of(element, _O, "affiliation"):
        jid = normalise_jid(entry.get("jid"))
        if jid in seen:
            raise MalformedRequest(f"{jid} appears twice (§8.9.2.4)")
        seen.add(jid)
        value = entry.get("affiliation")
        if value is None:
            continue  # §8.9.2.1: no 'affiliation' attribute, no change
        try:
            changes[jid] = Affiliation(value)
        except ValueError:
            raise MalformedRequest(f"{value!r} is not an affiliation") from None
    return SetAffiliations(node, tuple(changes.items()))
