"""Service events, built from Thoonk notices by the router (:mod:`.router`), with their recipients.

An event says what happened to a node, who is to hear of it and as what
message type; the XMPP adapter's :class:`NotificationSink` turns it into
messages.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from .model import NotificationType, SubscriptionState
from .node_config import NodeConfig


@dataclass(frozen=True, slots=True)
class Recipient:
    """One JID to notify, with the ids of its subscriptions to the node."""

    jid: str
    subids: tuple[str, ...]
    #: Its messages carry a text ``<body/>`` beside the event (``pubsub#include_body``).
    body: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event: the node, who gets it, and the message type to use."""

    node: str
    recipients: tuple[Recipient, ...]
    notification_type: NotificationType


@dataclass(frozen=True, slots=True)
class ItemPublished(Event):
    item_id: str
    #: None when the node does not deliver payloads.
    payload: bytes | None
    #: True when sent as the last published item on subscription (gets a delay stamp).
    replay: bool = False
    #: Epoch ms the replayed item was published (the delay stamp), where known.
    published_ms: int | None = None
    #: CRC-32 of the stored item, for the delivery ledger (None: not tracked).
    digest: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ItemRetracted(Event):
    item_id: str


@dataclass(frozen=True, slots=True)
class ItemMoved(Event):
    """An item of an ordered node was put in a new place (a Thoonk sorted feed position notice)."""

    item_id: str
    #: The sorted feed's position text: ``begin:``, ``:end``, ``:<id>`` (just before
    #: ``<id>``) or ``<id>:`` (just after it).
    position: str


@dataclass(frozen=True, slots=True)
class NodePurged(Event):
    pass


@dataclass(frozen=True, slots=True)
class NodeDeleted(Event):
    redirect: str | None


@dataclass(frozen=True, slots=True)
class NodeConfigured(Event):
    #: The new config, or None when payloads are not delivered.
    config: NodeConfig | None


@dataclass(frozen=True, slots=True)
class SubscriptionChanged(Event):
    """A subscription's new state, told to its subscriber (XEP-0060 §12.6): ``none`` when
    a lease (``pubsub#expire``) ended it, or an owner denied or removed it, ``subscribed``
    when an owner approved or made it; and told to the owners of a ``notify_sub`` node (§8.6)."""

    jid: str
    subid: str
    state: SubscriptionState


@dataclass(frozen=True, slots=True)
class Digest(Event):
    """The events of one period gathered for a ``pubsub#digest`` subscription, sent as one
    message (oldest first)."""

    events: tuple[Event, ...]


#: Events about items; the others are about the node itself (``subscription_type=nodes``
#: subscriptions hear only those).
ITEM_EVENTS = (ItemPublished, ItemRetracted, ItemMoved)


@dataclass(frozen=True, slots=True)
class SubscriptionRequested(Event):
    """A subscription waiting for approval: each owner gets the authorization form (§8.6)."""

    jid: str
    subid: str


class NotificationSink(Protocol):
    """Where events go (the XMPP adapter)."""

    def deliver(self, event: Event) -> Awaitable[None]: ...

    def deliver_now(self, event: Event) -> bool:
        """Deliver ``event`` without waiting if it can; False leaves it to :meth:`deliver`."""
        ...
