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

import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import Final, TypeVar

from slixmpp import JID
from slixmpp.jid import InvalidJID

from thoonk_xmpp.service.errors import InvalidPayload, ItemRequired, NodeIdRequired, Unsupported
from thoonk_xmpp.service.model import Affiliation, SubscriptionState

from . import forms, mam, ns, payloads, rsm
from .errors import (
    BadPayload,
    JidRequired,
    MalformedAction,
    MalformedJid,
    MalformedRequest,
    ServiceUnavailable,
    UnknownRequest,
)
from .requests import (
    CommandAction,
    Create,
    Delete,
    DiscoInfo,
    DiscoItems,
    Envelope,
    Execute,
    GetAffiliations,
    GetArchiveForm,
    GetArchiveMetadata,
    GetConfig,
    GetDefault,
    GetItems,
    GetOptions,
    GetSubscribeDefault,
    GetSubscriptions,
    IqType,
    OwnAffiliations,
    OwnSubscriptions,
    Ping,
    Publish,
    PublishedItem,
    Purge,
    QueryArchive,
    Request,
    Retract,
    SetAffiliations,
    SetConfig,
    SetOptions,
    SetSubscriptions,
    Subscribe,
    Unlock,
    Unsubscribe,
)

_G, _S, _P, _O = IqType.GET, IqType.SET, ns.PUBSUB, ns.PUBSUB_OWNER

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


def _node(element: ET.Element) -> str:
    node = element.get("node")
    if not node:
        raise NodeIdRequired()
    return node


def _optional_node(element: ET.Element) -> str | None:
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


def _boolean(value: str, what: str) -> bool:
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise MalformedRequest(f"{what} must be a boolean (1, 0, true, false), got {value!r}")


def _item_id(item: ET.Element) -> str:
    item_id = item.get("id")
    if not item_id:
        raise ItemRequired("an item id")
    return item_id


def _child(parent: ET.Element, namespace: str, name: str) -> ET.Element | None:
    return parent.find(ns.tag(namespace, name))


def _all(parent: ET.Element, namespace: str, name: str) -> list[ET.Element]:
    return parent.findall(ns.tag(namespace, name))


# --- one parser per verb (element, its parent) ---------------------------------------------


@parses(_G, ns.PING, "ping")
def _ping(element: ET.Element, parent: ET.Element) -> Ping:
    return Ping()


@parses(_G, ns.DISCO_INFO, "query")
def _disco_info(element: ET.Element, parent: ET.Element) -> DiscoInfo:
    return DiscoInfo(_optional_node(element))


@parses(_G, ns.DISCO_ITEMS, "query")
def _disco_items(element: ET.Element, parent: ET.Element) -> DiscoItems:
    return DiscoItems(_optional_node(element), rsm.parse_set(element))


@parses(_S, _P, "create")
def _create(element: ET.Element, pubsub: ET.Element) -> Create:
    configure = _child(pubsub, _P, "configure")
    if configure is not None and configure.get("node") is not None:
        raise MalformedRequest("<configure/> beside <create/> must not have a 'node'")
    return Create(_optional_node(element), forms.submitted(configure, forms.NODE_CONFIG))


@parses(_G, _O, "configure")
def _get_config(element: ET.Element, pubsub: ET.Element) -> GetConfig:
    return GetConfig(_node(element))


@parses(_S, _O, "configure")
def _set_config(element: ET.Element, pubsub: ET.Element) -> SetConfig:
    node = _node(element)
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
    node = _node(element)
    redirect = _child(element, _O, "redirect")
    if redirect is None:
        return Delete(node)
    uri = redirect.get("uri")
    if not uri:
        raise MalformedRequest("<redirect/> must have a 'uri'")
    return Delete(node, uri)


@parses(_S, _O, "purge")
def _purge(element: ET.Element, pubsub: ET.Element) -> Purge:
    return Purge(_node(element))


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
    node = _node(element)
    items = tuple(_published_item(item) for item in _all(element, _P, "item"))
    options = _child(pubsub, _P, "publish-options")
    return Publish(node, items, forms.submitted(options, forms.PUBLISH_OPTIONS))


@parses(_S, _P, "retract")
def _retract(element: ET.Element, pubsub: ET.Element) -> Retract:
    node = _node(element)
    items = _all(element, _P, "item")
    ids = tuple(_item_id(item) for item in items)
    if not ids:
        raise ItemRequired("an item id")
    notify = element.get("notify")
    results = tuple(
        (item_id, _job_result(result))
        for item_id, item in zip(ids, items, strict=True)
        if (result := _child(item, ns.JOB_RESULT, "result")) is not None
    )
    return Retract(node, ids, notify is not None and _boolean(notify, "'notify'"), results)


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
    items = _all(element, ns.QUEUEING, "item") or _all(element, _P, "item")
    if len(items) != 1:
        raise MalformedRequest("<unlock/> names exactly one <item/>")
    return Unlock(_node(element), _item_id(items[0]))


@parses(_G, _P, "items")
def _get_items(element: ET.Element, pubsub: ET.Element) -> GetItems:
    node = _node(element)
    ids = tuple(_item_id(item) for item in _all(element, _P, "item"))
    raw_max = element.get("max_items")
    max_items = None
    if raw_max is not None:
        if not (raw_max.isascii() and raw_max.isdigit()) or int(raw_max) < 1:
            raise MalformedRequest(f"'max_items' must be a positive integer, got {raw_max!r}")
        max_items = int(raw_max)
    return GetItems(node, ids, max_items, rsm.parse_set(pubsub), element.get("subid") or None)


@parses(_S, _P, "subscribe")
def _subscribe(element: ET.Element, pubsub: ET.Element) -> Subscribe:
    node, jid = _node(element), normalise_jid(element.get("jid"))
    options = _child(pubsub, _P, "options")
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
    node = _node(element)
    return GetOptions(node, normalise_jid(element.get("jid")), element.get("subid") or None)


@parses(_S, _P, "options")
def _set_options(element: ET.Element, pubsub: ET.Element) -> SetOptions:
    node = _node(element)
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
    return GetSubscribeDefault(_optional_node(element))


@parses(_S, _P, "unsubscribe")
def _unsubscribe(element: ET.Element, pubsub: ET.Element) -> Unsubscribe:
    node = _node(element)
    return Unsubscribe(node, normalise_jid(element.get("jid")), element.get("subid") or None)


@parses(_G, _P, "subscriptions")
def _own_subscriptions(element: ET.Element, pubsub: ET.Element) -> OwnSubscriptions:
    return OwnSubscriptions(_optional_node(element), rsm.parse_set(pubsub))


@parses(_G, _P, "affiliations")
def _own_affiliations(element: ET.Element, pubsub: ET.Element) -> OwnAffiliations:
    return OwnAffiliations(_optional_node(element), rsm.parse_set(pubsub))


@parses(_G, _O, "subscriptions")
def _get_subscriptions(element: ET.Element, pubsub: ET.Element) -> GetSubscriptions:
    return GetSubscriptions(_node(element), rsm.parse_set(pubsub))


@parses(_S, _O, "subscriptions")
def _set_subscriptions(element: ET.Element, pubsub: ET.Element) -> SetSubscriptions:
    node = _node(element)
    changes: list[tuple[str, SubscriptionState, str | None]] = []
    for entry in _all(element, _O, "subscription"):
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
    return GetAffiliations(_node(element), rsm.parse_set(pubsub))


@parses(_S, _O, "affiliations")
def _set_affiliations(element: ET.Element, pubsub: ET.Element) -> SetAffiliations:
    node = _node(element)
    changes: dict[str, Affiliation] = {}
    seen: set[str] = set()
    for entry in _all(element, _O, "affiliation"):
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
    node = _node(element)
    return QueryArchive(
        node, mam.parse_query(element), element.get("queryid"), mam.flipped(element)
    )


@parses(_G, mam.MAM, "query")
def _archive_form(element: ET.Element, iq: ET.Element) -> GetArchiveForm:
    return GetArchiveForm(_node(element))


@parses(_G, mam.MAM, "metadata")
def _archive_metadata(element: ET.Element, iq: ET.Element) -> GetArchiveMetadata:
    return GetArchiveMetadata(_node(element))


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
