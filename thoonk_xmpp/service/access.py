"""Access control: one capability table (affiliation × action) and one ``may()``.

The table is XEP-0060 §4.1; node options adjust it in ``may()`` only:
the access model decides what an entity with no stored affiliation may do
(:data:`UNAFFILIATED`: ``open`` → a member's rights, ``whitelist`` → none,
``authorize`` → ask to subscribe, and a member's rights once an owner approved,
``presence`` and ``roster`` → a member's rights when an owner's roster admits it)
and the publish model widens who may publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from .errors import (
    ClosedNode,
    Forbidden,
    NotInRosterGroup,
    PresenceSubscriptionRequired,
    PubSubError,
    SubscriptionRequired,
    Unsupported,
)
from .model import AccessModel, Affiliation, PublishModel


class Action(StrEnum):
    """Everything an entity may try on a node."""

    SUBSCRIBE = "subscribe"
    RETRIEVE_ITEMS = "retrieve items"
    PUBLISH = "publish"
    RETRACT_ANY = "retract any item"
    PURGE = "purge"
    CONFIGURE = "configure"
    DELETE = "delete"
    MANAGE_SUBSCRIPTIONS = "manage subscriptions"
    MANAGE_AFFILIATIONS = "manage affiliations"
    BE_NOTIFIED = "receive notifications"


_A = Action
_OWNER = frozenset(Action)
_PUBLISHER = frozenset(
    {_A.SUBSCRIBE, _A.RETRIEVE_ITEMS, _A.PUBLISH, _A.RETRACT_ANY, _A.PURGE, _A.BE_NOTIFIED}
)
# A publish-only entity may remove items, but only its own: items in a Thoonk
# feed carry no publisher, so we cannot tell, and refuse (the XEP's SHOULD).
_PUBLISH_ONLY = frozenset({_A.PUBLISH})
_MEMBER = frozenset({_A.SUBSCRIBE, _A.RETRIEVE_ITEMS, _A.BE_NOTIFIED})

CAPABILITIES: dict[Affiliation, frozenset[Action]] = {
    Affiliation.OWNER: _OWNER,
    Affiliation.PUBLISHER: _PUBLISHER,
    Affiliation.PUBLISH_ONLY: _PUBLISH_ONLY,
    Affiliation.MEMBER: _MEMBER,
    Affiliation.NONE: frozenset(),
    Affiliation.OUTCAST: frozenset(),
}


#: What an entity with no affiliation may do, by access model: (not subscribed, subscribed).
#: ``authorize``: anyone may ask to subscribe (the owners approve, §6.1.4), and only
#: subscribers, that is approved ones, retrieve items and are notified (§4.5, §6.5.1).
UNAFFILIATED: dict[AccessModel, tuple[frozenset[Action], frozenset[Action]]] = {
    AccessModel.OPEN: (_MEMBER, _MEMBER),
    AccessModel.WHITELIST: (frozenset(), frozenset()),
    AccessModel.AUTHORIZE: (frozenset({_A.SUBSCRIBE}), _MEMBER),
    # a member's rights only when an owner's roster admits the entity (``admitted``)
    AccessModel.PRESENCE: (frozenset(), frozenset()),
    AccessModel.ROSTER: (frozenset(), frozenset()),
}

#: Access models decided by the owners' rosters (XEP-0060 §4.5).
ROSTER_MODELS: frozenset[AccessModel] = frozenset({AccessModel.PRESENCE, AccessModel.ROSTER})


#: Access models where the subscription of an entity with no affiliation waits for an
#: owner's approval (members, publishers and owners subscribe at once, §6.1.4).
APPROVED_BY_OWNER: frozenset[AccessModel] = frozenset({AccessModel.AUTHORIZE})


def needs_approval(affiliation: Affiliation | None, access: AccessModel) -> bool:
    """Whether a subscription of an entity with ``affiliation`` starts pending."""
    return access in APPROVED_BY_OWNER and affiliation in (None, Affiliation.NONE)


def capabilities(
    affiliation: Affiliation | None,
    access: AccessModel,
    subscribed: bool = False,
    admitted: bool = False,
) -> frozenset[Action]:
    """Everything an entity with ``affiliation`` may do on a node of ``access`` model.

    ``admitted``: on a ``presence`` or ``roster`` node, an owner's roster lets it in.
    """
    if affiliation is not None and affiliation != Affiliation.NONE:
        return CAPABILITIES[affiliation]
    if admitted and access in ROSTER_MODELS:
        return _MEMBER
    return UNAFFILIATED[access][subscribed]


def may(
    action: Action,
    affiliation: Affiliation | None,
    *,
    access: AccessModel,
    publish_model: PublishModel,
    subscribed: bool = False,
    admitted: bool = False,
) -> bool:
    """Whether an entity with ``affiliation`` may perform ``action`` on a node.

    ``admitted``: on a ``presence`` or ``roster`` node, an owner's roster lets it in.
    """
    if action in capabilities(affiliation, access, subscribed, admitted):
        return True
    if action != Action.PUBLISH or affiliation == Affiliation.OUTCAST:
        return False
    if publish_model == PublishModel.OPEN:
        return True
    return publish_model == PublishModel.SUBSCRIBERS and subscribed


#: What an entity with no affiliation asking to subscribe or retrieve is refused with,
#: by access model (§6.1.3.2-4, §6.5.9.4-8); elsewhere: Forbidden.
OUTSIDERS_REFUSED: dict[AccessModel, type[PubSubError]] = {
    AccessModel.WHITELIST: ClosedNode,
    AccessModel.AUTHORIZE: SubscriptionRequired,
    AccessModel.PRESENCE: PresenceSubscriptionRequired,
    AccessModel.ROSTER: NotInRosterGroup,
}


def owners_of(affiliations: Mapping[str, Affiliation]) -> list[str]:
    return [jid for jid, affiliation in affiliations.items() if affiliation == Affiliation.OWNER]


#: Refusals that mean "may not see the node" (Unsupported: a presence or roster node
#: whose rosters cannot be read).
NOT_SEEN: tuple[type[PubSubError], ...] = (Forbidden, Unsupported, *OUTSIDERS_REFUSED.values())
