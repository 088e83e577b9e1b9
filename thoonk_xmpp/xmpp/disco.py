"""XEP-0030 service discovery of the service and its nodes (with XEP-0128 meta-data).

:data:`FEATURES` lists only what the handlers implement and the integration
tests exercise; a feature joins the list together with its tests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Final

from thoonk_xmpp.service.model import NodeKind, SendLastPublished
from thoonk_xmpp.service.node_config import NodeConfig
from thoonk_xmpp.service.service import NodeMetadata

from . import forms, mam, ns

_PUBSUB_FEATURES: Final = (
    "access-authorize",
    "access-open",
    "access-whitelist",
    "config-node",
    "config-node-max",
    "create-and-configure",
    "create-nodes",
    "delete-items",
    "delete-nodes",
    "get-pending",
    "instant-nodes",
    "item-ids",
    "manage-subscriptions",
    "member-affiliation",
    "meta-data",
    "modify-affiliations",
    "multi-items",
    "outcast-affiliation",
    "persistent-items",
    "publish",
    "publish-node-full",
    "publish-only-affiliation",
    "publish-options",
    "publisher-affiliation",
    "purge-nodes",
    "retract-items",
    "retrieve-affiliations",
    "retrieve-default",
    "retrieve-default-sub",
    "retrieve-items",
    "retrieve-subscriptions",
    "rsm",
    "subscribe",
    "subscription-notifications",
    "subscription-options",
)

#: Everything the service advertises in disco#info, whatever its defaults.
FEATURES: Final[tuple[str, ...]] = (
    ns.DISCO_INFO,
    ns.DISCO_ITEMS,
    ns.PUBSUB,
    *(f"{ns.PUBSUB}#{name}" for name in _PUBSUB_FEATURES),
    ns.RSM,
    ns.PING,
    ns.COMMANDS,
    ns.QUEUEING,
)

#: Advertised when new nodes send the last item on subscription by default (§6.1.7).
LAST_PUBLISHED: Final = f"{ns.PUBSUB}#last-published"

#: What a node's disco#info advertises.
NODE_FEATURES: Final[tuple[str, ...]] = (ns.DISCO_INFO, ns.DISCO_ITEMS, ns.PUBSUB)


def _d(namespace: str, name: str) -> str:
    return ns.tag(namespace, name)


def _query(namespace: str, node: str | None) -> ET.Element:
    return ET.Element(_d(namespace, "query"), {} if node is None else {"node": node})


def _features(query: ET.Element, features: Iterable[str]) -> None:
    for var in features:
        ET.SubElement(query, _d(ns.DISCO_INFO, "feature"), {"var": var})


#: Advertised while the XMPP server lets the service read rosters (XEP-0356).
ROSTER_MODELS: Final = (f"{ns.PUBSUB}#access-presence", f"{ns.PUBSUB}#access-roster")


def service_features(defaults: NodeConfig, rosters: bool = False) -> tuple[str, ...]:
    """:data:`FEATURES`, :data:`LAST_PUBLISHED` if nodes send the last item by default,
    and :data:`ROSTER_MODELS` when ``rosters`` can be read."""
    features = FEATURES
    if defaults.send_last_published_item != SendLastPublished.NEVER:
        features = (*features, LAST_PUBLISHED)
    return (*features, *ROSTER_MODELS) if rosters else features


def service_info(
    defaults: NodeConfig, name: str = "Thoonk pubsub", *, rosters: bool = False
) -> ET.Element:
    """disco#info of the service: pubsub/service identity and :func:`service_features`."""
    query = _query(ns.DISCO_INFO, None)
    ET.SubElement(
        query,
        _d(ns.DISCO_INFO, "identity"),
        {"category": "pubsub", "type": "service", "name": name},
    )
    _features(query, service_features(defaults, rosters))
    return query


def node_info(meta: NodeMetadata, *, with_metadata: bool = True) -> ET.Element:
    """disco#info of a node: pubsub/leaf identity, features and the meta-data form.

    The form only ``with_metadata``: not for those who may not see the node (not on
    a whitelist node's list, outcasts).

    An ordered node also advertises the position namespace (its events and
    publish-options); the meta-data form's ``thoonkx#node_kind`` names its kind.
    A plain node advertises its archive (XEP-0313 with the ``#extended`` queries).
    """
    query = _query(ns.DISCO_INFO, meta.node)
    ET.SubElement(query, _d(ns.DISCO_INFO, "identity"), {"category": "pubsub", "type": "leaf"})
    _features(query, NODE_FEATURES)
    if meta.config.node_kind == NodeKind.SORTED_FEED:
        _features(query, (ns.POSITION,))
    if meta.config.node_kind == NodeKind.FEED:
        _features(query, mam.FEATURES)  # its archive (XEP-0313, XEP-0442)
    if meta.config.node_kind.queueing:
        _features(query, (ns.QUEUEING,))
    if with_metadata:
        query.append(forms.metadata_form(meta))
    return query


def node_items(service_jid: str, nodes: Iterable[str]) -> ET.Element:
    """disco#items of the service: one item per node."""
    query = _query(ns.DISCO_ITEMS, None)
    for node in nodes:
        ET.SubElement(query, _d(ns.DISCO_ITEMS, "item"), {"jid": service_jid, "node": node})
    return query


def item_items(service_jid: str, node: str, ids: Iterable[str]) -> ET.Element:
    """disco#items of a node: one item per published item, named by its id (§5.5)."""
    query = _query(ns.DISCO_ITEMS, node)
    for item_id in ids:
        ET.SubElement(query, _d(ns.DISCO_ITEMS, "item"), {"jid": service_jid, "name": item_id})
    return query
