"""Subscription approval by message (XEP-0060 §8.6): the form owners get, and their answer.

A subscription request on an ``authorize`` node reaches each owner as a message holding
the ``pubsub#subscribe_authorization`` form (built here from a
:class:`~thoonk_xmpp.service.events.SubscriptionRequested` event).  The owner submits it
back in a ``<message/>``: ``pubsub#allow`` true approves, false denies, a cancel form
leaves the request waiting.  The service checks that the sender owns the node and that
the request is still waiting; otherwise nothing changes and the sender gets a message
error (never one about a message of type error).

The ``get-pending`` ad-hoc command (§8.7) sends an owner the forms of a node's waiting
requests again: its one field chooses among the nodes the asker owns.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from thoonk_xmpp.service.errors import NodeIdRequired
from thoonk_xmpp.service.model import Actor, Subscription
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.service.store import bare

from . import (
    ns,
    parsing,  # a module reference: parsing imports this module's importers
)
from .adhoc import Answers, CommandField, Outcome, command
from .errors import MalformedRequest
from .forms import FieldType, FormType, add_field, find_form, form_element, parse_form

if TYPE_CHECKING:
    from .handlers import Context

SUBSCRIBE_AUTHORIZATION: Final = f"{ns.PUBSUB}#subscribe_authorization"
MESSAGE: Final = ns.tag(ns.STANZA, "message")
GET_PENDING: Final = f"{ns.PUBSUB}#get-pending"

NODE: Final = "pubsub#node"
SUBID: Final = "pubsub#subid"
SUBSCRIBER: Final = "pubsub#subscriber_jid"
ALLOW: Final = "pubsub#allow"


def request_form(node: str, jid: str, subid: str) -> ET.Element:
    """The form asking an owner to approve ``jid``'s subscription ``subid`` to ``node``."""
    x = form_element(FormType.FORM, SUBSCRIBE_AUTHORIZATION)
    title = ET.Element(ns.tag(ns.DATA, "title"))
    title.text = "PubSub subscriber request"
    instructions = ET.Element(ns.tag(ns.DATA, "instructions"))
    instructions.text = (
        "To approve this entity's subscription request, set 'allow' and submit the form."
        " To deny it, submit the form with 'allow' unset."
    )
    x[0:0] = [title, instructions]
    add_field(x, SUBID, FieldType.HIDDEN, [subid])
    add_field(x, NODE, FieldType.TEXT_SINGLE, [node], label="Node ID")
    add_field(x, SUBSCRIBER, FieldType.JID_SINGLE, [jid], label="Subscriber Address")
    add_field(
        x,
        ALLOW,
        FieldType.BOOLEAN,
        ["false"],
        label="Allow this JID to subscribe to this pubsub node?",
    )
    return x


@dataclass(frozen=True, slots=True)
class Decision:
    """An owner's submitted answer: which request (subid and/or JID) and whether to allow it."""

    node: str
    subid: str | None
    jid: str | None
    allow: bool


def is_answer(message: ET.Element) -> bool:
    """Whether ``message`` carries a subscribe_authorization form (and is no error)."""
    if message.tag != MESSAGE or message.get("type") == "error":
        return False
    x = find_form(message)
    if x is None:
        return False
    for field in x.findall(ns.tag(ns.DATA, "field")):
        if field.get("var") == "FORM_TYPE":
            return field.findtext(ns.tag(ns.DATA, "value")) == SUBSCRIBE_AUTHORIZATION
    return False


def _single(fields: dict[str, list[str]], var: str) -> str | None:
    values = fields.get(var)
    if not values:
        return None
    if len(values) > 1:
        raise MalformedRequest(f"form field {var!r} takes a single value")
    return values[0].strip() or None


def parse_answer(message: ET.Element) -> Decision | None:
    """The decision in an answer (None: the owner cancelled; the request stays waiting)."""
    x = find_form(message)
    assert x is not None
    form = parse_form(x)
    if form.type == FormType.CANCEL:
        return None
    if form.type != FormType.SUBMIT:
        raise MalformedRequest(f"expected a submit form, got type {form.type.value!r}")
    fields = dict(form.fields)
    node = _single(fields, NODE)
    if node is None:
        raise NodeIdRequired()
    allow = (_single(fields, ALLOW) or "").lower()
    if allow not in ("1", "true", "0", "false"):
        raise MalformedRequest(f"{ALLOW} must be a boolean, got {allow!r}")
    jid = _single(fields, SUBSCRIBER)
    return Decision(
        node,
        _single(fields, SUBID),
        None if jid is None else parsing.normalise_jid(jid),
        allow in ("1", "true"),
    )


async def answer(service: PubSubService, message: ET.Element) -> Subscription | None:
    """Act on an owner's answer; the decided subscription (None: cancelled)."""
    decision = parse_answer(message)
    if decision is None:
        return None
    actor = Actor(bare(parsing.normalise_jid(message.get("from"))))
    return await service.decide_subscription(
        actor, decision.node, decision.subid, decision.jid, decision.allow
    )


def error_message(message: ET.Element, error: ET.Element) -> ET.Element:
    """The ``<message type='error'/>`` answering ``message`` with ``error``."""
    attrs = {"type": "error"}
    for ours, theirs in (("from", "to"), ("to", "from"), ("id", "id")):
        if message.get(theirs):
            attrs[ours] = message.get(theirs, "")
    reply = ET.Element(MESSAGE, attrs)
    reply.append(error)
    return reply


# --- get-pending (§8.7) ---------------------------------------------------------------------


async def _owned(ctx: Context) -> Sequence[str]:
    return await ctx.service.owned_nodes(ctx.actor)


async def node_owner(ctx: Context) -> bool:
    """Whether the asker owns a node (only owners approve subscriptions)."""
    return bool(await _owned(ctx))


@command(
    GET_PENDING,
    "Get pending subscription requests",
    may_run=node_owner,
    fields=(CommandField(NODE, FieldType.LIST_SINGLE, "Node", options=_owned),),
    instructions="Choose a node: each subscription request waiting on it comes as a message.",
)
async def get_pending(ctx: Context, answers: Answers) -> Outcome:
    node = answers[NODE][0]
    requests = await ctx.service.pending_requests(ctx.actor, node)
    await ctx.router.send_requests(requests, ctx.sender)
    return Outcome(f"{len(requests)} pending subscription requests of {node!r} sent")
