"""IQ stanzas parsed once, by table, into the typed requests of :mod:`.requests`.

:data:`VERBS` maps (iq type, namespace, element) to the parser of that request,
registered with :func:`parses`; for the two pubsub namespaces the element is the
first child of ``<pubsub/>`` found in the table (so ``<create/>`` wins over the
``<configure/>`` that follows it), for other namespaces it is the iq's payload
itself.  Each verb has one parser; a malformed stanza raises a
:mod:`thoonk_xmpp.xmpp.errors` or :mod:`thoonk_xmpp.service.errors` error before any
service call.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Final

from thoonk_xmpp.service.errors import Unsupported

from . import forms, mam, ns, rsm

# imported so that their parsers register themselves in VERBS
from . import owner_parsers as owner_parsers
from . import publisher_parsers as publisher_parsers
from . import subscriber_parsers as subscriber_parsers
from .errors import (
    BadPayload,
    MalformedAction,
    MalformedRequest,
    ServiceUnavailable,
    UnknownRequest,
)
from .parser_registry import UNSUPPORTED, optional_node, parses, required_node
from .parser_registry import VERBS as VERBS
from .parser_registry import normalise_jid as normalise_jid  # admin commands and the CLI use it
from .requests import (
    CommandAction,
    DiscoInfo,
    DiscoItems,
    Envelope,
    Execute,
    GetArchiveForm,
    GetArchiveMetadata,
    IqType,
    Ping,
    QueryArchive,
    Request,
)

_G, _S, _P, _O = IqType.GET, IqType.SET, ns.PUBSUB, ns.PUBSUB_OWNER


# --- one parser per verb outside the pubsub namespaces ------------------------------------


@parses(_G, ns.PING, "ping")
def _ping(element: ET.Element, parent: ET.Element) -> Ping:
    return Ping()


@parses(_G, ns.DISCO_INFO, "query")
def _disco_info(element: ET.Element, parent: ET.Element) -> DiscoInfo:
    return DiscoInfo(optional_node(element))


@parses(_G, ns.DISCO_ITEMS, "query")
def _disco_items(element: ET.Element, parent: ET.Element) -> DiscoItems:
    return DiscoItems(optional_node(element), rsm.parse_set(element))


@parses(_S, ns.COMMANDS, "command")
def _command(element: ET.Element, iq: ET.Element) -> Execute:
    node = element.get("node")
    if not node:
        raise MalformedRequest("<command/> must have a 'node'")
    raw_action = element.get("action", CommandAction.EXECUTE.value)
    try:
        action = CommandAction(raw_action)
    except ValueError:
        raise MalformedAction(raw_action) from None
    x = forms.find_form(element)
    fields = None
    if x is not None:
        try:
            form = forms.parse_form(x)
        except MalformedRequest as exc:
            raise BadPayload("form", str(exc)) from None
        if form.type != forms.FormType.SUBMIT:
            raise BadPayload("form", f"expected a submit form, got type {form.type.value!r}")
        fields = dict(form.fields)
    return Execute(node, action, element.get("sessionid") or None, fields)


@parses(_S, mam.MAM, "query")
def _query_archive(element: ET.Element, iq: ET.Element) -> QueryArchive:
    node = required_node(element)
    return QueryArchive(
        node, mam.parse_query(element), element.get("queryid"), mam.flipped(element)
    )


@parses(_G, mam.MAM, "query")
def _archive_form(element: ET.Element, iq: ET.Element) -> GetArchiveForm:
    return GetArchiveForm(required_node(element))


@parses(_G, mam.MAM, "metadata")
def _archive_metadata(element: ET.Element, iq: ET.Element) -> GetArchiveMetadata:
    return GetArchiveMetadata(required_node(element))


# --- entry points -------------------------------------------------------------------------


def envelope(iq: ET.Element) -> Envelope:
    """The iq's id, type and addresses; raises MalformedRequest for a non-request."""
    try:
        kind = IqType(iq.get("type", ""))
    except ValueError:
        raise MalformedRequest(f"iq type {iq.get('type')!r} is not a request") from None
    sender = iq.get("from")
    if not sender:
        raise MalformedRequest("the iq has no 'from'")
    return Envelope(iq.get("id", ""), kind, normalise_jid(sender), iq.get("to", ""))


def parse(iq: ET.Element) -> Request:
    """The typed request in ``iq`` (type get or set)."""
    kind = envelope(iq).type
    payload = next(iter(iq), None)
    if payload is None:
        raise MalformedRequest("the iq has no payload")
    namespace, name = ns.split(payload.tag)
    if name == "pubsub" and namespace in (_P, _O):
        return _parse_pubsub(kind, payload)
    parser = VERBS.get((kind, namespace, name))
    if parser is None:
        raise ServiceUnavailable(namespace)
    return parser(payload, iq)


#: Element names of the pubsub verbs, in either pubsub namespace.
_VERB_NAMES: Final = frozenset(name for _, namespace, name in VERBS if namespace in (_P, _O))

#: What may stand beside a verb in one <pubsub/>: the create's <configure/> (§8.1.3), the
#: subscribe's <options/>.
_COMPANIONS: Final[Mapping[str, frozenset[str]]] = {
    "create": frozenset({"configure"}),
    "subscribe": frozenset({"options"}),  # §6.3.7
}


def _parse_pubsub(kind: IqType, pubsub: ET.Element) -> Request:
    children = [(child, *ns.split(child.tag)) for child in pubsub]
    for child, namespace, name in children:
        parser = VERBS.get((kind, namespace, name))
        if parser is not None:
            _refuse_a_second_verb(child, children)
            return parser(child, pubsub)
    for _, namespace, name in children:
        feature = UNSUPPORTED.get((namespace, name))
        if feature is not None:
            raise Unsupported(feature)
        other = IqType.SET if kind == IqType.GET else IqType.GET
        if (other, namespace, name) in VERBS:
            raise MalformedRequest(f"<{name}/> needs an iq of type {other.value!r}")
    if not children:
        raise MalformedRequest("<pubsub/> is empty")
    raise UnknownRequest(f"<{children[0][2]}/> in {children[0][1]}")


def _refuse_a_second_verb(element: ET.Element, children: list[tuple[ET.Element, str, str]]) -> None:
    """One <pubsub/> asks one thing: a second verb would be silently ignored otherwise."""
    allowed = _COMPANIONS.get(ns.split(element.tag)[1], frozenset())
    for child, namespace, name in children:
        if child is element or namespace not in (_P, _O) or name in allowed:
            continue
        if name in _VERB_NAMES:
            raise MalformedRequest(
                f"<{name}/> beside <{ns.split(element.tag)[1]}/>: one request at a time"
            )
