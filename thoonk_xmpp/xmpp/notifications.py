"""Event messages (XEP-0060 §7.1.2, §7.2.2.1, §8.2.5.4, §8.4.2, §8.5.2) built from service events.

The builders are pure: they turn an :class:`~thoonk_xmpp.service.events.Event`
into ``<message/>`` stanza texts for the component stream.  :class:`Notifier`
is the :class:`~thoonk_xmpp.service.events.NotificationSink` that hands one
message per recipient, in batches, to the component's ``send``.

Every recipient gets the same message shape whatever its domain: a
subscriber on another server is addressed exactly like a local one and its
server routes the message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import itertools
import logging
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Final
from xml.sax.saxutils import escape

from slixmpp.xmlstream import tostring

from thoonk_xmpp.service.events import (
    Digest,
    Event,
    ItemMoved,
    ItemPublished,
    ItemRetracted,
    NodeConfigured,
    NodeDeleted,
    NodePurged,
    SubscriptionChanged,
    SubscriptionRequested,
)
from thoonk_xmpp.service.node_config import NodeConfig
from thoonk_xmpp.service.policy import DEFAULT_MAX_STANZA_SIZE

from . import forms, ns, payloads
from .multicast import ADDRESS_NS, Multicast, SplitCache, split

log = logging.getLogger(__name__)

STANZA_NS: Final = ns.STANZA
EVENT_NS: Final = "http://jabber.org/protocol/pubsub#event"
SHIM_NS: Final = "http://jabber.org/protocol/shim"
DELAY_NS: Final = "urn:xmpp:delay"
#: The ``<position/>`` element telling where an item of an ordered node now is.
POSITION_NS: Final = ns.POSITION

#: Recipients served before the delivery task yields to the event loop (keeps IQs answered).
_BATCH = 256


def _event_tag(name: str) -> str:
    return f"{{{EVENT_NS}}}{name}"


def stamp(moment: datetime.datetime) -> str:
    """A XEP-0082 DateTime in UTC, e.g. ``2003-12-13T23:58:37Z`` (milliseconds when non-zero)."""
    utc = moment.astimezone(datetime.UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond // 1000:03d}"
    return text + "Z"


def event_text(event: Event, *, with_payload: bool = True) -> str:
    """The ``<event xmlns='…pubsub#event'/>`` child for ``event`` as text (shared by all recipients).

    A published item, by far the most frequent, is written as text around its
    payload (see :func:`.payloads.to_xml`); the rarer events are built as elements.
    """
    if isinstance(event, ItemPublished):
        payload = ""
        if event.payload is not None and with_payload:
            payload = payloads.to_xml(event.payload, EVENT_NS)
        item = f'<item id="{_attr(event.item_id)}"'
        item += f">{payload}</item>" if payload else "/>"
        return f'<event xmlns="{EVENT_NS}"><items node="{_attr(event.node)}">{item}</items></event>'
    if isinstance(event, Digest):  # one message, an <event/> for each gathered event
        return "".join(event_text(one, with_payload=with_payload) for one in event.events)
    if isinstance(event, SubscriptionRequested):  # no event: a form for the owners
        # imported here: authorization imports parsing, which imports mam, which imports this
        from . import authorization

        return _xml(authorization.request_form(event.node, event.jid, event.subid))
    if not with_payload and isinstance(event, NodeConfigured):
        event = dataclasses.replace(event, config=None)
    return _xml(_event_element(event))


def _event_element(event: Event) -> ET.Element:
    root = ET.Element(_event_tag("event"))
    node = {"node": event.node}
    match event:
        case ItemRetracted():
            items = ET.SubElement(root, _event_tag("items"), node)
            ET.SubElement(items, _event_tag("retract"), {"id": event.item_id})
        case ItemMoved():
            items = ET.SubElement(root, _event_tag("items"), node)
            item = ET.SubElement(items, _event_tag("item"), {"id": event.item_id})
            item.append(position_element(event.position))
        case NodePurged():
            ET.SubElement(root, _event_tag("purge"), node)
        case NodeDeleted():
            deleted = ET.SubElement(root, _event_tag("delete"), node)
            if event.redirect:
                ET.SubElement(deleted, _event_tag("redirect"), {"uri": event.redirect})
        case NodeConfigured():
            configuration = ET.SubElement(root, _event_tag("configuration"), node)
            if event.config is not None:
                configuration.append(config_form(event.config))
        case SubscriptionChanged():
            attrs = {"jid": event.jid, "subscription": event.state.value, "subid": event.subid}
            ET.SubElement(root, _event_tag("subscription"), node | attrs)
        case _:
            raise TypeError(f"no notification for {type(event).__name__}")
    return root


def body_text(event: Event) -> str:
    """A line of text saying what happened, for ``pubsub#include_body`` subscribers."""
    node = event.node
    match event:
        case ItemPublished():
            return f"New item {event.item_id} on node {node}"
        case ItemRetracted():
            return f"Item {event.item_id} retracted from node {node}"
        case ItemMoved():
            return f"Item {event.item_id} moved on node {node}"
        case NodePurged():
            return f"Node {node} purged"
        case NodeDeleted():
            return f"Node {node} deleted"
        case NodeConfigured():
            return f"Node {node} configuration changed"
        case SubscriptionChanged():
            return f"Subscription {event.subid} to node {node}: {event.state.value}"
        case Digest():
            return "\n".join(body_text(one) for one in event.events)
    return f"Event on node {node}"


def position_element(position: str) -> ET.Element:
    """``<position xmlns='urn:thoonk-xmpp:position:0'/>`` for a sorted feed position text.

    ``at='start'`` (``begin:``), ``at='end'`` (``:end``), ``before='<id>'`` (``:<id>``)
    or ``after='<id>'`` (``<id>:``).
    """
    if position == "begin:":
        where = {"at": "start"}
    elif position == ":end":
        where = {"at": "end"}
    elif position.startswith(":"):
        where = {"before": position[1:]}
    else:
        where = {"after": position.removesuffix(":")}
    return ET.Element(f"{{{POSITION_NS}}}position", where)


def config_form(config: NodeConfig) -> ET.Element:
    """The ``pubsub#node_config`` result form carried by a configuration notification."""
    return forms.node_config_form(config, form_type="result")


def headers_element(subids: tuple[str, ...]) -> ET.Element:
    """XEP-0131 SHIM ``SubID`` headers naming the subscriptions an event is for."""
    headers = ET.Element(f"{{{SHIM_NS}}}headers")
    for subid in subids:
        header = ET.SubElement(headers, f"{{{SHIM_NS}}}header", {"name": "SubID"})
        header.text = subid
    return headers


def delay_element(moment: datetime.datetime, sender: str) -> ET.Element:
    """XEP-0203 ``<delay/>`` for a replayed item."""
    return ET.Element(f"{{{DELAY_NS}}}delay", {"from": sender, "stamp": stamp(moment)})


def _attr(value: str) -> str:
    """``value`` escaped for a double-quoted XML attribute."""
    return value.translate(_ATTR_ESCAPES)


_ATTR_ESCAPES: Final = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def _xml(element: ET.Element) -> str:
    """An element as text inside a component stream (its own namespace declared)."""
    return tostring(element, xmlns=STANZA_NS)


def _delayed(event: Event, now: datetime.datetime | None) -> datetime.datetime | None:
    """The delay stamp of a replayed item; ``None`` for live events."""
    if not isinstance(event, ItemPublished) or not event.replay:
        return None
    # Feed scores are epoch ms; thoonk.py wrote seconds (far in the past as ms).
    if event.published_ms is not None and event.published_ms > 10**11:
        return datetime.datetime.fromtimestamp(event.published_ms / 1000, datetime.UTC)
    return now or datetime.datetime.now(datetime.UTC)


def messages(
    event: Event,
    *,
    sender: str,
    ids: Iterator[str],
    now: datetime.datetime | None = None,
    max_stanza_size: int | None = None,
    multicast: Multicast | None = None,
    splits: SplitCache | None = None,
) -> Iterator[str]:
    """Every ``<message/>`` for ``event`` as stanza text, one per recipient, in order
    (through ``multicast``: one per group of the recipients it takes, then the others).

    The event (and the delay stamp of a replay) is serialized once and shared;
    only ``to``, ``id`` and the SHIM SubID headers (last, and only for a JID
    holding several subscriptions) differ between recipients.  An item whose
    message would exceed ``max_stanza_size`` bytes goes without its payload (a
    configuration without its form): subscribers learn its id, never a message the
    server would close the link for.  The ``<body/>`` of ``include_body`` recipients
    is counted too, and shortened or left out to fit (see :func:`_body_element`).
    ``splits`` keeps each node's multicast groups between its subscription changes.
    """
    body = event_text(event)
    if max_stanza_size is not None and _too_big(body, max_stanza_size - ENVELOPE_ROOM):
        body = event_text(event, with_payload=False)
        if _too_big(body, max_stanza_size - ENVELOPE_ROOM):  # a giant node name or id
            log.warning("event on node %.80r too big to send even bare: dropped", event.node)
            return
    delayed = _delayed(event, now)
    if delayed is not None:
        body += _xml(delay_element(delayed, sender))
    head = f'<message from="{_attr(sender)}" to="'
    kind = f'" type="{event.notification_type.value}" id="'
    recipients = event.recipients
    with_body: str | None = None  # made for the first include_body recipient
    if multicast is not None:
        parts = (
            split(recipients, multicast)
            if splits is None
            else splits.of(event.node, recipients, multicast)
        )
        for addresses, count in parts.groups:
            if multicast.flow is not None:
                multicast.flow.handed(count)
            yield (
                f'{head}{_attr(multicast.jid)}{kind}{_attr(next(ids))}">'
                f'<addresses xmlns="{ADDRESS_NS}">{addresses}</addresses>{body}</message>'
            )
        recipients = parts.others
    for recipient in recipients:
        tail = body
        if recipient.body:
            if with_body is None:
                room = None if max_stanza_size is None else max_stanza_size - ENVELOPE_ROOM
                with_body = _body_element(event, body, room) + body
            tail = with_body
        if len(recipient.subids) > 1:
            tail += _xml(headers_element(recipient.subids))
        yield f'{head}{_attr(recipient.jid)}{kind}{_attr(next(ids))}">{tail}</message>'


def _body_element(event: Event, event_xml: str, room: int | None) -> str:
    """The ``<body/>`` for ``include_body`` recipients, fitting beside ``event_xml`` in
    ``room`` bytes: the full text, else a one-line summary (a digest's body has a line
    per event), else none at all."""
    texts = [body_text(event)]
    if isinstance(event, Digest):
        texts.append(f"{len(event.events)} events on node {event.node}")
    for text in texts:
        element = f"<body>{escape(text)}</body>"
        if room is None or not _too_big(element + event_xml, room):
            return element
    return ""


#: Bytes a message may need beside its event: addresses (RFC 7622: up to 3071 bytes each),
#: id, delay stamp and SHIM headers.
ENVELOPE_ROOM: Final = 8192


def _too_big(text: str, limit: int) -> bool:
    # Most events are far below the limit: count characters first (UTF-8 takes up to 4 bytes).
    return len(text) * 4 > limit and len(text.encode("utf-8", "replace")) > limit


def message_ids() -> Iterator[str]:
    """Unique message ids: a random prefix per process, then a counter."""
    prefix = uuid.uuid4().hex[:12]
    return (f"{prefix}-{n}" for n in itertools.count(1))


class Notifier:
    """Sends each event as one message per recipient through ``send``.

    ``send`` takes a list of finished ``<message/>`` stanza texts and writes
    them to the stream together (one write for up to ``_BATCH`` messages).
    """

    def __init__(
        self,
        send: Callable[[list[str]], None],
        service_jid: str,
        *,
        max_stanza_size: int | None = DEFAULT_MAX_STANZA_SIZE,
    ) -> None:
        self._send = send
        self.service_jid = service_jid
        #: No message sent is bigger, in bytes (None: no limit).
        self.max_stanza_size = max_stanza_size
        #: The server's XEP-0033 service while one is known (see :mod:`.multicast`).
        self.multicast: Multicast | None = None
        self._ids = message_ids()
        self._splits = SplitCache()

    def _messages(self, event: Event, multicast: Multicast | None) -> Iterator[str]:
        return messages(
            event,
            sender=self.service_jid,
            ids=self._ids,
            max_stanza_size=self.max_stanza_size,
            multicast=multicast,
            splits=self._splits,
        )

    def deliver_now(self, event: Event) -> bool:
        """Send an event of fewer than ``_BATCH`` recipients at once; False for bigger ones."""
        if len(event.recipients) >= _BATCH:
            return False
        multicast = self.multicast
        self._send(list(self._messages(event, multicast)))
        _written(multicast)
        return True

    async def deliver(self, event: Event) -> None:
        """Send ``event`` to all its recipients, yielding to the loop between batches."""
        # The service this event started with is told of every copy handed to it, even
        # after a lost link cleared self.multicast: those handed after the flow's reset
        # would otherwise hold publishes back until some later event asked about them.
        multicast = self.multicast
        batch: list[str] = []
        for text in self._messages(event, multicast):
            batch.append(text)
            if len(batch) == _BATCH:
                self._send(batch)
                _written(multicast)
                batch = []
                await asyncio.sleep(0)
        if batch:
            self._send(batch)
            _written(multicast)


def _written(multicast: Multicast | None) -> None:
    if multicast is not None and multicast.flow is not None:
        multicast.flow.written(multicast.jid)
