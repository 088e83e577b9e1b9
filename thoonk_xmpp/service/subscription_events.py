"""The events of subscription changes, routed from the node's state notice.

Every script that adds, removes or decides a subscription announces it on the node's
state notice together with what happened (:func:`~thoonk_xmpp.thoonk.keys.state_payload`),
so whichever instance delivers the node's events makes the same messages, whoever made
the change (an XMPP request to any instance, the admin CLI):

- a request waiting for approval: the authorization form to each owner (§8.6);
- an owner's decision, or a subscription an owner made or removed (§8.8.2): the
  subscriber hears ``subscribed`` or ``none`` (§8.6, §8.8.4, §12.6);
- a new subscription (approved ones too) or an unsubscription: the owners hear of it
  when the node has ``pubsub#notify_sub``.

A request decided before its notice is routed is not offered to the owners any more.
"""

from __future__ import annotations

from collections.abc import Iterator

from .events import Event, Recipient, SubscriptionChanged, SubscriptionRequested
from .model import (
    Affiliation,
    NotificationType,
    SendLastPublished,
    Subscription,
    SubscriptionState,
)
from .node_states import NodeState
from .pending import APPROVED, DENIED, REMOVED, REQUESTED

_SUBSCRIBED, _NONE = SubscriptionState.SUBSCRIBED, SubscriptionState.NONE
#: What the owners of a notify_sub node hear, by what happened.
_TOLD_TO_OWNERS = {
    _SUBSCRIBED.value: _SUBSCRIBED,
    APPROVED: _SUBSCRIBED,
    _NONE.value: _NONE,
    REMOVED: _NONE,
}
#: Messages that must reach their reader even offline are of type normal.
_NORMAL = NotificationType.NORMAL


def owners_of(state: NodeState) -> tuple[Recipient, ...]:
    """The bare JIDs with the owner affiliation, as recipients."""
    return tuple(
        Recipient(jid, ())
        for jid, aff in sorted(state.affiliations.items())
        if aff == Affiliation.OWNER
    )


def subscription_events(state: NodeState, facts: list[tuple[str, str, str]]) -> Iterator[Event]:
    """The events for the ``facts`` (what happened, JID, subid) of one state notice."""
    if not state.is_node:
        return
    node, owners = state.node, owners_of(state)
    for what, jid, subid in facts:
        if what == REQUESTED:
            if owners and any(p.subid == subid for p in state.pending):
                yield SubscriptionRequested(node, owners, _NORMAL, jid, subid)
            continue
        if what in (APPROVED, DENIED, REMOVED):  # an owner's doing: the subscriber hears
            told = _SUBSCRIBED if what == APPROVED else _NONE
            yield SubscriptionChanged(node, (Recipient(jid, (subid,)),), _NORMAL, jid, subid, told)
        told_owners = _TOLD_TO_OWNERS.get(what)
        if told_owners is not None and owners and state.config.notify_sub:
            kind = state.config.notification_type
            yield SubscriptionChanged(node, owners, kind, jid, subid, told_owners)


def approved(state: NodeState, facts: list[tuple[str, str, str]]) -> Iterator[Subscription]:
    """The subscriptions an owner approved or made, still there, of a node that sends the
    last item on subscription (they get it as a subscriber does on subscribing)."""
    config = state.config
    if (
        not state.is_node
        or config.send_last_published_item != SendLastPublished.ON_SUB
        or config.node_kind.queueing
    ):
        return
    for what, _, subid in facts:
        if what == APPROVED:
            yield from (s for s in state.subscriptions if s.subid == subid)
