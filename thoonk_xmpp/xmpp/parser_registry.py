"""The table of request parsers and what every parser reads from an element.

:data:`VERBS` maps (iq type, namespace, element) to the parser of that request,
registered with :func:`parses` by the parser modules (:mod:`.owner_parsers`,
:mod:`.subscriber_parsers`, :mod:`.publisher_parsers` and :mod:`.parsing` itself);
:mod:`.parsing` imports them all and reads the table.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import Final, TypeVar

from slixmpp import JID
from slixmpp.jid import InvalidJID

from thoonk_xmpp.service.errors import ItemRequired, NodeIdRequired

from . import ns
from .errors import (
    JidRequired,
    MalformedJid,
    MalformedRequest,
)
from .requests import (
    IqType,
    Request,
)

_Parser = Callable[[ET.Element, ET.Element], Request]
_P_co = TypeVar("_P_co", bound=_Parser)

#: (iq type, namespace, element) → its parser: the whole request vocabulary, filled by
#: :func:`parses`.
VERBS: Final[dict[tuple[IqType, str, str], _Parser]] = {}


def parses(kind: IqType, namespace: str, name: str) -> Callable[[_P_co], _P_co]:
    """Register a parser (element, its parent) → request for iqs of ``kind`` asking ``name``."""

    def register(parser: _P_co) -> _P_co:
        if (kind, namespace, name) in VERBS:
            raise ValueError(f"<{name}/> in {namespace} has a parser already")
        VERBS[kind, namespace, name] = parser
        return parser

    return register


#: Pubsub requests we know but do not implement → the XEP-0060 feature to name.
UNSUPPORTED: Final[Mapping[tuple[str, str], str]] = {}


# --- attribute helpers ----------------------------------------------------------------------


def required_node(element: ET.Element) -> str:
    node = element.get("node")
    if not node:
        raise NodeIdRequired()
    return node


def optional_node(element: ET.Element) -> str | None:
    return element.get("node") or None


def normalise_jid(text: str | None) -> str:
    """A JID attribute in normal form (full if it has a resource)."""
    if not text:
        raise JidRequired()
    if len(text) > _LONGEST_JID:
        raise MalformedJid(text)
    try:
        return _prepped(text)
    except InvalidJID:
        raise MalformedJid(text) from None


#: RFC 7622: up to 1023 octets for each of the three parts.
_LONGEST_JID: Final = 3 * 1023 + 2


@functools.lru_cache(maxsize=4096)
def _prepped(text: str) -> str:
    # The same few senders ask again and again, and preparing a JID is costly.
    # Only good JIDs are kept: lru_cache does not keep a call that raised.
    return str(JID(text))


def parse_boolean(value: str, what: str) -> bool:
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise MalformedRequest(f"{what} must be a boolean (1, 0, true, false), got {value!r}")


def item_id_of(item: ET.Element) -> str:
    item_id = item.get("id")
    if not item_id:
        raise ItemRequired("an item id")
    return item_id


def child_of(parent: ET.Element, namespace: str, name: str) -> ET.Element | None:
    return parent.find(ns.tag(namespace, name))


def children_of(parent: ET.Element, namespace: str, name: str) -> list[ET.Element]:
    return parent.findall(ns.tag(namespace, name))
