"""Service errors → XMPP stanza errors, in exactly one table.

Request parsing raises the few errors below, which extend the service tree
(:mod:`thoonk_xmpp.service.errors`) so that one lookup serves both::

    PubSubError
    ├── BadRequest
    │   ├── MalformedRequest       the stanza breaks the protocol's grammar
    │   │   ├── MalformedAction    XEP-0050: an action that is not one
    │   │   ├── BadAction          XEP-0050: an action the command's stage does not take
    │   │   ├── BadPayload         XEP-0050: a missing or bad form field
    │   │   └── BadSessionId       XEP-0050: a session of another command or requester
    │   ├── JidRequired            <subscribe/> without a 'jid'
    │   └── InvalidJid
    │       └── MalformedJid       a 'jid' attribute that is not a JID
    ├── SessionExpired             XEP-0050: a session that ended, expired or never was
    ├── UnknownCommand             XEP-0050: no such command (for this requester)
    ├── CommandForbidden           XEP-0050: the requester may not run the command
    ├── UnknownRequest             a pubsub request this service does not know
    ├── ServiceUnavailable         a namespace this service does not serve
    ├── Overloaded                 too many requests waiting (:mod:`.limits`)
    ├── ResultTooBig               an answer over the stanza limit that cannot be cut
    └── RateLimited                the sender is over its request rate

:data:`ERRORS` maps each class to (error type, stanza condition, pubsub
condition); :func:`spec_for` walks the MRO, so a new subclass inherits its
parent's row until it gets its own (``tests/unit/test_error_map.py`` insists).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from slixmpp.types import ErrorConditions, ErrorTypes

from thoonk_xmpp.service import errors as e

from . import ns
from .requests import Request

log = logging.getLogger(__name__)

#: The verb logged and counted for a request refused before it could be parsed.
UNPARSED: Final = "unparsed"


class MalformedRequest(e.BadRequest):
    """The request does not follow the XEP's grammar (missing or bad attribute, bad form)."""


class JidRequired(e.BadRequest):
    def __init__(self) -> None:
        super().__init__("a 'jid' attribute is required")


class MalformedJid(e.InvalidJid):
    def __init__(self, jid: str) -> None:
        self.jid = jid
        e.BadRequest.__init__(self, f"{jid!r} is not a valid JID")


class MalformedAction(MalformedRequest):
    def __init__(self, action: str) -> None:
        super().__init__(f"{action!r} is not a XEP-0050 action")


class BadAction(MalformedRequest):
    def __init__(self, action: str, allowed: str) -> None:
        super().__init__(f"action {action!r} is not possible now (possible: {allowed})")


class BadPayload(MalformedRequest):
    """A command's form lacks a required field or holds a bad value; names the field."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"field {field!r}: {reason}")


class BadSessionId(MalformedRequest):
    def __init__(self, sessionid: str) -> None:
        super().__init__(f"session {sessionid!r} is not one of yours for this command")


class SessionExpired(e.PubSubError):
    def __init__(self, sessionid: str) -> None:
        super().__init__(f"session {sessionid!r} has ended or expired")


class UnknownCommand(e.PubSubError):
    def __init__(self, node: str) -> None:
        super().__init__(f"no command {node!r}")


class CommandForbidden(e.Forbidden):
    def __init__(self, node: str) -> None:
        super().__init__(f"run command {node!r}")


class UnknownRequest(e.PubSubError):
    def __init__(self, what: str) -> None:
        super().__init__(f"unsupported request {what}")


class ServiceUnavailable(e.PubSubError):
    def __init__(self, namespace: str) -> None:
        super().__init__(f"no service for namespace {namespace!r}")


class Overloaded(e.PubSubError):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"too many requests waiting {what} (at most {limit}); try again later")


class ResultTooBig(e.PubSubError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer would exceed the stanza size limit of {limit} bytes")


class RateLimited(e.PubSubError):
    def __init__(self, rate: float) -> None:
        super().__init__(f"more than {rate:g} requests per second; slow down")


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """How one error class looks on the wire (RFC 6120 §8.3, XEP-0060 §12)."""

    type: ErrorTypes
    condition: ErrorConditions
    pubsub: str | None = None
    #: The namespace of the application condition (``pubsub``): XEP-0060's or XEP-0050's.
    condition_ns: str = ns.PUBSUB_ERRORS
    #: A different pubsub condition when the error names one of these fields.
    by_field: Mapping[str, str] = field(default_factory=dict)


_BAD: Final = "bad-request"

#: The one mapping. XEP-0060 section of each row in the comment.
ERRORS: Final[Mapping[type[e.PubSubError], ErrorSpec]] = {
    e.PubSubError: ErrorSpec("wait", "internal-server-error"),
    e.BadRequest: ErrorSpec("modify", _BAD),
    MalformedRequest: ErrorSpec("modify", _BAD),
    e.NodeIdRequired: ErrorSpec("modify", _BAD, "nodeid-required"),  # 7.2.3.3, 8.2.3.3
    e.ItemRequired: ErrorSpec("modify", _BAD, "item-required"),  # 7.1.3.6, 7.2.3.4
    e.PayloadRequired: ErrorSpec("modify", _BAD, "payload-required"),  # 7.1.3.6
    e.InvalidJid: ErrorSpec("modify", _BAD, "invalid-jid"),  # 6.1.3.1
    MalformedJid: ErrorSpec("modify", _BAD, "invalid-jid"),
    JidRequired: ErrorSpec("modify", _BAD, "jid-required"),  # 6.3.4.1
    e.SubIdRequired: ErrorSpec("modify", _BAD, "subid-required"),  # 6.2.3.1
    e.ItemForbidden: ErrorSpec("modify", _BAD, "item-forbidden"),  # 7.1.3.6
    e.InvalidPayload: ErrorSpec("modify", _BAD, "invalid-payload"),  # 7.1.3.5
    e.InvalidPlacement: ErrorSpec("modify", _BAD),  # position publish-options
    e.InvalidOptions: ErrorSpec("modify", _BAD, "invalid-options"),  # 6.3.5
    e.NodeNotFound: ErrorSpec("cancel", "item-not-found"),
    e.ItemNotFound: ErrorSpec("cancel", "item-not-found"),  # 7.2.3.2, XEP-0059 §2.5
    e.NodeExists: ErrorSpec("cancel", "conflict"),  # 8.1.1
    e.Forbidden: ErrorSpec("auth", "forbidden"),
    e.ClosedNode: ErrorSpec("cancel", "not-allowed", "closed-node"),  # 6.1.3.4, 6.5.9.8
    e.PresenceSubscriptionRequired: ErrorSpec(  # 6.1.3.2, 6.5.9.5
        "auth", "not-authorized", "presence-subscription-required"
    ),
    e.NotInRosterGroup: ErrorSpec("auth", "not-authorized", "not-in-roster-group"),  # 6.1.3.3
    e.NotSubscribed: ErrorSpec("cancel", "unexpected-request", "not-subscribed"),  # 6.2.3.2
    e.InvalidSubId: ErrorSpec("modify", "not-acceptable", "invalid-subid"),  # 6.2.3.5
    e.SubscriptionRequired: ErrorSpec("auth", "not-authorized", "not-subscribed"),  # 6.5.9.4
    e.PendingSubscription: ErrorSpec("auth", "not-authorized", "pending-subscription"),  # 6.1.3.7
    e.NotPending: ErrorSpec("cancel", "item-not-found"),  # 8.6: decided already
    e.InvalidNodeConfig: ErrorSpec(  # 8.2.4.2; 8.1.2 for an access model we lack
        "modify",
        "not-acceptable",
        by_field={"pubsub#access_model": "unsupported-access-model"},
    ),
    e.NotACollection: ErrorSpec("cancel", "not-allowed", "invalid-options"),  # XEP-0248 §6.2
    e.PreconditionNotMet: ErrorSpec("cancel", "conflict", "precondition-not-met"),  # 7.1.5
    e.PayloadTooBig: ErrorSpec("modify", "not-acceptable", "payload-too-big"),  # 7.1.3.4
    e.LastOwner: ErrorSpec("modify", "not-acceptable"),  # 8.9.2.4
    e.Unsupported: ErrorSpec("cancel", "feature-not-implemented", "unsupported"),
    UnknownRequest: ErrorSpec("cancel", "feature-not-implemented"),
    # XEP-0050 §4.6
    MalformedAction: ErrorSpec("modify", _BAD, "malformed-action", ns.COMMANDS),
    BadAction: ErrorSpec("modify", _BAD, "bad-action", ns.COMMANDS),
    BadPayload: ErrorSpec("modify", _BAD, "bad-payload", ns.COMMANDS),
    BadSessionId: ErrorSpec("modify", _BAD, "bad-sessionid", ns.COMMANDS),
    SessionExpired: ErrorSpec("cancel", "not-allowed", "session-expired", ns.COMMANDS),
    UnknownCommand: ErrorSpec("cancel", "item-not-found"),
    CommandForbidden: ErrorSpec("cancel", "forbidden"),
    ServiceUnavailable: ErrorSpec("cancel", "service-unavailable"),  # RFC 6120 §8.4
    e.TooManyNodes: ErrorSpec("cancel", "policy-violation"),  # RFC 6120 §8.3.3.12
    e.OutcomeUnknown: ErrorSpec("wait", "internal-server-error"),
    Overloaded: ErrorSpec("wait", "resource-constraint"),  # RFC 6120 §8.3.3.18
    ResultTooBig: ErrorSpec("cancel", "resource-constraint"),
    RateLimited: ErrorSpec("wait", "policy-violation"),
    e.NoArchive: ErrorSpec("cancel", "feature-not-implemented"),  # XEP-0313 on ordered nodes
    e.ConfigurationRequired: ErrorSpec("modify", "not-acceptable", "configuration-required"),
    e.ItemHeld: ErrorSpec("cancel", "conflict"),  # XEP-0254 §Deleting, §Unlocking
    e.ItemNotHeld: ErrorSpec("wait", "unexpected-request"),  # XEP-0254 §Deleting
    e.ItemExists: ErrorSpec("cancel", "conflict"),
}

#: For anything that is not a PubSubError (a bug, Redis gone): never leak details.
INTERNAL: Final = ErrorSpec("wait", "internal-server-error")


_BY_CLASS: Final[dict[type, ErrorSpec]] = dict(ERRORS)


def spec_for(error: BaseException) -> ErrorSpec:
    """The row for ``error``'s class or its nearest mapped ancestor."""
    for cls in type(error).__mro__:
        spec = _BY_CLASS.get(cls)
        if spec is not None:
            return spec
    return INTERNAL


def error_element(error: BaseException) -> ET.Element:
    """The ``<error/>`` child for ``error``: type, condition, pubsub condition, text."""
    spec = spec_for(error)
    element = ET.Element(ns.tag(ns.STANZA, "error"), {"type": spec.type})
    ET.SubElement(element, ns.tag(ns.STANZAS, spec.condition))
    if isinstance(error, e.PubSubError):
        pubsub = spec.by_field.get(getattr(error, "field", ""), spec.pubsub)
        if pubsub is not None:
            attrs = {"feature": error.feature} if isinstance(error, e.Unsupported) else {}
            ET.SubElement(element, ns.tag(spec.condition_ns, pubsub), attrs)
        text = ET.SubElement(element, ns.tag(ns.STANZAS, "text"))
        text.text = str(error)
    return element


def refused(iq: ET.Element, request: Request | None, error: BaseException) -> tuple[str, str]:
    """Log a refused request, once, at debug; returns its verb and stanza error condition.

    ``request`` is None when the iq could not be parsed (verb :data:`UNPARSED`).  The actor is the
    iq's ``from`` as the server stamped it.
    """
    condition = spec_for(error).condition
    verb = request.verb if request is not None else UNPARSED
    node = getattr(request, "node", None)
    actor = iq.get("from", "")
    log.debug(
        "refused %s on node %s from %s: %s",
        verb,
        node,
        actor,
        condition,
        extra={"verb": verb, "node": node, "actor": actor, "condition": condition},
    )
    return verb, condition
