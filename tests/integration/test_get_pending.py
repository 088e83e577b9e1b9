"""XEP-0060 §8.7: the ``get-pending`` ad-hoc command sends an owner the authorization forms of
a node's waiting subscription requests again (real Prosody, Redis)."""

from __future__ import annotations

from tests.integration.bridge_fixtures import (
    DATA,
    Bridge,
    PubSubClientFactory,
    find,
    form_values,
)
from tests.integration.test_adhoc import command, error_of, started, submit
from tests.integration.test_authorize import answer, approval, listed, pending_request
from thoonk_xmpp.xmpp import ns

GET_PENDING = f"{ns.PUBSUB}#get-pending"


async def test_the_owner_gets_the_forms_again_and_answers_one(
    pubsub_client: PubSubClientFactory,
) -> None:
    owner = await pubsub_client()
    alice = await pubsub_client()
    bob = await pubsub_client()
    inbox, _ = await pending_request(owner, alice)
    await bob.subscribe("n")
    await inbox.next()  # bob's request, as it was made
    await owner.create("quiet")

    sessionid, x = await started(owner, GET_PENDING)
    field = find(x, "field", DATA)
    assert field.get("var") == "pubsub#node"
    options = [v.text for v in field.iter(ns.tag(DATA, "value"))]
    assert options == ["n", "quiet"]  # the nodes the owner may approve requests of
    done = await owner.ok(
        "set", command(GET_PENDING, "complete", sessionid, submit({"pubsub#node": "n"}))
    )

    assert done.get("status") == "completed"
    sent = [form_values(find(await inbox.next(), "x", DATA)) for _ in range(2)]
    assert sorted(v["pubsub#subscriber_jid"][0] for v in sent) == sorted([alice.jid, bob.jid])
    alices = next(v for v in sent if v["pubsub#subscriber_jid"] == [alice.jid])
    answer(owner, approval("n", alice.jid, alices["pubsub#subid"][0]))
    assert (
        find(await alice.next_event(), "event/subscription", f"{ns.PUBSUB}#event").get(
            "subscription"
        )
        == "subscribed"
    )
    assert sorted(await listed(owner, "n")) == sorted(
        [(alice.jid, "subscribed"), (bob.jid, "pending")]
    )


async def test_only_owners_may_get_pending_requests(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    owner = await pubsub_client()
    stranger = await pubsub_client()
    await pending_request(owner, stranger)
    before = await bridge.state()

    reply = await stranger.send("set", command(GET_PENDING))
    assert error_of(reply)[:2] == ("cancel", "forbidden")  # §8.7.3.3
    items = await stranger.ok("get", f"<query xmlns='{ns.DISCO_ITEMS}' node='{ns.COMMANDS}'/>")
    assert GET_PENDING not in {i.get("node") for i in items}
    sessionid, _ = await started(owner, GET_PENDING)
    refused = await owner.send(
        "set", command(GET_PENDING, "complete", sessionid, submit({"pubsub#node": "nope"}))
    )

    assert error_of(refused)[:2] == ("modify", "bad-request")
    assert {k: v for k, v in (await bridge.state()).items() if b"adhoc" not in k} == {
        k: v for k, v in before.items() if b"adhoc" not in k
    }
