"""Errors of the pubsub service, free of XMPP vocabulary.

The XMPP adapter maps each class to a stanza error in one table.  Every error
is raised before any change, so a refused request changes nothing::

    PubSubError
    ├── BadRequest (ValueError)            malformed or contradictory request
    │   ├── NodeIdRequired
    │   ├── ItemRequired
    │   │   └── PayloadRequired            item without payload on a payload node
    │   ├── InvalidJid                     subscriber JID does not match the sender
    │   ├── SubIdRequired
    │   ├── ItemForbidden                  payload sent to a notification-only node
    │   ├── InvalidPayload
    │   ├── InvalidPlacement           a position publish-option of an ordered node
    │   └── InvalidOptions             a subscription option's field or value (names it)
    ├── NodeNotFound (LookupError)
    ├── ItemNotFound (LookupError)
    ├── NodeExists (ValueError)
    ├── Forbidden (PermissionError)        affiliation does not allow the action
    ├── ClosedNode (PermissionError)       not on the whitelist of the node
    ├── PresenceSubscriptionRequired (PermissionError)  access model presence
    ├── NotInRosterGroup (PermissionError) access model roster
    ├── NotSubscribed (LookupError)
    ├── SubscriptionRequired (PermissionError)  items of an authorize node, not subscribed
    ├── PendingSubscription (PermissionError)   asked again while waiting for approval
    ├── NotPending (LookupError)           a decision on a request that is not pending
    ├── InvalidSubId (LookupError)
    ├── InvalidNodeConfig (ValueError)     names the field
    ├── NotACollection (ValueError)        children or a collection asked of a leaf (XEP-0248)
    ├── PreconditionNotMet (ValueError)    names the field
    ├── PayloadTooBig (ValueError)
    ├── LastOwner (ValueError)             the change would leave an owned node without owner
    ├── TooManyNodes (PermissionError)     the owner holds the most nodes allowed
    ├── OutcomeUnknown (ConnectionError)   Redis went away with a write in flight, for long
    ├── ConfigurationRequired (ValueError) queue nodes: subscribe with queue_requests
    ├── ItemHeld (PermissionError)         queue nodes: the job is held by someone else
    ├── ItemNotHeld (LookupError)          queue nodes: nobody holds the job (any more)
    ├── ItemExists (ValueError)            queue nodes: a job of that id is pending already
    └── Unsupported (NotImplementedError)  names the XEP-0060 feature
"""

from __future__ import annotations


class PubSubError(Exception):
    """Base of every service error."""


class BadRequest(PubSubError, ValueError):
    """The request is malformed."""


class NodeIdRequired(BadRequest):
    def __init__(self) -> None:
        super().__init__("a node id is required")


class ItemRequired(BadRequest):
    def __init__(self, what: str = "an item") -> None:
        super().__init__(f"{what} is required")


class PayloadRequired(ItemRequired):
    def __init__(self, node: str) -> None:
        super().__init__(f"a payload (node {node!r} delivers payloads)")


class InvalidJid(BadRequest):
    def __init__(self, jid: str, sender: str) -> None:
        self.jid = jid
        super().__init__(f"JID {jid!r} does not match the sender {sender!r}")


class SubIdRequired(BadRequest):
    def __init__(self, node: str) -> None:
        super().__init__(f"several subscriptions to {node!r}: a subid is required")


class ItemForbidden(BadRequest):
    def __init__(self, node: str) -> None:
        super().__init__(f"node {node!r} neither stores nor delivers payloads: send no item")


class InvalidPayload(BadRequest):
    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid payload: {reason}")


class InvalidOptions(BadRequest):
    """A subscription options form with an unknown field or a bad value (XEP-0060 §6.3.5)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"subscription option {field}: {reason}")


class NodeNotFound(PubSubError, LookupError):
    def __init__(self, node: str) -> None:
        self.node = node
        super().__init__(f"node {node!r} does not exist")


class ItemNotFound(PubSubError, LookupError):
    def __init__(self, node: str, item_id: str) -> None:
        self.node = node
        self.item_id = item_id
        super().__init__(f"node {node!r} has no item {item_id!r}")


class NodeExists(PubSubError, ValueError):
    def __init__(self, node: str) -> None:
        self.node = node
        super().__init__(f"node {node!r} already exists")


class Forbidden(PubSubError, PermissionError):
    def __init__(self, action: str, node: str | None = None) -> None:
        self.action = action
        self.node = node
        where = f" on node {node!r}" if node is not None else ""
        super().__init__(f"not allowed to {action}{where}")


class ClosedNode(PubSubError, PermissionError):
    def __init__(self, node: str) -> None:
        self.node = node
        super().__init__(f"node {node!r} is whitelist-only")


class PresenceSubscriptionRequired(PubSubError, PermissionError):
    """Access model ``presence``: no owner has granted the requester its presence."""

    def __init__(self, node: str) -> None:
        self.node = node
        super().__init__(f"node {node!r} is for those subscribed to an owner's presence")


class NotInRosterGroup(PubSubError, PermissionError):
    """Access model ``roster``: the requester is in no allowed group of an owner's roster."""

    def __init__(self, node: str) -> None:
        self.node = node
        super().__init__(f"node {node!r} is for the allowed roster groups of its owners")


class NotSubscribed(PubSubError, LookupError):
    def __init__(self, node: str, jid: str) -> None:
        super().__init__(f"{jid!r} is not subscribed to {node!r}")


class SubscriptionRequired(PubSubError, PermissionError):
    def __init__(self, node: str) -> None:
        self.node = node
        super().__init__(f"only subscribers may retrieve the items of {node!r}")


class PendingSubscription(PubSubError, PermissionError):
    def __init__(self, node: str, jid: str) -> None:
        self.node = node
        super().__init__(f"the subscription of {jid!r} to {node!r} waits for an owner's approval")


class NotPending(PubSubError, LookupError):
    def __init__(self, node: str, what: str) -> None:
        self.node = node
        super().__init__(f"no subscription request {what} is pending on {node!r}")


class InvalidSubId(PubSubError, LookupError):
    def __init__(self, node: str, subid: str) -> None:
        super().__init__(f"no subscription {subid!r} on {node!r}")


class InvalidPlacement(BadRequest):
    """A position publish-option (ordered nodes) that cannot be used."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"publish-option {field}: {reason}")


class InvalidNodeConfig(PubSubError, ValueError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}")


class NotACollection(PubSubError, ValueError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}")


class PreconditionNotMet(PubSubError, ValueError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"precondition {field}: {reason}")


class PayloadTooBig(PubSubError, ValueError):
    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"payload of {size} bytes exceeds the limit of {limit}")


class LastOwner(PubSubError, ValueError):
    def __init__(self, node: str) -> None:
        self.node = node
        super().__init__(f"node {node!r} must keep an owner: it cannot lose its last one")


class TooManyNodes(PubSubError, PermissionError):
    def __init__(self, owner: str, limit: int) -> None:
        self.limit = limit
        super().__init__(f"{owner} already owns {limit} nodes, the most allowed")


class OutcomeUnknown(PubSubError, ConnectionError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            f"Redis went away while the change was being made ({detail}) and did not come"
            " back in time: whether it was made is not known"
        )


class Unsupported(PubSubError, NotImplementedError):
    def __init__(self, feature: str, detail: str = "") -> None:
        self.feature = feature
        super().__init__(f"unsupported feature {feature}" + (f": {detail}" if detail else ""))


class NoArchive(PubSubError, NotImplementedError):
    """A node kind without an archive (XEP-0313): only plain nodes keep publication times."""

    def __init__(self, node: str, kind: str) -> None:
        self.node = node
        super().__init__(f"node {node!r} is a {kind} node, which keeps no archive")


class ConfigurationRequired(PubSubError, ValueError):
    """XEP-0254: a subscription to a queue node must say its ``pubsub#queue_requests``."""

    def __init__(self, node: str, jid: str) -> None:
        self.node = node
        self.jid = jid
        super().__init__(
            f"subscribing to queue node {node!r} takes options with pubsub#queue_requests"
        )


class ItemHeld(PubSubError, PermissionError):
    """A job of a queue node is held (claimed) by another subscriber or worker."""

    def __init__(self, node: str, item_id: str) -> None:
        self.node = node
        self.item_id = item_id
        super().__init__(f"item {item_id!r} of node {node!r} is held by someone else")


class ItemNotHeld(PubSubError, LookupError):
    """A subscriber retracted or unlocked a job it does not hold (any more)."""

    def __init__(self, node: str, item_id: str) -> None:
        self.node = node
        self.item_id = item_id
        super().__init__(f"item {item_id!r} of node {node!r} is not held by you")


class ItemExists(PubSubError, ValueError):
    """A job or queue item of that id is pending already: it is put once."""

    def __init__(self, node: str, item_id: str) -> None:
        self.node = node
        self.item_id = item_id
        super().__init__(f"node {node!r} has a pending item {item_id!r} already")
