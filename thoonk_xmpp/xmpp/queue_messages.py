"""The XMPP side of job and queue nodes (XEP-0254): their messages, presence and bounces.

:class:`QueueMessages` is the :class:`~thoonk_xmpp.service.dispatch.QueueSink`
of the component: an item handed to a subscriber is an ordinary items event
addressed to it alone; an unlock (or a claim timed out) is
``<unlock xmlns='urn:xmpp:pubsub:queueing:0' id='…'/>``; a finished job is a
retract event, to its holder, and to its publisher with the result::

    <event xmlns='http://jabber.org/protocol/pubsub#event'>
      <items node='jobs'><retract id='j1'>
        <result xmlns='urn:thoonk-xmpp:job:0'>…payload…</result>
      </retract></items>
    </event>

The id of a message handing an item carries its node and item id, so a bounce
(a message error) names the job to give back without anything kept in memory.
"""

from __future__ import annotations

import base64
import binascii
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final
from xml.sax.saxutils import quoteattr

from thoonk_xmpp.service.dispatch import Handing
from thoonk_xmpp.service.events import ItemPublished, Recipient
from thoonk_xmpp.service.model import NotificationType
from thoonk_xmpp.service.policy import DEFAULT_MAX_STANZA_SIZE

from . import ns, payloads
from .notifications import ENVELOPE_ROOM, EVENT_NS, messages

if TYPE_CHECKING:
    from thoonk_xmpp.service.dispatch import QueueDispatcher

log = logging.getLogger(__name__)

#: Prefix of the ids of messages handing out a queue item: ``q.<node>.<item id>.<n>``
#: (node and id in unpadded URL-safe base64).
_HANDED: Final = "q."


def _b64(text: str) -> str:
    raw = text.encode("utf-8", "surrogateescape")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> str:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded).decode("utf-8", "surrogateescape")


def handed_id(node: str, item_id: str, number: int) -> str:
    """The message id of an item handed out: it names the node and the item."""
    return f"{_HANDED}{_b64(node)}.{_b64(item_id)}.{number}"


def parse_handed_id(message_id: str) -> tuple[str, str] | None:
    """(node, item id) named by a :func:`handed_id`, or None for any other id."""
    if not message_id.startswith(_HANDED):
        return None
    parts = message_id[len(_HANDED) :].split(".")
    if len(parts) != 3:
        return None
    try:
        return _unb64(parts[0]), _unb64(parts[1])
    except (binascii.Error, ValueError):
        return None


def result_element(result: bytes) -> ET.Element:
    """``<result xmlns='urn:thoonk-xmpp:job:0'>`` around a job's result payload."""
    element = ET.Element(ns.tag(ns.JOB_RESULT, "result"))
    if result:
        element.append(payloads.to_element(result))
    return element


class QueueMessages:
    """Sends the messages of queue nodes through ``send`` (stanza text) while ``up()``."""

    def __init__(
        self,
        send: Callable[[str], None],
        up: Callable[[], bool],
        service_jid: str,
        render: Callable[[ET.Element], str],
        max_stanza_size: int = DEFAULT_MAX_STANZA_SIZE,
    ) -> None:
        self._send = send
        self._up = up
        self.service_jid = service_jid
        self._render = render
        #: No message sent is bigger, in bytes: the server would close the link.
        self.max_stanza_size = max_stanza_size
        self._number = 0

    @property
    def link_up(self) -> bool:
        return self._up()

    def _ids(self, node: str, item_id: str) -> Any:
        while True:
            self._number += 1
            yield handed_id(node, item_id, self._number)

    def hand(
        self, node: str, jid: str, item_id: str, payload: bytes, kind: NotificationType
    ) -> Handing:
        if not self._up():
            return Handing.LINK_DOWN
        event = ItemPublished(node, (Recipient(jid, ()),), kind, item_id, payload)
        # an item too big for one stanza (a Thoonk app's) goes without its payload
        ids = self._ids(node, item_id)
        texts = list(
            messages(event, sender=self.service_jid, ids=ids, max_stanza_size=self.max_stanza_size)
        )
        if not texts:  # a giant node name or item id: no message of it can ever be sent
            return Handing.UNSENDABLE
        self._send("".join(texts))
        return Handing.SENT

    def hand_together(
        self, node: str, jid: str, items: Sequence[tuple[str, bytes]], kind: NotificationType
    ) -> bool:
        """Send items handed to ``jid`` at once in one items event (several ``<item/>``s,
        as XEP-0060 §7.1.2.1 allows); False, nothing sent, while the link is down or when
        they do not fit one stanza together (then they go one message each)."""
        if not self._up():
            return False
        self._number += 1
        # the id names the first item: a bounce gives back all the subscriber holds anyway
        message_id = handed_id(node, items[0][0], self._number)
        parts = [
            f"<message from={quoteattr(self.service_jid)} to={quoteattr(jid)}"
            f" type={quoteattr(kind.value)} id={quoteattr(message_id)}>"
            f"<event xmlns={quoteattr(EVENT_NS)}><items node={quoteattr(node)}>"
        ]
        for item_id, payload in items:
            body = payloads.to_xml(payload, EVENT_NS) if payload else ""
            parts.append(f"<item id={quoteattr(item_id)}>{body}</item>")
        parts.append("</items></event></message>")
        text = "".join(parts)
        room = self.max_stanza_size - ENVELOPE_ROOM
        if len(text) * 4 > room and len(text.encode("utf-8", "replace")) > room:
            return False
        self._send(text)
        return True

    def _envelope(self, jid: str, kind: str, child: ET.Element) -> ET.Element:
        self._number += 1
        message = ET.Element(
            ns.tag(ns.STANZA, "message"),
            {"from": self.service_jid, "to": jid, "type": kind, "id": f"u{self._number}"},
        )
        message.append(child)
        return message

    def _message(self, jid: str, kind: str, child: ET.Element) -> None:
        self._send(self._render(self._envelope(jid, kind, child)))

    def unlocked(self, node: str, jid: str, item_id: str) -> None:
        self._message(
            jid, "normal", ET.Element(ns.tag(ns.QUEUEING, "unlock"), {"node": node, "id": item_id})
        )

    def retracted(
        self, node: str, jid: str, item_id: str, result: bytes | None, kind: NotificationType
    ) -> None:
        event = ET.Element(f"{{{EVENT_NS}}}event")
        items = ET.SubElement(event, f"{{{EVENT_NS}}}items", {"node": node})
        retract = ET.SubElement(items, f"{{{EVENT_NS}}}retract", {"id": item_id})
        if result is not None:
            retract.append(result_element(result))
        message = self._envelope(jid, kind.value, event)
        text = self._render(message)
        # measured as sent: base64 and XML escaping make a result grow up to 5 times
        if result is not None and len(text.encode("utf-8", "replace")) > self.max_stanza_size:
            log.warning("result of %.80r on %.80r too big to send: told without it", item_id, node)
            retract.clear()
            retract.set("id", item_id)
            text = self._render(message)
        self._send(text)

    def retracted_to_holder(
        self, node: str, jid: str, item_ids: Sequence[str], kind: NotificationType
    ) -> None:
        event = ET.Element(f"{{{EVENT_NS}}}event")
        items = ET.SubElement(event, f"{{{EVENT_NS}}}items", {"node": node})
        for item_id in item_ids:
            ET.SubElement(items, f"{{{EVENT_NS}}}retract", {"id": item_id})
        self._message(jid, kind.value, event)


def watch_subscribers(stream: Any, queues: QueueDispatcher) -> None:
    """Give back the holds of subscribers that go unavailable or whose delivery bounced."""

    def on_unavailable(presence: Any) -> None:
        queues.soon(queues.unavailable(str(presence["from"])))

    def on_error(message: Any) -> None:
        named = parse_handed_id(str(message["id"]))
        if named is not None:
            queues.soon(queues.bounced(str(message["from"]), *named))

    stream.add_event_handler("presence_unavailable", on_unavailable)
    stream.add_event_handler("message_error", on_error)
