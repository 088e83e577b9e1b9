"""XEP-0060 §6.3-6.4 subscription options over real Prosody: the options form of a
subscription, setting it, subscribing with options, the default options, and every error
(each refusal leaves Redis as it was)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.integration.bridge_fixtures import (
    ON_BOTH_SERVERS,
    PUBSUB,
    Bridge,
    PubSubClientFactory,
    find,
    form,
    form_values,
    pubsub,
)
from thoonk_xmpp.xmpp import ns

SUBSCRIBE_OPTIONS = f"{PUBSUB}#subscribe_options"
ALL_SHOWS = ["away", "chat", "dnd", "online", "xa"]
DEFAULTS = {
    "FORM_TYPE": [SUBSCRIBE_OPTIONS],
    "pubsub#deliver": ["1"],
    "pubsub#digest": ["0"],
    "pubsub#digest_frequency": ["86400000"],
    "pubsub#include_body": ["0"],
    "pubsub#show-values": ALL_SHOWS,
    "pubsub#subscription_type": ["items"],
    "pubsub#expire": [],
}


def options_form(fields: dict[str, str | list[str]], kind: str = "submit") -> str:
    return form(SUBSCRIBE_OPTIONS, fields, kind)


def data_form(element: ET.Element) -> ET.Element:
    x = element.find(ns.tag(ns.DATA, "x"))
    assert x is not None, ET.tostring(element).decode()
    return x


@ON_BOTH_SERVERS
async def test_options_form_set_and_read_back(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")
    subid = find(await bob.subscribe("news"), "subscription").get("subid")

    result = await bob.ok("get", pubsub(f"<options node='news' jid='{bob.jid}'/>"))

    options = find(result, "options")
    assert options.attrib == {"node": "news", "jid": bob.jid, "subid": subid}
    x = data_form(options)
    assert x.get("type") == "form"
    assert form_values(x) == DEFAULTS
    types = {f.get("var"): f.get("type") for f in x.iter(ns.tag(ns.DATA, "field"))}
    assert types["pubsub#show-values"] == "list-multi"
    assert types["pubsub#deliver"] == "boolean"
    assert "pubsub#queue_requests" not in types  # not a queue node

    changes: dict[str, str | list[str]] = {
        "pubsub#include_body": "true",
        "pubsub#show-values": ["chat", "online"],
    }
    set_reply = await bob.ok(
        "set", pubsub(f"<options node='news' jid='{bob.jid}'>{options_form(changes)}</options>")
    )
    assert list(set_reply) == []  # §6.3.5: an empty result
    again = await bob.ok("get", pubsub(f"<options node='news' jid='{bob.jid}' subid='{subid}'/>"))
    assert form_values(data_form(find(again, "options"))) == {
        **DEFAULTS,
        "pubsub#include_body": ["1"],
        "pubsub#show-values": ["chat", "online"],
    }


@ON_BOTH_SERVERS
async def test_subscribe_with_options_answers_the_resulting_options(
    pubsub_client: PubSubClientFactory,
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    await alice.create("news")

    result = await bob.ok(
        "set",
        pubsub(
            f"<subscribe node='news' jid='{bob.jid}'/>"
            f"<options>{options_form({'pubsub#deliver': '0'})}</options>"
        ),
    )

    assert find(result, "subscription").get("subscription") == "subscribed"
    x = data_form(find(result, "options"))
    assert x.get("type") == "result"
    assert form_values(x) == {**DEFAULTS, "pubsub#deliver": ["0"]}
    read = await bob.ok("get", pubsub(f"<options node='news' jid='{bob.jid}'/>"))
    assert form_values(data_form(find(read, "options")))["pubsub#deliver"] == ["0"]


async def test_default_subscription_options(pubsub_client: PubSubClientFactory) -> None:
    alice = await pubsub_client()
    await alice.create("news")

    service_wide = await alice.ok("get", pubsub("<default/>"))
    of_node = await alice.ok("get", pubsub("<default node='news'/>"))

    assert find(service_wide, "default").attrib == {}
    assert find(of_node, "default").attrib == {"node": "news"}
    for reply in (service_wide, of_node):
        x = data_form(find(reply, "default"))
        assert x.get("type") == "result"
        assert form_values(x) == DEFAULTS
    error = await alice.fails("get", pubsub("<default node='nowhere'/>"))
    assert error == ("cancel", "item-not-found")


async def test_option_errors_change_nothing(
    bridge: Bridge, pubsub_client: PubSubClientFactory
) -> None:
    alice = await pubsub_client()
    bob = await pubsub_client()
    carol = await pubsub_client()
    await alice.create("news")
    await bob.ok("set", pubsub(f"<subscribe node='news' jid='{bob.full_jid}'/>"))
    await bob.ok("set", pubsub(f"<subscribe node='news' jid='{bob.jid}/other'/>"))
    await carol.subscribe("news")

    def options(jid: str, inner: str = "", node: str = "news", subid: str = "") -> str:
        extra = f" subid='{subid}'" if subid else ""
        return pubsub(f"<options node='{node}' jid='{jid}'{extra}>{inner}</options>")

    good = options_form({"pubsub#deliver": "0"})
    cases = [
        # §6.3.5 failure: a bad value, an unknown field
        (
            "set",
            options(carol.jid, options_form({"pubsub#digest_frequency": "often"})),
            ("modify", "bad-request", "invalid-options"),
        ),
        (
            "set",
            options(carol.jid, options_form({"pubsub#show-values": ["asleep"]})),
            ("modify", "bad-request", "invalid-options"),
        ),
        (
            "set",
            options(carol.jid, options_form({"pubsub#queue_requests": "2"})),
            ("modify", "bad-request", "invalid-options"),
        ),
        (
            "set",
            options(carol.jid, options_form({"pubsub#expire": "2001-01-01T00:00:00Z"})),
            ("modify", "bad-request", "invalid-options"),
        ),
        # §6.3.4.1 another entity's subscription
        ("get", options(bob.full_jid), ("auth", "forbidden")),
        ("set", options(bob.jid, good), ("auth", "forbidden")),
        # §6.3.4.2 not subscribed
        (
            "get",
            options(carol.jid + "/elsewhere"),
            ("cancel", "unexpected-request", "not-subscribed"),
        ),
        # §6.3.4.3 no JID
        ("get", pubsub("<options node='news'/>"), ("modify", "bad-request", "jid-required")),
        # §6.3.4.5 an invalid subid
        (
            "set",
            options(carol.jid, good, subid="nope"),
            ("modify", "not-acceptable", "invalid-subid"),
        ),
        # §6.3.4.7 no such node
        ("get", options(carol.jid, node="nowhere"), ("cancel", "item-not-found")),
        # a form is required to set options, and it must be of subscribe_options
        ("set", options(carol.jid), ("modify", "bad-request")),
        (
            "set",
            options(carol.jid, form(f"{PUBSUB}#node_config", {"pubsub#deliver": "0"})),
            ("modify", "bad-request"),
        ),
        # §6.3.7 the <options/> beside <subscribe/> names no other node or JID (XEP-0254's
        # examples repeat the subscribe's)
        (
            "set",
            pubsub(
                f"<subscribe node='news' jid='{carol.jid}/new'/><options node='other'>{good}</options>"
            ),
            ("modify", "bad-request"),
        ),
        (
            "set",
            pubsub(
                f"<subscribe node='news' jid='{carol.jid}/new'/>"
                f"<options node='news' jid='{carol.jid}'>{good}</options>"
            ),
            ("modify", "bad-request"),
        ),
        (
            "set",
            pubsub(
                f"<subscribe node='news' jid='{carol.jid}/new'/>"
                f"<options>{options_form({'pubsub#deliver': 'sometimes'})}</options>"
            ),
            ("modify", "bad-request", "invalid-options"),
        ),
    ]
    for kind, payload, expected in cases:
        assert await bridge.refuses(carol, kind, payload) == expected, payload
    # §6.3.4.4 bob's bare JID names two subscriptions (two resources): which one?
    for kind, inner in (("get", ""), ("set", good)):
        error = await bridge.refuses(bob, kind, options(bob.jid, inner))
        assert error == ("modify", "bad-request", "subid-required")
    await bob.ok("get", options(bob.full_jid))  # one of them by its own JID


@pytest.mark.parametrize("what", ["subscription-options", "retrieve-default-sub"])
async def test_the_features_are_advertised(pubsub_client: PubSubClientFactory, what: str) -> None:
    alice = await pubsub_client()
    result = await alice.ok("get", f"<query xmlns='{ns.DISCO_INFO}'/>")
    features = {f.get("var") for f in result.iter(ns.tag(ns.DISCO_INFO, "feature"))}
    assert f"{PUBSUB}#{what}" in features
