"""The vocabularies and records of the pubsub service (XEP-0060), as enums and dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sub_options import SubscriptionOptions


class Affiliation(StrEnum):
    """A bare JID's affiliation with a node (XEP-0060 §4.1)."""

    OWNER = "owner"
    PUBLISHER = "publisher"
    PUBLISH_ONLY = "publish-only"
    MEMBER = "member"
    NONE = "none"
    OUTCAST = "outcast"


class AccessModel(StrEnum):
    """Who may subscribe and retrieve items (``pubsub#access_model``)."""

    OPEN = "open"
    WHITELIST = "whitelist"
    #: Anyone may ask to subscribe; an owner approves each request (XEP-0060 §6.1.4, §8.6).
    AUTHORIZE = "authorize"
    #: Those with a presence subscription to an owner (XEP-0356 roster privilege needed).
    PRESENCE = "presence"
    #: Those in an allowed group of an owner's roster (XEP-0356 roster privilege needed).
    ROSTER = "roster"


class PublishModel(StrEnum):
    """Who may publish (``pubsub#publish_model``)."""

    PUBLISHERS = "publishers"
    SUBSCRIBERS = "subscribers"
    OPEN = "open"


class SendLastPublished(StrEnum):
    """When the last item goes to a new subscriber (``pubsub#send_last_published_item``)."""

    NEVER = "never"
    ON_SUB = "on_sub"
    #: On subscription, and to each subscribed resource that comes online.
    ON_SUB_AND_PRESENCE = "on_sub_and_presence"


class PublishNodeFull(StrEnum):
    """What a publish to a full node does with the oldest item (``pubsub#publish_node_full``)."""

    #: Removed with a retract notification (when notify_retract is on).
    RETRACT_OLDEST = "retract-oldest"
    #: Removed silently.
    DISCARD_OLDEST = "discard-oldest"


class NodeKind(StrEnum):
    """Which Thoonk object a node is (``thoonkx#node_kind``; its feed's ``type``)."""

    #: Items in publication order (a Thoonk feed).
    FEED = "feed"
    #: Items in an order publishers choose (a Thoonk sorted feed): an ordered node.
    SORTED_FEED = "sorted_feed"
    #: Work handed to one subscriber at a time, held until finished (a Thoonk job feed).
    JOB = "job"
    #: Items handed to one subscriber each, gone once handed (a Thoonk queue).
    QUEUE = "queue"

    @property
    def queueing(self) -> bool:
        """A XEP-0254 queue node: each item goes to one subscriber."""
        return self in (NodeKind.JOB, NodeKind.QUEUE)


class NotificationType(StrEnum):
    """The ``type`` of event messages (``pubsub#notification_type``)."""

    NORMAL = "normal"
    HEADLINE = "headline"


class SubscriptionState(StrEnum):
    """State of a subscription (``none`` only reports a removal or a denial)."""

    SUBSCRIBED = "subscribed"
    NONE = "none"
    #: Waiting for an owner's approval (authorize nodes); gets no events and no items.
    PENDING = "pending"


class NodeCreation(StrEnum):
    """Who may create nodes (service policy)."""

    ANYONE = "anyone"
    LOCAL = "local"
    LIST = "list"


@dataclass(frozen=True, slots=True)
class Actor:
    """The entity making a request: its bare JID and the domain part of it."""

    bare: str

    @property
    def domain(self) -> str:
        return self.bare.rpartition("@")[2]


def _default_options() -> SubscriptionOptions:
    # sub_options builds on node_config, which builds on this module
    from .sub_options import DEFAULT

    return DEFAULT


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscription of ``jid`` to ``node``."""

    node: str
    jid: str
    subid: str
    state: SubscriptionState = SubscriptionState.SUBSCRIBED
    #: Its options (``pubsub#subscribe_options``), as stored.
    options: SubscriptionOptions = field(default_factory=_default_options, compare=False)


@dataclass(frozen=True, slots=True)
class Item:
    """A stored item: its id and payload bytes as stored in the Thoonk feed."""

    id: str
    payload: bytes
    #: Epoch ms of its (last) publication, where known.
    published_ms: int | None = None
    #: A job node's finished job: ``payload`` is its kept result.
    finished: bool = False


@dataclass(frozen=True, slots=True)
class ItemsPage:
    """Items answering a retrieval, with the paging facts XEP-0059 reports."""

    items: list[Item]
    count: int
    first_index: int | None
