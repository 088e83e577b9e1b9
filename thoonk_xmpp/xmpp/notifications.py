"""Event messages (XEP-0060 §7.1.2, §7.2.2.1, §8.2.5.4, §8.4.2, §8.5.2) built from service events.

The builders are pure: they turn an :class:`~thoonk_xmpp.service.events.Event`
into ``<message/>`` elements in the component namespace.  :class:`Notifier`
is the :class:`~thoonk_xmpp.service.events.NotificationSink` that hands one
message per recipient to the component's ``send``.

Every recipient gets the same message shape whatever its domain: a
subscriber on another server is addressed exactly like a local one and its
server routes the message.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Final

from thoonk_xmpp.service.events import (
    Event,
    ItemPublished,
    ItemRetracted,
    NodeConfigured,
    NodeDeleted,
    NodePurged,
    Recipient,
)
from thoonk_xmpp.service.node_config import NodeConfig

from . import forms, ns, payloads

STANZA_NS: Final = ns.STANZA
EVENT_NS: Final = "http://jabber.org/protocol/pubsub#event"
SHIM_NS: Final = "http://jabber.org/protocol/shim"
DELAY_NS: Final = "urn:xmpp:delay"

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


def event_element(event: Event) -> ET.Element:
    """The ``<event xmlns='…pubsub#event'/>`` child for ``event`` (shared by all recipients)."""
    root = ET.Element(_event_tag("event"))
    node = {"node": event.node}
    match event:
        case ItemPublished():
            items = ET.SubElement(root, _event_tag("items"), node)
            item = ET.SubElement(items, _event_tag("item"), {"id": event.item_id})
            if event.payload is not None:
                item.append(payloads.to_element(event.payload))
        case ItemRetracted():
            items = ET.SubElement(root, _event_tag("items"), node)
            ET.SubElement(items, _event_tag("retract"), {"id": event.item_id})
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
        case _:
            raise TypeError(f"no notification for {type(event).__name__}")
    return root


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


def message_element(
    event: Event,
    recipient: Recipient,
    *,
    sender: str,
    message_id: str,
    body: ET.Element | None = None,
    delayed: datetime.datetime | None = None,
) -> ET.Element:
    """One event message to ``recipient``; ``body`` is a prebuilt :func:`event_element`.

    Children in XEP-0060 order: the event, the delay stamp (replays only), then
    SHIM SubID headers last, only when the JID holds several subscriptions.
    """
    message = ET.Element(
        f"{{{STANZA_NS}}}message",
        {
            "from": sender,
            "to": recipient.jid,
            "type": event.notification_type.value,
            "id": message_id,
        },
    )
    message.append(event_element(event) if body is None else body)
    if delayed is not None:
        message.append(delay_element(delayed, sender))
    if len(recipient.subids) > 1:
        message.append(headers_element(recipient.subids))
    return message


def messages(
    event: Event,
    *,
    sender: str,
    ids: Iterator[str],
    now: datetime.datetime | None = None,
) -> Iterator[ET.Element]:
    """Every message for ``event``, one per recipient, in recipient order."""
    body = event_element(event)
    delayed = None
    if isinstance(event, ItemPublished) and event.replay:
        # Feed scores are epoch ms; thoonk.py wrote seconds (far in the past as ms).
        if event.published_ms is not None and event.published_ms > 10**11:
            delayed = datetime.datetime.fromtimestamp(event.published_ms / 1000, datetime.UTC)
        else:
            delayed = now or datetime.datetime.now(datetime.UTC)
    for recipient in event.recipients:
        yield message_element(
            event, recipient, sender=sender, message_id=next(ids), body=body, delayed=delayed
        )


def message_ids() -> Iterator[str]:
    """Unique message ids: a random prefix per process, then a counter."""
    prefix = uuid.uuid4().hex[:12]
    return (f"{prefix}-{n}" for n in itertools.count(1))


class Notifier:
    """Sends each event as one message per recipient through ``send``.

    ``send`` takes a finished ``<message/>`` element (the component's
    ``send_element``).  Elements are shared between messages of one event and
    never changed after they are handed over.
    """

    def __init__(self, send: Callable[[ET.Element], None], service_jid: str) -> None:
        self._send = send
        self.service_jid = service_jid
        self._ids = message_ids()

    async def deliver(self, event: Event) -> None:
        """Send ``event`` to all its recipients, yielding to the loop between batches."""
        for count, message in enumerate(
            messages(event, sender=self.service_jid, ids=self._ids), start=1
        ):
            self._send(message)
            if count % _BATCH == 0:
                await asyncio.sleep(0)
