"""Who may do what (XEP-0060 §4.1 table, §4.5, §6.1.3, §6.5.9): every affiliation × action ×
access model over real Prosody (with mod_privilege, for the presence and roster models), the
component and Redis.  Refusals carry the XEP's error and change nothing in Redis; allowed
actions take effect.  On presence and roster nodes an entity with no affiliation is let in
by an owner's roster: the contact tests cover that."""

from __future__ import annotations

import pytest

from tests.integration.bridge_fixtures import (
    DATA,
    OWNER,
    Bridge,
    PubSubClient,
    PubSubClientFactory,
    config_form,
    find,
    form_values,
    ids_in,
    pubsub,
)
from tests.integration.rosters import add_contact, privileged, share_presence
from thoonk_xmpp.xmpp import ns

MODELS = ("open", "whitelist", "authorize", "presence", "roster")
AFFILIATIONS = ("owner", "publisher", "publish-only", "member", "none", "outcast")
ACTIONS = ("subscribe", "retrieve", "publish", "retract", "purge", "configure", "delete")

#: What each affiliation may do, whatever the access model — except "none" (below).
ALLOWED: dict[str, set[str]] = {
    "owner": set(ACTIONS),
    "publisher": {"subscribe", "retrieve", "publish", "retract", "purge"},
    "publish-only": {"publish"},
    "member": {"subscribe", "retrieve"},
    "outcast": set(),
}
#: An entity with no affiliation counts as a member on open nodes, as nobody on whitelist
#: nodes, nor on presence and roster nodes unless an owner's roster lets it in (contacts);
#: on authorize nodes it may ask to subscribe (the subscription waits for an owner, §6.1.4).
NONE_ALLOWED: dict[str, set[str]] = {
    "open": {"subscribe", "retrieve"},
    "whitelist": set(),
    "authorize": {"subscribe"},
    "presence": set(),
    "roster": set(),
}

FORBIDDEN = ("auth", "forbidden", None)
CLOSED = ("cancel", "not-allowed", "closed-node")
NOT_SUBSCRIBED = ("auth", "not-authorized", "not-subscribed")
PRESENCE_REQUIRED = ("auth", "not-authorized", "presence-subscription-required")
NOT_IN_GROUP = ("auth", "not-authorized", "not-in-roster-group")
#: What an outsider asking to subscribe or retrieve gets, by access model.
OUTSIDER = {"whitelist": CLOSED, "presence": PRESENCE_REQUIRED, "roster": NOT_IN_GROUP}
#: The creation form of node ``n`` for each model.
CREATION: dict[str, dict[str, str | list[str]]] = {
    "open": {"pubsub#access_model": "open"},
    "whitelist": {"pubsub#access_model": "whitelist"},
    "authorize": {"pubsub#access_model": "authorize"},
    "presence": {"pubsub#access_model": "presence"},
    "roster": {"pubsub#access_model": "roster", "pubsub#roster_groups_allowed": ["friends"]},
}


def expected(model: str, affiliation: str, action: str) -> tuple[str, str, str | None] | None:
    """None when allowed, else the error the XEP asks for."""
    allowed = NONE_ALLOWED[model] if affiliation == "none" else ALLOWED[affiliation]
    if action in allowed:
        return None
    if model in OUTSIDER and affiliation == "none" and action in ("subscribe", "retrieve"):
        return OUTSIDER[model]  # §6.1.3.2-4, §6.5.9.5-8
    if model == "authorize" and affiliation == "none" and action == "retrieve":
        return NOT_SUBSCRIBED  # §6.5.9.4: only subscribers retrieve items
    return FORBIDDEN


def request(action: str, actor: PubSubClient) -> tuple[str, str]:
    """The iq (type, payload) for ``action`` on node ``n``."""
    match action:
        case "subscribe":
            return "set", pubsub(f"<subscribe node='n' jid='{actor.jid}'/>")
        case "retrieve":
            return "get", pubsub("<items node='n'/>")
        case "publish":
            return "set", pubsub(
                "<publish node='n'><item id='new'><x xmlns='urn:t'/></item></publish>"
            )
        case "retract":
            return "set", pubsub("<retract node='n'><item id='i1'/></retract>")
        case "purge":
            return "set", pubsub("<purge node='n'/>", owner=True)
        case "configure":
            form = config_form({"pubsub#title": "changed"})
            return "set", pubsub(f"<configure node='n'>{form}</configure>", owner=True)
        case "delete":
            return "set", pubsub("<delete node='n'/>", owner=True)
    raise AssertionError(action)


def state_after_subscribe(model: str, affiliation: str) -> str:
    """An entity with no affiliation waits for an owner on authorize nodes."""
    return "pending" if model == "authorize" and affiliation == "none" else "subscribed"


async def check_effect(
    bridge: Bridge, owner: PubSubClient, actor: PubSubClient, action: str, subscription: str
) -> None:
    """The allowed ``action`` really happened."""
    match action:
        case "subscribe":
            subscriptions = await owner.ok("get", pubsub("<subscriptions node='n'/>", owner=True))
            assert [
                s.get("subscription")
                for s in subscriptions.iter(ns.tag(OWNER, "subscription"))
                if s.get("jid") == actor.jid
            ] == [subscription]
        case "publish":
            assert list(await bridge.stored("n")) == ["i1", "new"]
        case "retract" | "purge":
            assert await bridge.stored("n") == {}
        case "configure":
            form = await owner.ok("get", pubsub("<configure node='n'/>", owner=True))
            x = find(form, "configure", OWNER).find(ns.tag(DATA, "x"))
            assert form_values(x)["pubsub#title"] == ["changed"]
        case "delete":
            assert not await bridge.thoonk.feed_exists("n")


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("affiliation", AFFILIATIONS)
@pytest.mark.parametrize("model", MODELS)
async def test_access(
    bridge: Bridge,
    pubsub_client: PubSubClientFactory,
    model: str,
    affiliation: str,
    action: str,
) -> None:
    if model in ("presence", "roster"):
        await privileged(bridge)
    owner = await pubsub_client()
    actor = await pubsub_client()
    await owner.create("n", CREATION[model])
    await owner.publish("n", "i1")
    if affiliation != "none":
        await owner.affiliate("n", actor.jid, affiliation)
    kind, payload = request(action, actor)

    error = expected(model, affiliation, action)

    if error is None:
        result = await actor.ok(kind, payload)
        if action == "retrieve":
            assert ids_in(result) == ["i1"]
        subscription = state_after_subscribe(model, affiliation)
        if action == "subscribe":
            assert find(result, "subscription").get("subscription") == subscription
        await check_effect(bridge, owner, actor, action, subscription)
    else:
        assert await bridge.refuses(actor, kind, payload) == error


#: A contact the owner's roster lets in: allowed what a member is, and nothing more.
CONTACT_ALLOWED = {"subscribe", "retrieve"}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("model", ("presence", "roster"))
async def test_contact_access(
    bridge: Bridge, pubsub_client: PubSubClientFactory, model: str, action: str
) -> None:
    """No affiliation, but a presence subscription to the owner (presence) or a place in
    an allowed group of the owner's roster (roster)."""
    await privileged(bridge)
    owner = await pubsub_client()
    actor = await pubsub_client()
    await owner.create("n", CREATION[model])
    await owner.publish("n", "i1")
    if model == "presence":
        await share_presence(bridge, owner, actor)
    else:
        await add_contact(owner, actor.jid, ["family", "friends"])
    kind, payload = request(action, actor)

    if action in CONTACT_ALLOWED:
        result = await actor.ok(kind, payload)
        if action == "retrieve":
            assert ids_in(result) == ["i1"]
        await check_effect(bridge, owner, actor, action, "subscribed")
    else:
        assert await bridge.refuses(actor, kind, payload) == FORBIDDEN


@pytest.mark.parametrize("action", ("subscribe", "retrieve"))
async def test_roster_contacts_outside_the_allowed_groups_stay_out(
    bridge: Bridge, pubsub_client: PubSubClientFactory, action: str
) -> None:
    """In the roster (even with a presence subscription), but in no allowed group."""
    await privileged(bridge)
    owner = await pubsub_client()
    actor = await pubsub_client()
    await owner.create("n", CREATION["roster"])
    await owner.publish("n", "i1")
    await share_presence(bridge, owner, actor)
    await add_contact(owner, actor.jid, ["colleagues"])
    kind, payload = request(action, actor)
    assert await bridge.refuses(actor, kind, payload) == NOT_IN_GROUP


def test_the_matrix_matches_the_xep_summary() -> None:
    """Spot checks of the table itself against XEP-0060 §4.1 prose."""
    assert expected("open", "none", "subscribe") is None
    assert expected("whitelist", "member", "retrieve") is None
    assert expected("whitelist", "none", "retrieve") == CLOSED
    assert expected("open", "outcast", "subscribe") == FORBIDDEN
    assert expected("open", "publish-only", "retrieve") == FORBIDDEN
    assert expected("whitelist", "publisher", "purge") is None
    assert expected("authorize", "none", "subscribe") is None
    assert expected("authorize", "none", "retrieve") == NOT_SUBSCRIBED
    assert expected("authorize", "member", "retrieve") is None
    assert expected("authorize", "outcast", "subscribe") == FORBIDDEN
    assert expected("presence", "none", "subscribe") == PRESENCE_REQUIRED
    assert expected("roster", "none", "retrieve") == NOT_IN_GROUP
    assert expected("roster", "member", "retrieve") is None
    assert expected("presence", "outcast", "retrieve") == FORBIDDEN
