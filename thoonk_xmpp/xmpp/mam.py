"""XEP-0313 message archive management on nodes (XEP-0442): the stanzas.

A query (iq set, ``<query xmlns='urn:xmpp:mam:2' node='N'/>``) is answered with one
``<message/>`` per item to the asking full JID — the item's event notification,
forwarded (XEP-0297) with its publication time as a XEP-0203 delay — then the iq
result ``<fin/>`` with the XEP-0059 ``<set/>`` of the page.  The messages go in
the same write as the result, just before it (:class:`~.handlers.Reply` ``messages``).

Here: reading the query and its form (XEP-0004, XEP-0082 dates), and writing the
result messages, the fin, the query form and the archive metadata.  What a query
selects is the service's (:mod:`thoonk_xmpp.service.archive`).

Each message stays under the stanza limit (an item too big goes without its
payload, as in events), and a page's messages together under :data:`PAGE_STANZAS`
limits: a page cut short says so (``complete='false'``, RSM first/last of what was
sent), and the client pages on from there.
"""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape

from thoonk_xmpp.service.archive import ArchivePage, ArchiveQuery
from thoonk_xmpp.service.model import Item

from . import forms, ns, payloads, rsm
from .errors import MalformedRequest, ResultTooBig, UnknownRequest
from .fitting import size
from .notifications import DELAY_NS, EVENT_NS, message_ids, stamp

MAM: Final = "urn:xmpp:mam:2"
#: before-id, after-id, ids, flipped pages and the metadata query.
EXTENDED: Final = f"{MAM}#extended"
FORWARD: Final = "urn:xmpp:forward:0"
CLIENT: Final = "jabber:client"

#: What a node with an archive advertises in its disco#info.
FEATURES: Final = (MAM, EXTENDED)

#: A page's messages together stay under this many stanza limits.
PAGE_STANZAS: Final = 4

#: The form fields understood; 'with' is not one: items keep no publisher to match.
_TEXT_FIELDS: Final = ("start", "end", "after-id", "before-id")
_FIELDS: Final = frozenset({*_TEXT_FIELDS, "ids"})

# XEP-0082 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD, the zone required.
_DATETIME: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.ASCII
)

_ATTR_ESCAPES: Final = {'"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}

_ids = message_ids()


def _m(name: str) -> str:
    return ns.tag(MAM, name)


def _attr(value: str) -> str:
    return escape(value, _ATTR_ESCAPES)


# --- reading -------------------------------------------------------------------------------


def node_of(element: ET.Element) -> str | None:
    return element.get("node") or None


def epoch_ms(text: str, field: str) -> int:
    """A XEP-0082 DateTime as epoch milliseconds (a fraction below 1 ms is dropped)."""
    if _DATETIME.fullmatch(text) is None:
        raise MalformedRequest(f"{field!r} must be a XEP-0082 date and time, got {text!r}")
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedRequest(f"{field!r} is not a valid date and time: {text!r}") from None
    return (moment - _EPOCH) // datetime.timedelta(milliseconds=1)


_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def parse_query(element: ET.Element) -> ArchiveQuery:
    """The filters and paging of a ``<query xmlns='urn:xmpp:mam:2'/>``.

    A field this service does not know (``with`` among them) is feature-not-implemented,
    as XEP-0313 §4.1.5 says; a malformed form, date or id is bad-request.
    """
    fields = _form_fields(forms.find_form(element))
    single: dict[str, str] = {}
    for var in _TEXT_FIELDS:
        values = fields.get(var, [])
        if len(values) > 1:
            raise MalformedRequest(f"form field {var!r} takes one value")
        if values:
            if not values[0]:
                raise MalformedRequest(f"form field {var!r} is empty")
            single[var] = values[0]
    ids = tuple(fields.get("ids", []))
    if any(not item_id for item_id in ids):
        raise MalformedRequest("form field 'ids' holds an empty id")
    return ArchiveQuery(
        start_ms=epoch_ms(single["start"], "start") if "start" in single else None,
        end_ms=epoch_ms(single["end"], "end") if "end" in single else None,
        after_id=single.get("after-id"),
        before_id=single.get("before-id"),
        ids=ids,
        page=rsm.parse_set(element),
    )


def _form_fields(x: ET.Element | None) -> Mapping[str, list[str]]:
    if x is None:
        return {}
    form = forms.parse_form(x)
    if form.type != forms.FormType.SUBMIT:
        raise MalformedRequest(f"expected a submit form, got type {form.type.value!r}")
    if form.form_type is not None and form.form_type != MAM:
        raise MalformedRequest(f"FORM_TYPE {form.form_type!r} is not {MAM!r}")
    unknown = sorted(set(form.fields) - _FIELDS)
    if unknown:
        raise UnknownRequest(f"archive query field {unknown[0]!r}")
    return form.fields


def flipped(element: ET.Element) -> bool:
    """Whether the query asks for its page in reverse order (``<flip-page/>``)."""
    return element.find(_m("flip-page")) is not None


# --- writing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentPage:
    """The messages of a page as sent, and where what they hold sits in the result set."""

    messages: list[str]
    ids: list[str]
    first_index: int | None
    complete: bool


def result_message(
    item: Item, *, node: str, queryid: str | None, to: str, sender: str, with_payload: bool = True
) -> str:
    """One result ``<message/>``: the item's event notification, forwarded, as text."""
    item_id = _attr(item.id)
    body = payloads.to_xml(item.payload, EVENT_NS) if with_payload else ""
    entry = f'<item id="{item_id}">{body}</item>' if body else f'<item id="{item_id}"/>'
    moment = datetime.datetime.fromtimestamp((item.published_ms or 0) / 1000, datetime.UTC)
    query = "" if queryid is None else f' queryid="{_attr(queryid)}"'
    return (
        f'<message from="{_attr(sender)}" to="{_attr(to)}" id="{_attr(next(_ids))}">'
        f'<result xmlns="{MAM}"{query} id="{item_id}"><forwarded xmlns="{FORWARD}">'
        f'<delay xmlns="{DELAY_NS}" stamp="{stamp(moment)}"/>'
        f'<message xmlns="{CLIENT}" from="{_attr(sender)}"><event xmlns="{EVENT_NS}">'
        f'<items node="{_attr(node)}">{entry}</items></event></message>'
        "</forwarded></result></message>"
    )


def page_messages(
    page: ArchivePage,
    *,
    node: str,
    queryid: str | None,
    to: str,
    sender: str,
    limit: int,
    flip: bool = False,
) -> SentPage:
    """The result messages of ``page``, each at most ``limit`` bytes, together at most
    :data:`PAGE_STANZAS` × ``limit``: a page too big is cut at its far end (its start
    when paging backwards), and is then not complete."""
    budget = PAGE_STANZAS * limit
    order = list(reversed(page.items)) if page.backwards else page.items
    texts: list[str] = []
    kept: list[Item] = []
    used = 0
    for item in order:
        text = result_message(item, node=node, queryid=queryid, to=to, sender=sender)
        if size(text) > limit:
            text = result_message(
                item, node=node, queryid=queryid, to=to, sender=sender, with_payload=False
            )
            if size(text) > limit:  # a giant node name or id: no message can carry it
                raise ResultTooBig(limit)
        if used + size(text) > budget:
            break
        used += size(text)
        texts.append(text)
        kept.append(item)
    cut = len(kept) < len(page.items)
    first_index = page.first_index
    if page.backwards:
        texts.reverse()
        kept.reverse()
        if first_index is not None:
            first_index += len(page.items) - len(kept)
    if flip:
        texts.reverse()
    return SentPage(texts, [item.id for item in kept], first_index, page.complete and not cut)


def fin_element(sent: SentPage, count: int) -> ET.Element:
    """The iq result's ``<fin/>``: whether the set is complete, and its XEP-0059 ``<set/>``."""
    fin = ET.Element(_m("fin"), {"complete": "true" if sent.complete else "false"})
    fin.append(rsm.set_element(sent.ids, sent.first_index if sent.ids else None, count))
    return fin


def form_query(node: str) -> ET.Element:
    """The answer to an iq get ``<query/>``: the fields a query may use (XEP-0313 §4.1.5)."""
    query = ET.Element(_m("query"), {"node": node})
    x = forms.form_element(forms.FormType.FORM, MAM)
    for var in _TEXT_FIELDS:
        forms.add_field(x, var, forms.FieldType.TEXT_SINGLE, [])
    ids = ET.SubElement(x, ns.tag(ns.DATA, "field"), {"var": "ids", "type": "list-multi"})
    validate = ET.SubElement(
        ids, ns.tag(_VALIDATE, "validate"), {"datatype": "xs:string"}
    )  # XEP-0122: any ids, never a list of them all
    ET.SubElement(validate, ns.tag(_VALIDATE, "open"))
    query.append(x)
    return query


_VALIDATE: Final = "http://jabber.org/protocol/xdata-validate"


def metadata_element(ends: Iterable[Item] | None) -> ET.Element:
    """``<metadata/>`` with the first and last item's id and time; empty for an empty archive."""
    metadata = ET.Element(_m("metadata"))
    for name, item in zip(("start", "end"), ends or (), strict=False):
        moment = datetime.datetime.fromtimestamp((item.published_ms or 0) / 1000, datetime.UTC)
        ET.SubElement(metadata, _m(name), {"id": item.id, "timestamp": stamp(moment)})
    return metadata
