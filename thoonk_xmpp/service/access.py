"""Access control: one capability table (affiliation × action) and one ``may()``.

The table is XEP-0060 §4.1; node options adjust it in ``may()`` only:
the access model decides the affiliation of an entity with no stored one
(``open`` → member, ``whitelist`` → none) and the publish model widens
who may publish.
"""

from __future__ import annotations

from enum import StrEnum

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


def effective_affiliation(stored: Affiliation | None, access: AccessModel) -> Affiliation:
    """The affiliation used for checks: a stored one, or the access model's default."""
    if stored is not None and stored != Affiliation.NONE:
        return stored
    return Affiliation.MEMBER if access == AccessModel.OPEN else Affiliation.NONE


def may(
    action: Action,
    affiliation: Affiliation | None,
    *,
    access: AccessModel,
    publish_model: PublishModel,
    subscribed: bool = False,
) -> bool:
    """Whether an entity with ``affiliation`` may perform ``action`` on a node."""
    effective = effective_affiliation(affiliation, access)
    if action in CAPABILITIES[effective]:
        return True
    if action != Action.PUBLISH or effective == Affiliation.OUTCAST:
        return False
    if publish_model == PublishModel.OPEN:
        return True
    return publish_model == PublishModel.SUBSCRIBERS and subscribed
