"""The capability table (XEP-0060 §4.1) and ``may()`` for every combination of
affiliation, action, access model, publish model and subscription."""

from __future__ import annotations

import itertools

import pytest

from thoonk_xmpp.service.access import CAPABILITIES, Action, capabilities, may, needs_approval
from thoonk_xmpp.service.model import AccessModel, Affiliation, PublishModel

# The XEP-0060 §4.1 table written out independently, plus our two extra actions:
# the owner-only management actions and "receive notifications" for those who
# may retrieve items.  Publish-only and publisher may "delete single item" only
# for their own items in the XEP; Thoonk items carry no publisher, so
# publish-only gets no retract at all and publisher may retract any item.
EXPECTED: dict[Affiliation, set[str]] = {
    Affiliation.OWNER: {
        "subscribe",
        "retrieve items",
        "publish",
        "retract any item",
        "purge",
        "configure",
        "delete",
        "manage subscriptions",
        "manage affiliations",
        "receive notifications",
    },
    Affiliation.PUBLISHER: {
        "subscribe",
        "retrieve items",
        "publish",
        "retract any item",
        "purge",
        "receive notifications",
    },
    Affiliation.PUBLISH_ONLY: {"publish"},
    Affiliation.MEMBER: {"subscribe", "retrieve items", "receive notifications"},
    Affiliation.NONE: set(),
    Affiliation.OUTCAST: set(),
}

STORED: list[Affiliation | None] = [None, *Affiliation]


def test_every_affiliation_and_action_is_in_the_table() -> None:
    assert set(CAPABILITIES) == set(Affiliation)
    assert {a.value for a in Action} == set().union(*EXPECTED.values())


@pytest.mark.parametrize("affiliation", list(Affiliation))
def test_capabilities_match_the_xep_table(affiliation: Affiliation) -> None:
    assert {a.value for a in CAPABILITIES[affiliation]} == EXPECTED[affiliation]


@pytest.mark.parametrize(
    ("stored", "access", "subscribed", "rights"),
    [
        (None, AccessModel.OPEN, False, Affiliation.MEMBER),
        (Affiliation.NONE, AccessModel.OPEN, False, Affiliation.MEMBER),
        (None, AccessModel.WHITELIST, False, Affiliation.NONE),
        (Affiliation.NONE, AccessModel.WHITELIST, True, Affiliation.NONE),
        (Affiliation.MEMBER, AccessModel.WHITELIST, False, Affiliation.MEMBER),
        (Affiliation.OUTCAST, AccessModel.OPEN, False, Affiliation.OUTCAST),
        (Affiliation.OUTCAST, AccessModel.WHITELIST, False, Affiliation.OUTCAST),
        (Affiliation.OWNER, AccessModel.WHITELIST, False, Affiliation.OWNER),
        (Affiliation.PUBLISHER, AccessModel.OPEN, False, Affiliation.PUBLISHER),
        (Affiliation.PUBLISH_ONLY, AccessModel.OPEN, False, Affiliation.PUBLISH_ONLY),
        # authorize: an approved (subscribed) stranger has a member's rights
        (None, AccessModel.AUTHORIZE, True, Affiliation.MEMBER),
        (Affiliation.NONE, AccessModel.AUTHORIZE, True, Affiliation.MEMBER),
        (Affiliation.MEMBER, AccessModel.AUTHORIZE, False, Affiliation.MEMBER),
        (Affiliation.OUTCAST, AccessModel.AUTHORIZE, True, Affiliation.OUTCAST),
    ],
)
def test_capabilities_are_an_affiliations_row(
    stored: Affiliation | None, access: AccessModel, subscribed: bool, rights: Affiliation
) -> None:
    assert capabilities(stored, access, subscribed) == CAPABILITIES[rights]


def test_an_authorize_stranger_may_only_ask_until_approved() -> None:
    for stored in (None, Affiliation.NONE):
        assert capabilities(stored, AccessModel.AUTHORIZE) == {Action.SUBSCRIBE}
        assert needs_approval(stored, AccessModel.AUTHORIZE)
    for access in (AccessModel.OPEN, AccessModel.WHITELIST):
        assert not needs_approval(None, access)
    for affiliated in (Affiliation.MEMBER, Affiliation.PUBLISHER, Affiliation.OWNER):
        assert not needs_approval(affiliated, AccessModel.AUTHORIZE)


def _expected(
    action: Action,
    stored: Affiliation | None,
    access: AccessModel,
    publish_model: PublishModel,
    subscribed: bool,
) -> bool:
    """The rules of §4.1 and §4.5, restated without the module under test."""
    if stored is None or stored == Affiliation.NONE:
        # open: anyone may subscribe and retrieve; whitelist: nobody off the list;
        # authorize: anyone may ask to subscribe, subscribers (approved) retrieve and hear
        if access == AccessModel.OPEN or (access == AccessModel.AUTHORIZE and subscribed):
            base = EXPECTED[Affiliation.MEMBER]
        elif access == AccessModel.AUTHORIZE:
            base = {"subscribe"}
        else:
            base = set()
    else:
        base = EXPECTED[stored]
    if action.value in base:
        return True
    if action != Action.PUBLISH or stored == Affiliation.OUTCAST:
        return False
    if publish_model == PublishModel.OPEN:
        return True
    return publish_model == PublishModel.SUBSCRIBERS and subscribed


@pytest.mark.parametrize(
    ("stored", "access", "publish_model"),
    list(itertools.product(STORED, AccessModel, PublishModel)),
)
def test_may_for_every_combination(
    stored: Affiliation | None, access: AccessModel, publish_model: PublishModel
) -> None:
    wrong = []
    for action, subscribed in itertools.product(Action, (False, True)):
        got = may(action, stored, access=access, publish_model=publish_model, subscribed=subscribed)
        want = _expected(action, stored, access, publish_model, subscribed)
        if got != want:
            wrong.append((action.value, subscribed, got))
    assert wrong == []


@pytest.mark.parametrize("access", list(AccessModel))
def test_outcast_may_nothing_even_on_open_publish(access: AccessModel) -> None:
    for action in Action:
        assert not may(
            action,
            Affiliation.OUTCAST,
            access=access,
            publish_model=PublishModel.OPEN,
            subscribed=True,
        )


def test_whitelist_stranger_vs_member() -> None:
    def allowed(action: Action, stored: Affiliation | None) -> bool:
        return may(
            action, stored, access=AccessModel.WHITELIST, publish_model=PublishModel.PUBLISHERS
        )

    assert not allowed(Action.SUBSCRIBE, None)
    assert not allowed(Action.RETRIEVE_ITEMS, None)
    assert not allowed(Action.BE_NOTIFIED, Affiliation.NONE)
    assert allowed(Action.SUBSCRIBE, Affiliation.MEMBER)
    assert allowed(Action.BE_NOTIFIED, Affiliation.MEMBER)


def test_publish_models() -> None:
    def publish(model: PublishModel, stored: Affiliation | None, subscribed: bool) -> bool:
        return may(
            Action.PUBLISH,
            stored,
            access=AccessModel.OPEN,
            publish_model=model,
            subscribed=subscribed,
        )

    assert not publish(PublishModel.PUBLISHERS, None, True)
    assert publish(PublishModel.PUBLISHERS, Affiliation.PUBLISH_ONLY, False)
    assert not publish(PublishModel.SUBSCRIBERS, Affiliation.MEMBER, False)
    assert publish(PublishModel.SUBSCRIBERS, Affiliation.MEMBER, True)
    assert publish(PublishModel.SUBSCRIBERS, None, True)
    assert publish(PublishModel.OPEN, None, False)
    assert not publish(PublishModel.OPEN, Affiliation.OUTCAST, False)
