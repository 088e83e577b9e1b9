"""Event messages built from service events (XEP-0060 §7.1.2, §7.2.2.1, §8.2.5.4, §8.4.2, §8.5.2)."""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from slixmpp.xmlstream import tostring

from thoonk_xmpp.service.events import (
    Digest,
    Event,
    ItemMoved,
    ItemPublished,
    ItemRetracted,
    NodeConfigured,
    NodeDeleted,
    NodePurged,
    Recipient,
    SubscriptionChanged,
    SubscriptionRequested,
)
from thoonk_xmpp.service.model import AccessModel, NotificationType, SubscriptionState
from thoonk_xmpp.service.node_config import NodeConfig
from thoonk_xmpp.xmpp import payloads
from thoonk_xmpp.xmpp.multicast import ADDRESS_NS, Multicast
from thoonk_xmpp.xmpp.notifications import (
    DELAY_NS,
    EVENT_NS,
    POSITION_NS,
    SHIM_NS,
    STANZA_NS,
    Notifier,
    event_text,
    message_ids,
    messages,
    stamp,
)
from thoonk_xmpp.xmpp.queue_messages import handed_id, parse_handed_id

SERVICE = "pubsub.example.org"
E = f"{{{EVENT_NS}}}"
ALICE = Recipient("alice@example.org", ("s1",))
HEADLINE = NotificationType.HEADLINE


def parse(message: str) -> ET.Element:
    """One stanza text as it arrives inside the component stream."""
    (element,) = ET.fromstring(f"<stream xmlns='{STANZA_NS}'>{message}</stream>")
    return element


def parsed(event: Event, **options: Any) -> list[ET.Element]:
    return [parse(m) for m in messages(event, sender=SERVICE, **options)]


def build(event: Event, recipient: Recipient = ALICE) -> ET.Element:
    (message,) = parsed(dataclasses.replace(event, recipients=(recipient,)), ids=iter(["m1"]))
    return message


def text(element: ET.Element) -> str:
    return tostring(element, xmlns=STANZA_NS, top_level=True)


def published(payload: bytes | None) -> ItemPublished:
    return ItemPublished("news", (ALICE,), HEADLINE, "i1", payload)


# --- the message envelope -------------------------------------------------------------------


def test_envelope_is_a_component_message_from_the_service() -> None:
    message = build(published(b"<entry xmlns='urn:x'/>"))
    assert message.tag == f"{{{STANZA_NS}}}message"
    assert message.attrib == {
        "from": SERVICE,
        "to": "alice@example.org",
        "type": "headline",
        "id": "m1",
    }


def test_notification_type_normal_is_used() -> None:
    event = ItemPublished("news", (ALICE,), NotificationType.NORMAL, "i1", None)
    assert build(event).get("type") == "normal"


def test_federated_and_full_jids_are_addressed_verbatim() -> None:
    remote = Recipient("bob@elsewhere.example/phone", ("s9",))
    message = build(published(None), remote)
    assert message.get("to") == "bob@elsewhere.example/phone"
    assert message.get("from") == SERVICE


# --- items ----------------------------------------------------------------------------------


def test_xml_payload_is_sent_as_the_item_child() -> None:
    message = build(
        published(b"<entry xmlns='http://www.w3.org/2005/Atom'><title>Hi</title></entry>")
    )
    assert text(message) == (
        '<message from="pubsub.example.org" to="alice@example.org" type="headline" id="m1">'
        '<event xmlns="http://jabber.org/protocol/pubsub#event">'
        '<items node="news"><item id="i1">'
        '<entry xmlns="http://www.w3.org/2005/Atom"><title>Hi</title></entry>'
        "</item></items></event></message>"
    )


def test_json_payload_goes_in_the_xep0335_wrapper() -> None:
    item = build(published(b'{"a": [1, 2]}')).find(f"{E}event/{E}items/{E}item")
    assert item is not None
    (child,) = list(item)
    assert child.tag == payloads.JSON_TAG
    assert json.loads(child.text or "") == {"a": [1, 2]}


def test_text_payload_goes_in_the_data_wrapper() -> None:
    item = build(published("plain text ✓".encode())).find(f"{E}event/{E}items/{E}item")
    assert item is not None
    (child,) = list(item)
    assert child.tag == payloads.DATA_TAG
    assert child.text == "plain text ✓"


def test_no_payload_sends_an_empty_item() -> None:
    message = build(published(None))
    item = message.find(f"{E}event/{E}items/{E}item")
    assert item is not None
    assert item.attrib == {"id": "i1"}
    assert list(item) == []


def test_empty_payload_is_still_a_payload() -> None:
    item = build(published(b"")).find(f"{E}event/{E}items/{E}item")
    assert item is not None
    assert [child.tag for child in item] == [payloads.DATA_TAG]


# --- retract, purge, delete, configuration ----------------------------------------------------


def test_retract() -> None:
    message = build(ItemRetracted("news", (ALICE,), HEADLINE, "i7"))
    assert text(message).endswith(
        '<event xmlns="http://jabber.org/protocol/pubsub#event">'
        '<items node="news"><retract id="i7" /></items></event></message>'
    )


def test_purge_is_one_empty_element() -> None:
    message = build(NodePurged("news", (ALICE,), HEADLINE))
    assert text(message).endswith(
        '<event xmlns="http://jabber.org/protocol/pubsub#event"><purge node="news" /></event></message>'
    )


def test_delete_with_redirect() -> None:
    event = NodeDeleted("news", (ALICE,), HEADLINE, "xmpp:pubsub.example.org?;node=blog")
    deleted = build(event).find(f"{E}event/{E}delete")
    assert deleted is not None
    assert deleted.get("node") == "news"
    redirect = deleted.find(f"{E}redirect")
    assert redirect is not None
    assert redirect.attrib == {"uri": "xmpp:pubsub.example.org?;node=blog"}


def test_delete_without_redirect() -> None:
    deleted = build(NodeDeleted("news", (ALICE,), HEADLINE, None)).find(f"{E}event/{E}delete")
    assert deleted is not None
    assert list(deleted) == []


def test_configuration_without_payloads_is_empty() -> None:
    configuration = build(NodeConfigured("news", (ALICE,), HEADLINE, None)).find(
        f"{E}event/{E}configuration"
    )
    assert configuration is not None
    assert configuration.get("node") == "news"
    assert list(configuration) == []


def test_configuration_with_payloads_carries_the_node_config_form() -> None:
    config = NodeConfig(title="News", max_items=5, access_model=AccessModel.WHITELIST)
    configuration = build(NodeConfigured("news", (ALICE,), HEADLINE, config)).find(
        f"{E}event/{E}configuration"
    )
    assert configuration is not None
    (form,) = list(configuration)
    assert form.tag == "{jabber:x:data}x"
    assert form.get("type") == "result"
    values = {
        field.get("var"): [v.text or "" for v in field.findall("{jabber:x:data}value")]
        for field in form.findall("{jabber:x:data}field")
    }
    assert values["FORM_TYPE"] == ["http://jabber.org/protocol/pubsub#node_config"]
    assert values["pubsub#title"] == ["News"]
    assert values["pubsub#max_items"] == ["5"]
    assert values["pubsub#access_model"] == ["whitelist"]
    assert values["pubsub#deliver_payloads"] == ["1"]


# --- SHIM headers and delay -------------------------------------------------------------------


def test_one_subscription_has_no_headers() -> None:
    assert build(published(None)).find(f"{{{SHIM_NS}}}headers") is None


def test_several_subscriptions_get_subid_headers_last() -> None:
    twice = Recipient("alice@example.org", ("123-abc", "004-yyy"))
    message = build(ItemRetracted("news", (twice,), HEADLINE, "i1"), twice)
    last = list(message)[-1]
    assert last.tag == f"{{{SHIM_NS}}}headers"
    assert [(h.get("name"), h.text) for h in last] == [("SubID", "123-abc"), ("SubID", "004-yyy")]


def test_replayed_item_is_stamped_and_headers_stay_last() -> None:
    twice = Recipient("alice@example.org", ("a", "b"))
    event = ItemPublished("news", (twice,), HEADLINE, "i1", b"x", replay=True)
    moment = datetime.datetime(2003, 12, 13, 23, 58, 37, tzinfo=datetime.UTC)
    (message,) = parsed(event, ids=iter(["m"]), now=moment)
    tags = [child.tag for child in message]
    assert tags == [f"{E}event", f"{{{DELAY_NS}}}delay", f"{{{SHIM_NS}}}headers"]
    delay = message.find(f"{{{DELAY_NS}}}delay")
    assert delay is not None
    assert delay.attrib == {"from": SERVICE, "stamp": "2003-12-13T23:58:37Z"}


def test_replay_is_stamped_with_the_publication_time() -> None:
    alice = Recipient("alice@example.org", ("a",))
    published = 1_071_359_917_250  # 2003-12-13T23:58:37.250Z in epoch ms
    event = ItemPublished(
        "news", (alice,), HEADLINE, "i1", b"x", replay=True, published_ms=published
    )
    later = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    (message,) = parsed(event, ids=iter(["m"]), now=later)
    delay = message.find(f"{{{DELAY_NS}}}delay")
    assert delay is not None
    assert delay.get("stamp", "").startswith("2003-12-13T23:58:37")


def test_live_items_are_not_stamped() -> None:
    (message,) = parsed(published(b"x"), ids=iter(["m"]))
    assert message.find(f"{{{DELAY_NS}}}delay") is None


def test_stamp_format() -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    assert stamp(datetime.datetime(2020, 1, 2, 5, 4, 5, tzinfo=plus_two)) == "2020-01-02T03:04:05Z"
    assert (
        stamp(datetime.datetime(2020, 1, 2, 3, 4, 5, 250_000, tzinfo=datetime.UTC))
        == "2020-01-02T03:04:05.250Z"
    )


# --- fan-out --------------------------------------------------------------------------------


def test_one_message_per_recipient_with_unique_ids() -> None:
    recipients = tuple(Recipient(f"u{n}@example.org", (f"s{n}",)) for n in range(5))
    event = ItemPublished("news", recipients, HEADLINE, "i1", b"<p xmlns='urn:p'/>")
    built = parsed(event, ids=message_ids())
    assert [m.get("to") for m in built] == [r.jid for r in recipients]
    assert len({m.get("id") for m in built}) == 5


def test_message_ids_differ_between_generators() -> None:
    first = set(itertools.islice(message_ids(), 100))
    second = set(itertools.islice(message_ids(), 100))
    assert len(first) == 100
    assert not first & second


def test_unknown_event_kind_is_refused() -> None:
    with pytest.raises(TypeError):
        build(Event("news", (ALICE,), HEADLINE))


async def test_notifier_sends_every_message_in_order() -> None:
    writes: list[list[str]] = []
    notifier = Notifier(writes.append, SERVICE)
    recipients = tuple(Recipient(f"u{n}@example.org", (f"s{n}",)) for n in range(1000))
    await notifier.deliver(NodePurged("news", recipients, HEADLINE))
    await notifier.deliver(ItemRetracted("news", recipients[:1], HEADLINE, "x"))
    assert [len(batch) for batch in writes] == [256, 256, 256, 232, 1]
    sent = [parse(message) for batch in writes for message in batch]
    assert len(sent) == 1001
    assert [m.get("to") for m in sent[:1000]] == [r.jid for r in recipients]
    assert all(m.get("from") == SERVICE for m in sent)
    assert len({m.get("id") for m in sent}) == 1001
    assert sent[-1].find(f"{E}event/{E}items/{E}retract") is not None


def test_addresses_and_ids_are_escaped() -> None:
    odd = Recipient("alice@example.org/a \"quoted\" <&> 'res'", ("s1",))
    message = build(published(b"x"), odd)
    assert message.get("to") == odd.jid
    (sent,) = messages(published(b"x"), sender="p&s.example.org", ids=iter(['m"1']))
    assert parse(sent).get("from") == "p&s.example.org"
    assert parse(sent).get("id") == 'm"1'


# --- payload text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        b"<p xmlns='urn:p'><q>hi &amp; bye</q></p>",
        b"  <x:a xmlns:x='urn:x' xmlns='urn:y'><b x:at='1'/></x:a>\n",
    ],
)
def test_self_contained_xml_payload_is_sent_as_stored(stored: bytes) -> None:
    assert payloads.to_xml(stored, EVENT_NS) == stored.strip().decode()


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        # no declaration, comment or DTD may reach the stream
        (b"<?xml version='1.0'?><p xmlns='urn:p'/>", '<p xmlns="urn:p" />'),
        (b"<p xmlns='urn:p'><!-- note --><q/></p>", '<p xmlns="urn:p"><q /></p>'),
        # elements without a namespace must not fall into the event's namespace
        (b"<p>plain</p>", '<p xmlns="">plain</p>'),
        (b"<x:a xmlns:x='urn:x'><b/></x:a>", '<a xmlns="urn:x"><b xmlns="" /></a>'),
    ],
)
def test_other_xml_payloads_are_rebuilt(stored: bytes, expected: str) -> None:
    assert payloads.to_xml(stored, EVENT_NS) == expected


def test_payload_text_keeps_every_element_in_its_namespace() -> None:
    stored = b"<x:a xmlns:x='urn:x'><b/><x:c/></x:a>"
    item = build(published(stored)).find(f"{E}event/{E}items/{E}item")
    assert item is not None
    (payload,) = list(item)
    assert [element.tag for element in payload.iter()] == ["{urn:x}a", "b", "{urn:x}c"]


def test_xml_in_another_encoding_is_rebuilt_never_sent_with_nul_bytes() -> None:
    stored = "<a xmlns='urn:u'><!-- hidden --><b/></a>".encode("utf-16-le")
    text = payloads.to_xml(stored, EVENT_NS)
    assert "\0" not in text
    assert text == '<a xmlns="urn:u"><b /></a>'


@pytest.mark.parametrize(
    ("position", "attrs"),
    [
        ("begin:", {"at": "start"}),
        (":end", {"at": "end"}),
        (":b", {"before": "b"}),
        ("b:", {"after": "b"}),
        (":a:b", {"before": "a:b"}),
    ],
)
def test_item_moved_is_an_item_with_its_position(position: str, attrs: dict[str, str]) -> None:
    message = build(ItemMoved("n", (), HEADLINE, "x", position))
    (items,) = message.iter(f"{E}items")
    assert items.get("node") == "n"
    (item,) = items
    assert (item.tag, item.get("id")) == (f"{E}item", "x")
    (element,) = item
    assert element.tag == f"{{{POSITION_NS}}}position"
    assert element.attrib == attrs


def test_an_item_too_big_for_the_stanza_limit_is_sent_without_its_payload() -> None:
    big = b"<big xmlns='urn:t'>" + b"x" * 600_000 + b"</big>"
    event = ItemPublished("news", (ALICE,), HEADLINE, "huge", big)
    small = dataclasses.replace(event, item_id="fits", payload=b"<small xmlns='urn:t'/>")

    (cut,) = messages(event, sender=SERVICE, ids=iter(["m1"]), max_stanza_size=512 * 1024)
    (kept,) = messages(small, sender=SERVICE, ids=iter(["m2"]), max_stanza_size=512 * 1024)

    assert len(cut.encode()) < 1000
    item = parse(cut).find(f"{E}event/{E}items/{E}item")
    assert item is not None and item.get("id") == "huge" and list(item) == []
    assert "<small" in kept
    (unlimited,) = messages(event, sender=SERVICE, ids=iter(["m3"]))
    assert len(unlimited) > 600_000


def test_the_notifier_keeps_to_its_limit() -> None:
    sent: list[str] = []
    notifier = Notifier(sent.extend, SERVICE, max_stanza_size=20_000)
    payload = b"<p xmlns='urn:t'>" + b"y" * 15_000 + b"</p>"

    assert notifier.deliver_now(ItemPublished("news", (ALICE,), HEADLINE, "a", payload))

    assert len(sent) == 1 and "yyy" not in sent[0]


# --- XEP-0033 multicast ---------------------------------------------------------------------


def test_multicast_sends_one_message_per_group_of_local_single_subscription_recipients() -> None:
    local = [Recipient(f"u{n}@example.org", (f"s{n}",)) for n in range(5)]
    twice = Recipient("two@example.org", ("a", "b"))  # its SubID headers are its own
    remote = Recipient("bob@elsewhere.example", ("r",))
    event = dataclasses.replace(published(b"<x xmlns='t'/>"), recipients=(*local, twice, remote))
    through = Multicast("multicast.example.org", "example.org", limit=2)
    sent = parsed(event, ids=map(str, itertools.count()), multicast=through)
    assert [m.get("to") for m in sent] == ["multicast.example.org"] * 3 + [
        "two@example.org",
        "bob@elsewhere.example",
    ]
    groups = [[a.get("jid") for a in m.iter(f"{{{ADDRESS_NS}}}address")] for m in sent[:3]]
    assert groups == [
        ["u0@example.org", "u1@example.org"],
        ["u2@example.org", "u3@example.org"],
        ["u4@example.org"],
    ]
    assert all(a.get("type") == "bcc" for m in sent[:3] for a in m.iter(f"{{{ADDRESS_NS}}}address"))
    # every copy carries the same event
    assert {text(m.find(f"{E}event")) for m in sent} == {text(sent[0].find(f"{E}event"))}
    # one recipient alone is sent directly
    alone = dataclasses.replace(event, recipients=(local[0],))
    assert [
        m.get("to") for m in parsed(alone, ids=map(str, itertools.count()), multicast=through)
    ] == ["u0@example.org"]


def test_a_configuration_too_big_goes_without_its_form_and_a_giant_name_not_at_all() -> None:
    config = NodeConfig(title="t" * 600_000)
    event = NodeConfigured("news", (ALICE,), HEADLINE, config)

    (message,) = messages(event, sender=SERVICE, ids=iter(["m1"]), max_stanza_size=512 * 1024)

    configuration = parse(message).find(f"{E}event/{E}configuration")
    assert configuration is not None and list(configuration) == []
    giant = NodeConfigured("n" * 600_000, (ALICE,), HEADLINE, None)
    assert list(messages(giant, sender=SERVICE, ids=iter(["m2"]), max_stanza_size=512 * 1024)) == []


def test_a_queue_delivery_s_message_id_names_its_node_and_item() -> None:
    for node, item in (("jobs", "j1"), ("a.b/c d", "ünï.code"), ("n", "x" * 40)):
        assert parse_handed_id(handed_id(node, item, 7)) == (node, item)
    for other in ("abc-1", "q.", "q.a.b", "q.!!.b.1", "q.a.b.c.d"):
        assert parse_handed_id(other) is None


# --- subscriptions (§8.6, §12.6) ---------------------------------------------------------------


def test_subscription_change_is_a_subscription_event() -> None:
    change = SubscriptionChanged(
        "news", (ALICE,), NotificationType.NORMAL, "bob@x/r", "s9", SubscriptionState.SUBSCRIBED
    )
    message = build(change)
    assert message.get("type") == "normal"
    (event,) = message
    (sub,) = event
    assert sub.tag == f"{E}subscription"
    assert sub.attrib == {
        "node": "news",
        "jid": "bob@x/r",
        "subscription": "subscribed",
        "subid": "s9",
    }


def test_subscription_request_is_the_authorization_form() -> None:
    request = SubscriptionRequested("news", (ALICE,), NotificationType.NORMAL, "bob@x/r", "s9")
    message = build(request)
    (x,) = message
    data = "{jabber:x:data}"
    assert (x.tag, x.get("type")) == (f"{data}x", "form")
    assert x.findtext(f"{data}title")
    values = {
        f.get("var"): (f.get("type"), [v.text for v in f.findall(f"{data}value")])
        for f in x.findall(f"{data}field")
    }
    assert values == {
        "FORM_TYPE": ("hidden", ["http://jabber.org/protocol/pubsub#subscribe_authorization"]),
        "pubsub#subid": ("hidden", ["s9"]),
        "pubsub#node": ("text-single", ["news"]),
        "pubsub#subscriber_jid": ("jid-single", ["bob@x/r"]),
        "pubsub#allow": ("boolean", ["false"]),
    }


LIMIT = 512 * 1024
NODE_200 = "n" * 200


def _digest(ids: list[str], node: str = NODE_200) -> Digest:
    reader = Recipient("reader@example.org", ("r",), body=True)
    items = tuple(ItemPublished(node, (), HEADLINE, i, None) for i in ids)
    return Digest(node, (ALICE, reader), HEADLINE, items)


def test_a_digest_body_too_big_for_the_stanza_limit_becomes_a_summary() -> None:
    digest = _digest([f"{n:04d}" + "i" * 150 for n in range(1000)])

    sent = list(messages(digest, sender=SERVICE, ids=iter(["m1", "m2"]), max_stanza_size=LIMIT))

    assert all(len(m.encode()) <= LIMIT for m in sent)
    plain, with_body = (parse(m) for m in sent)
    assert plain.find(f"{{{STANZA_NS}}}body") is None
    body = with_body.find(f"{{{STANZA_NS}}}body")
    assert body is not None and body.text == f"1000 events on node {NODE_200}"
    assert len(list(with_body.iter(f"{E}item"))) == 1000


def test_a_digest_body_is_kept_whole_when_it_fits_and_dropped_when_nothing_fits() -> None:
    (_, small) = parsed(_digest(["a", "b"]), ids=iter(["m1", "m2"]), max_stanza_size=LIMIT)
    body = small.find(f"{{{STANZA_NS}}}body")
    assert (
        body is not None
        and body.text == f"New item a on node {NODE_200}\nNew item b on node {NODE_200}"
    )

    # the events alone fill the room but for a few bytes: not even the summary fits
    ids = [f"{n:04d}" + "i" * 150 for n in range(1000)]
    room = LIMIT - 8192 - len(event_text(_digest(ids)))
    ids[-1] += "i" * (room - 50)
    sent = list(
        messages(_digest(ids), sender=SERVICE, ids=iter(["m1", "m2"]), max_stanza_size=LIMIT)
    )
    assert all(len(m.encode()) <= LIMIT for m in sent)
    assert [parse(m).find(f"{{{STANZA_NS}}}body") for m in sent] == [None, None]
    assert len(list(parse(sent[1]).iter(f"{E}item"))) == 1000


def test_a_node_s_multicast_groups_follow_its_new_recipients_and_service() -> None:
    sent: list[str] = []
    notifier = Notifier(sent.extend, SERVICE)
    notifier.multicast = Multicast("multicast.example.org", "example.org", limit=10)
    first = tuple(Recipient(f"u{n}@example.org", (f"s{n}",)) for n in range(3))

    def addressed(recipients: tuple[Recipient, ...]) -> list[tuple[str | None, list[str | None]]]:
        sent.clear()
        assert notifier.deliver_now(dataclasses.replace(published(None), recipients=recipients))
        return [
            (m.get("to"), [a.get("jid") for a in m.iter(f"{{{ADDRESS_NS}}}address")])
            for m in map(parse, sent)
        ]

    everyone = ["u0@example.org", "u1@example.org", "u2@example.org"]
    assert addressed(first) == [("multicast.example.org", everyone)]
    assert addressed(first) == [("multicast.example.org", everyone)]  # kept: the same
    joined = (*first, Recipient("new@example.org", ("s9",)))  # a subscription more: a new tuple
    assert addressed(joined) == [("multicast.example.org", [*everyone, "new@example.org"])]
    left = first[:2]
    assert addressed(left) == [("multicast.example.org", everyone[:2])]
    assert addressed(first[:1]) == [("u0@example.org", [])]
    assert addressed(left) == [("multicast.example.org", everyone[:2])]
    notifier.multicast = Multicast("mc2.example.org", "example.org", limit=1)  # a new service
    assert addressed(left) == [
        ("mc2.example.org", ["u0@example.org"]),
        ("mc2.example.org", ["u1@example.org"]),
    ]
