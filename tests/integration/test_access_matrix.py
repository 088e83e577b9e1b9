"""Who may do what (XEP-0060 §4.1 table, §6.1.3, §6.5.9): every affiliation × action × access
model over real Prosody, the component and Redis.  Refusals carry the XEP's error and change
nothing in Redis; allowed actions take effect."""

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
from thoonk_xmpp.xmpp import ns

MODELS = ("open", "whitelist", "authorize")
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
#: An entity with no affiliation counts as a member on open nodes, as nobody on whitelist nodes;
#: on authorize nodes it may ask to subscribe (the subscription waits for an owner, §6.1.4).
NONE_ALLOWED = {"open": {"subscribe", "retrieve"}, "whitelist": set(), "authorize": {"subscribe"}}

FORBIDDEN = ("auth", "forbidden", None)
CLOSED = ("cancel", "not-allowed", "closed-node")
NOT_SUBSCRIBED = ("auth", "not-authorized", "not-subscribed")


def expected(model: str, affiliation: str, action: str) -> tuple[str, str, str | None] | None:
    """None when allowed, else the error the XEP asks for."""
    allowed = NONE_ALLOWED[model] if affiliation == "none" else ALLOWED[affiliation]
    if action in allowed:
        return None
    if model == "whitelist" and affiliation == "none" and action in ("subscribe", "retrieve"):
        return CLOSED  # §6.1.3.4, §6.5.9.8
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
    owner = await pubsub_client()
    actor = await pubsub_client()
    await owner.create("n", {"pubsub#access_model": model})
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
