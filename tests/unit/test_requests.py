"""Every verb parsed from XML text into its typed request, and every malformed shape refused."""

from __future__ import annotations

import typing
import xml.etree.ElementTree as ET

import pytest

from thoonk_xmpp.service import errors as se
from thoonk_xmpp.service.model import Actor, Affiliation, SubscriptionState
from thoonk_xmpp.service.service import PageRequest
from thoonk_xmpp.xmpp import errors as xe
from thoonk_xmpp.xmpp import handlers, parsing
from thoonk_xmpp.xmpp.requests import (
    Create,
    Delete,
    DiscoInfo,
    DiscoItems,
    Envelope,
    GetAffiliations,
    GetConfig,
    GetDefault,
    GetItems,
    GetOptions,
    GetSubscribeDefault,
    GetSubscriptions,
    IqType,
    OwnAffiliations,
    OwnSubscriptions,
    Ping,
    Publish,
    PublishedItem,
    Purge,
    Request,
    Retract,
    SetAffiliations,
    SetConfig,
    SetOptions,
    SetSubscriptions,
    Subscribe,
    Unlock,
    Unsubscribe,
)

PS = "http://jabber.org/protocol/pubsub"
OWNER = "http://jabber.org/protocol/pubsub#owner"
RSM = "http://jabber.org/protocol/rsm"
DATA = "jabber:x:data"


QUEUEING = "urn:xmpp:pubsub:queueing:0"
JOB = "urn:thoonk-xmpp:job:0"


def iq(kind: str, payload: str, sender: str = "Alice@Example.org/phone") -> ET.Element:
    return ET.fromstring(
        f"<iq xmlns='jabber:component:accept' type='{kind}' id='q1' from='{sender}'"
        f" to='pubsub.example.org'>{payload}</iq>"
    )


def ps(inner: str) -> str:
    return f"<pubsub xmlns='{PS}'>{inner}</pubsub>"


def owner(inner: str) -> str:
    return f"<pubsub xmlns='{OWNER}'>{inner}</pubsub>"


def submit(form_type: str, fields: str = "", kind: str = "submit") -> str:
    hidden = f"<field var='FORM_TYPE' type='hidden'><value>{PS}#{form_type}</value></field>"
    return f"<x xmlns='{DATA}' type='{kind}'>{hidden}{fields}</x>"


def field(var: str, *values: str) -> str:
    return f"<field var='{var}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"


def parse(kind: str, payload: str) -> Request:
    return parsing.parse(iq(kind, payload))


# --- the table ---------------------------------------------------------------------------------


def test_every_verb_has_a_parser_a_request_class_and_a_handler() -> None:
    # one parser per verb (XEP-0254's unlock is registered for both iq types)
    parsers = list(dict.fromkeys(parsing.VERBS.values()))
    parsed = [typing.get_type_hints(parser)["return"] for parser in parsers]
    assert all(issubclass(kind, Request) for kind in parsed)
    assert len({kind.verb for kind in parsed}) == len(parsed) == len(set(parsed))
    assert set(handlers.HANDLERS) == set(parsed)


def test_envelope_normalises_the_sender_and_gives_the_bare_actor() -> None:
    envelope = parsing.envelope(iq("get", "<ping xmlns='urn:xmpp:ping'/>"))
    assert envelope == Envelope("q1", IqType.GET, "alice@example.org/phone", "pubsub.example.org")
    assert envelope.actor == Actor("alice@example.org")


# --- valid requests ----------------------------------------------------------------------------

CONFIG = submit("node_config", field("pubsub#max_items", "5") + field("pubsub#title", "News"))

VALID: list[tuple[str, str, Request]] = [
    ("get", "<ping xmlns='urn:xmpp:ping'/>", Ping()),
    ("get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", DiscoInfo(None)),
    ("get", "<query xmlns='http://jabber.org/protocol/disco#info' node='n'/>", DiscoInfo("n")),
    ("get", "<query xmlns='http://jabber.org/protocol/disco#items'/>", DiscoItems(None)),
    (
        "get",
        f"<query xmlns='http://jabber.org/protocol/disco#items' node='n'><set xmlns='{RSM}'>"
        "<max>2</max><after>a</after></set></query>",
        DiscoItems("n", PageRequest(max=2, after="a")),
    ),
    ("set", ps("<create node='n'/>"), Create("n")),
    ("set", ps("<create/>"), Create(None)),
    ("set", ps("<create node='n'/><configure/>"), Create("n")),
    (
        "set",
        ps(f"<create node='n'/><configure>{CONFIG}</configure>"),
        Create("n", {"pubsub#max_items": ["5"], "pubsub#title": ["News"]}),
    ),
    ("get", owner("<configure node='n'/>"), GetConfig("n")),
    (
        "set",
        owner(f"<configure node='n'>{CONFIG}</configure>"),
        SetConfig("n", {"pubsub#max_items": ["5"], "pubsub#title": ["News"]}),
    ),
    (
        "set",
        owner(f"<configure node='n'><x xmlns='{DATA}' type='cancel'/></configure>"),
        SetConfig("n", None),
    ),
    ("get", owner("<default/>"), GetDefault()),
    ("set", owner("<delete node='n'/>"), Delete("n")),
    (
        "set",
        owner("<delete node='n'><redirect uri='xmpp:pubsub.example.org?;node=m'/></delete>"),
        Delete("n", "xmpp:pubsub.example.org?;node=m"),
    ),
    ("set", owner("<purge node='n'/>"), Purge("n")),
    (
        "set",
        ps("<publish node='n'><item id='i1'><entry xmlns='urn:x'>hi</entry></item></publish>"),
        Publish("n", (PublishedItem("i1", b'<entry xmlns="urn:x">hi</entry>'),)),
    ),
    (
        "set",
        ps(
            "<publish node='n'><item><json xmlns='urn:xmpp:json:0'>[1]</json></item><item/></publish>"
        ),
        Publish("n", (PublishedItem(None, b"[1]"), PublishedItem(None, None))),
    ),
    ("set", ps("<publish node='n'/>"), Publish("n", ())),
    (
        "set",
        ps(
            "<publish node='n'><item id='i'/></publish><publish-options>"
            + submit("publish-options", field("pubsub#access_model", "open"))
            + "</publish-options>"
        ),
        Publish("n", (PublishedItem("i", None),), {"pubsub#access_model": ["open"]}),
    ),
    (
        "set",
        ps("<retract node='n'><item id='a'/><item id='b'/></retract>"),
        Retract("n", ("a", "b")),
    ),
    (
        "set",
        ps("<retract node='n' notify='true'><item id='a'/></retract>"),
        Retract("n", ("a",), True),
    ),
    (
        "set",
        ps("<retract node='n' notify='0'><item id='a'/></retract>"),
        Retract("n", ("a",), False),
    ),
    ("get", ps("<items node='n'/>"), GetItems("n")),
    ("get", ps("<items node='n' max_items='2'/>"), GetItems("n", max_items=2)),
    ("get", ps("<items node='n' subid='s1'/>"), GetItems("n", subid="s1")),
    ("get", ps("<items node='n'><item id='a'/><item id='b'/></items>"), GetItems("n", ("a", "b"))),
    (
        "get",
        ps(f"<items node='n'/><set xmlns='{RSM}'><max>10</max><before/></set>"),
        GetItems("n", page=PageRequest(max=10, before="")),
    ),
    (
        "get",
        ps(f"<items node='n'/><set xmlns='{RSM}'><max>3</max><index>4</index></set>"),
        GetItems("n", page=PageRequest(max=3, index=4)),
    ),
    (
        "get",
        ps(f"<items node='n'/><set xmlns='{RSM}'><before>z</before></set>"),
        GetItems("n", page=PageRequest(before="z")),
    ),
    (
        "set",
        ps("<subscribe node='n' jid='Alice@Example.org'/>"),
        Subscribe("n", "alice@example.org"),
    ),
    (
        "set",
        ps("<subscribe node='n' jid='alice@example.org/phone'/><options/>"),
        Subscribe("n", "alice@example.org/phone"),
    ),
    (
        "set",
        ps(
            "<subscribe node='n' jid='alice@example.org'/><options>"
            + submit("subscribe_options", field("pubsub#deliver", "0"))
            + "</options>"
        ),
        Subscribe("n", "alice@example.org", {"pubsub#deliver": ["0"]}),
    ),
    (  # XEP-0254 §Subscribing repeats the node and jid on the options
        "set",
        ps(
            "<subscribe node='n' jid='alice@example.org'/>"
            "<options node='n' jid='Alice@Example.org'>"
            + submit("subscribe_options", field("pubsub#queue_requests", "5"))
            + "</options>"
        ),
        Subscribe("n", "alice@example.org", {"pubsub#queue_requests": ["5"]}),
    ),
    (  # XEP-0254 unlock, inside <pubsub/> as the XEP shows it, or alone; get or set
        "get",
        ps(f"<unlock xmlns='{QUEUEING}' node='n'><item id='j1'/></unlock>"),
        Unlock("n", "j1"),
    ),
    ("set", f"<unlock xmlns='{QUEUEING}' node='n'><item id='j1'/></unlock>", Unlock("n", "j1")),
    (  # a worker's result inside the retract's item
        "set",
        ps(
            "<retract node='n'><item id='j1'>"
            f"<result xmlns='{JOB}'><a xmlns='urn:t'>42</a></result></item>"
            f"<item id='j2'><result xmlns='{JOB}'/></item><item id='j3'/></retract>"
        ),
        Retract("n", ("j1", "j2", "j3"), results=(("j1", b'<a xmlns="urn:t">42</a>'), ("j2", b""))),
    ),
    (
        "get",
        ps("<options node='n' jid='Alice@Example.org' subid='s1'/>"),
        GetOptions("n", "alice@example.org", "s1"),
    ),
    (
        "get",
        ps("<options node='n' jid='alice@example.org'/>"),
        GetOptions("n", "alice@example.org"),
    ),
    (
        "set",
        ps(
            "<options node='n' jid='alice@example.org'>"
            + submit("subscribe_options", field("pubsub#show-values", "online", "chat"))
            + "</options>"
        ),
        SetOptions("n", "alice@example.org", None, {"pubsub#show-values": ["online", "chat"]}),
    ),
    (
        "set",
        ps(
            "<options node='n' jid='alice@example.org' subid='s1'>"
            + submit("subscribe_options", kind="cancel")
            + "</options>"
        ),
        SetOptions("n", "alice@example.org", "s1", None),
    ),
    ("get", ps("<default/>"), GetSubscribeDefault()),
    ("get", ps("<default node='n'/>"), GetSubscribeDefault("n")),
    (
        "set",
        ps("<unsubscribe node='n' jid='alice@example.org' subid='s1'/>"),
        Unsubscribe("n", "alice@example.org", "s1"),
    ),
    (
        "set",
        ps("<unsubscribe node='n' jid='alice@example.org'/>"),
        Unsubscribe("n", "alice@example.org"),
    ),
    ("get", ps("<subscriptions/>"), OwnSubscriptions()),
    ("get", ps("<subscriptions node='n'/>"), OwnSubscriptions("n")),
    ("get", ps("<affiliations/>"), OwnAffiliations()),
    ("get", ps("<affiliations node='n'/>"), OwnAffiliations("n")),
    ("get", owner("<subscriptions node='n'/>"), GetSubscriptions("n")),
    (
        "set",
        owner(
            "<subscriptions node='n'><subscription jid='a@x.org' subscription='subscribed'/>"
            "<subscription jid='b@x.org' subscription='none' subid='s2'/>"
            "<subscription jid='c@x.org'/></subscriptions>"
        ),
        SetSubscriptions(
            "n",
            (
                ("a@x.org", SubscriptionState.SUBSCRIBED, None),
                ("b@x.org", SubscriptionState.NONE, "s2"),
            ),
        ),
    ),
    ("get", owner("<affiliations node='n'/>"), GetAffiliations("n")),
    (
        "set",
        owner(
            "<affiliations node='n'><affiliation jid='a@x.org' affiliation='publish-only'/>"
            "<affiliation jid='b@x.org' affiliation='none'/><affiliation jid='c@x.org'/>"
            "</affiliations>"
        ),
        SetAffiliations(
            "n", (("a@x.org", Affiliation.PUBLISH_ONLY), ("b@x.org", Affiliation.NONE))
        ),
    ),
]


@pytest.mark.parametrize(("kind", "payload", "expected"), VALID)
def test_valid_request_parses_to_its_typed_request(
    kind: str, payload: str, expected: Request
) -> None:
    assert parse(kind, payload) == expected


# --- malformed requests --------------------------------------------------------------------------

INVALID: list[tuple[str, str, type[Exception]]] = [
    ("get", "<query xmlns='urn:nobody'/>", xe.ServiceUnavailable),
    ("set", "<ping xmlns='urn:xmpp:ping'/>", xe.ServiceUnavailable),
    ("get", ps("<frobnicate/>"), xe.UnknownRequest),
    ("get", ps(""), xe.MalformedRequest),
    ("get", ps("<options jid='a@x.org'/>"), se.NodeIdRequired),
    ("get", ps("<options node='n'/>"), xe.JidRequired),
    ("set", ps("<options node='n' jid='a@x.org'/>"), xe.MalformedRequest),
    (
        "set",
        ps(f"<options node='n' jid='a@x.org'>{submit('node_config')}</options>"),
        xe.MalformedRequest,
    ),
    (
        "set",
        ps(
            "<subscribe node='n' jid='a@x.org'/>"
            f"<options node='other'>{submit('subscribe_options')}</options>"
        ),
        xe.MalformedRequest,
    ),
    (
        "set",
        ps(
            "<subscribe node='n' jid='a@x.org'/>"
            f"<options node='n' jid='b@x.org'>{submit('subscribe_options')}</options>"
        ),
        xe.MalformedRequest,
    ),
    (
        "set",
        ps(f"<options>{submit('subscribe_options')}</options><subscribe node='n' jid='a@x.org'/>"),
        xe.MalformedRequest,
    ),
    ("get", ps("<default type='collection'/>"), se.Unsupported),
    ("set", ps(f"<unlock xmlns='{QUEUEING}' node='n'/>"), xe.MalformedRequest),
    ("set", ps(f"<unlock xmlns='{QUEUEING}'><item id='a'/></unlock>"), se.NodeIdRequired),
    (
        "set",
        ps(f"<unlock xmlns='{QUEUEING}' node='n'><item id='a'/><item id='b'/></unlock>"),
        xe.MalformedRequest,
    ),
    (
        "set",
        ps(
            f"<retract node='n'><item id='a'><result xmlns='{JOB}'><x/><y/></result></item></retract>"
        ),
        se.InvalidPayload,
    ),
    ("get", owner("<default type='collection'/>"), se.Unsupported),
    ("get", ps("<publish node='n'/>"), xe.MalformedRequest),
    ("set", ps("<items node='n'/>"), xe.MalformedRequest),
    ("set", ps("<retract node='n'><item id='a'/></retract><purge node='n'/>"), xe.MalformedRequest),
    (
        "set",
        ps(f"<retract node='n'><item id='a'/></retract><purge xmlns='{OWNER}' node='n'/>"),
        xe.MalformedRequest,
    ),
    ("set", owner("<purge node='n'/><delete node='n'/>"), xe.MalformedRequest),
    ("get", ps("<items node='n'/><subscriptions/>"), xe.MalformedRequest),
    ("set", ps("<create node='n'/><configure node='n'/>"), xe.MalformedRequest),
    (
        "set",
        ps(f"<create node='n'/><configure>{submit('meta-data')}</configure>"),
        xe.MalformedRequest,
    ),
    (
        "set",
        ps(f"<create node='n'/><configure>{submit('node_config', kind='form')}</configure>"),
        xe.MalformedRequest,
    ),
    (
        "set",
        ps(f"<create/><configure><x xmlns='{DATA}' type='odd'/></configure>"),
        xe.MalformedRequest,
    ),
    (
        "set",
        ps(
            f"<create/><configure>{submit('node_config', field('a', '1') + field('a', '2'))}</configure>"
        ),
        xe.MalformedRequest,
    ),
    (
        "set",
        ps(f"<create/><configure><x xmlns='{DATA}' type='submit'><field/></x></configure>"),
        xe.MalformedRequest,
    ),
    ("get", owner("<configure/>"), se.NodeIdRequired),
    ("set", owner("<configure node='n'/>"), xe.MalformedRequest),
    ("set", owner("<delete/>"), se.NodeIdRequired),
    ("set", owner("<delete node='n'><redirect/></delete>"), xe.MalformedRequest),
    ("set", owner("<purge/>"), se.NodeIdRequired),
    ("set", ps("<publish><item/></publish>"), se.NodeIdRequired),
    ("set", ps("<publish node=''><item/></publish>"), se.NodeIdRequired),
    (
        "set",
        ps("<publish node='n'><item><a xmlns='urn:x'/><b xmlns='urn:x'/></item></publish>"),
        se.InvalidPayload,
    ),
    (
        "set",
        ps("<publish node='n'><item><json xmlns='urn:xmpp:json:0'>{nope</json></item></publish>"),
        se.InvalidPayload,
    ),
    (
        "set",
        ps(
            "<publish node='n'><item><data xmlns='urn:thoonk-xmpp:data:0' encoding='base64'>!!</data></item></publish>"
        ),
        se.InvalidPayload,
    ),
    (
        "set",
        ps("<publish node='n'/><publish-options>" + submit("node_config") + "</publish-options>"),
        xe.MalformedRequest,
    ),
    ("set", ps("<retract node='n'/>"), se.ItemRequired),
    ("set", ps("<retract node='n'><item/></retract>"), se.ItemRequired),
    ("set", ps("<retract><item id='a'/></retract>"), se.NodeIdRequired),
    ("set", ps("<retract node='n' notify='yes'><item id='a'/></retract>"), xe.MalformedRequest),
    ("get", ps("<items/>"), se.NodeIdRequired),
    ("get", ps("<items node='n'><item/></items>"), se.ItemRequired),
    ("get", ps("<items node='n' max_items='0'/>"), xe.MalformedRequest),
    ("get", ps("<items node='n' max_items='two'/>"), xe.MalformedRequest),
    ("get", ps(f"<items node='n'/><set xmlns='{RSM}'><max>-1</max></set>"), xe.MalformedRequest),
    ("get", ps(f"<items node='n'/><set xmlns='{RSM}'><index>x</index></set>"), xe.MalformedRequest),
    ("get", ps(f"<items node='n'/><set xmlns='{RSM}'><after/></set>"), xe.MalformedRequest),
    ("set", ps("<subscribe node='n'/>"), xe.JidRequired),
    ("set", ps("<subscribe jid='a@x.org'/>"), se.NodeIdRequired),
    ("set", ps("<subscribe node='n' jid='a@b@c'/>"), xe.MalformedJid),
    ("set", ps("<unsubscribe node='n'/>"), xe.JidRequired),
    ("set", ps("<unsubscribe node='n' jid='@x.org'/>"), xe.MalformedJid),
    ("set", ps(f"<subscribe node='n' jid='{'a' * 1024}@x.org'/>"), xe.MalformedJid),
    ("set", ps(f"<subscribe node='n' jid='a@x.org/{'r' * 3100}'/>"), xe.MalformedJid),
    ("get", owner("<subscriptions/>"), se.NodeIdRequired),
    (
        "set",
        owner("<subscriptions node='n'><subscription subscription='none'/></subscriptions>"),
        xe.JidRequired,
    ),
    (
        "set",
        owner(
            "<subscriptions node='n'><subscription jid='a@x.org' subscription='pending'/></subscriptions>"
        ),
        xe.MalformedRequest,
    ),
    ("get", owner("<affiliations/>"), se.NodeIdRequired),
    (
        "set",
        owner(
            "<affiliations node='n'><affiliation jid='a@x.org' affiliation='king'/></affiliations>"
        ),
        xe.MalformedRequest,
    ),
    (
        "set",
        owner(
            "<affiliations node='n'><affiliation jid='a@x.org' affiliation='member'/>"
            "<affiliation jid='A@x.org' affiliation='owner'/></affiliations>"
        ),
        xe.MalformedRequest,
    ),
]


@pytest.mark.parametrize(("kind", "payload", "error"), INVALID)
def test_malformed_request_raises_its_typed_error(
    kind: str, payload: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as raised:
        parse(kind, payload)
    assert isinstance(raised.value, se.PubSubError)


def test_an_iq_without_payload_is_malformed() -> None:
    with pytest.raises(xe.MalformedRequest):
        parsing.parse(iq("get", ""))


@pytest.mark.parametrize("kind", ["result", "error", "chat"])
def test_only_get_and_set_are_requests(kind: str) -> None:
    with pytest.raises(xe.MalformedRequest):
        parsing.envelope(iq(kind, "<ping xmlns='urn:xmpp:ping'/>"))


def test_a_sender_that_is_not_a_jid_is_refused() -> None:
    with pytest.raises(xe.MalformedJid):
        parsing.envelope(iq("get", "<ping xmlns='urn:xmpp:ping'/>", sender="a@b@c"))


def test_a_refused_jid_is_refused_every_time() -> None:
    for _ in range(2):  # not remembered as if it were good
        with pytest.raises(xe.MalformedJid):
            parsing.normalise_jid("a@b@c")
    assert parsing.normalise_jid("Alice@Example.ORG/Phone") == "alice@example.org/Phone"
