"""The messages of job and queue nodes (xmpp/queue_messages.py), built without a server."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from slixmpp.xmlstream import tostring

from thoonk_xmpp.service.dispatch import Handing
from thoonk_xmpp.service.model import NotificationType
from thoonk_xmpp.xmpp import ns
from thoonk_xmpp.xmpp.notifications import EVENT_NS
from thoonk_xmpp.xmpp.queue_messages import QueueMessages, parse_handed_id

SERVICE = "pubsub.example.org"


def sent_by(limit: int = 512 * 1024, up: bool = True) -> tuple[QueueMessages, list[str]]:
    sent: list[str] = []
    messages = QueueMessages(
        sent.append, lambda: up, SERVICE, lambda e: str(tostring(e, xmlns=ns.STANZA)), limit
    )
    return messages, sent


def parsed(text: str) -> ET.Element:
    return ET.fromstring(f"<s xmlns='{ns.STANZA}'>{text}</s>")[0]


def test_an_item_goes_to_one_subscriber_with_an_id_naming_it() -> None:
    messages, sent = sent_by()
    handing = messages.hand("jobs", "w@x/r", "j1", b"<q xmlns='urn:t'/>", NotificationType.NORMAL)
    assert handing == Handing.SENT
    (message,) = [parsed(text) for text in sent]
    assert (message.get("to"), message.get("type")) == ("w@x/r", "normal")
    assert parse_handed_id(message.get("id", "")) == ("jobs", "j1")
    item = message.find(f"{{{EVENT_NS}}}event/{{{EVENT_NS}}}items/{{{EVENT_NS}}}item")
    assert item is not None and item.find("{urn:t}q") is not None


def test_nothing_is_handed_while_the_link_is_down() -> None:
    messages, sent = sent_by(up=False)
    handing = messages.hand("jobs", "w@x/r", "j1", b"x", NotificationType.NORMAL)
    assert handing == Handing.LINK_DOWN
    assert sent == []


def test_what_is_too_big_for_one_stanza_goes_without_it() -> None:
    messages, sent = sent_by(limit=10_000)
    big = b"<q xmlns='urn:t'>" + b"x" * 20_000 + b"</q>"
    assert messages.hand("jobs", "w@x/r", "j1", big, NotificationType.HEADLINE) == Handing.SENT
    messages.retracted("jobs", "p@x/r", "j1", big, NotificationType.HEADLINE)
    messages.retracted("jobs", "p@x/r", "j2", b"<a xmlns='urn:t'/>", NotificationType.HEADLINE)
    handed, told_big, told_small = (parsed(text) for text in sent)
    assert all(len(text.encode()) < 10_000 for text in sent)
    item = handed.find(f"{{{EVENT_NS}}}event/{{{EVENT_NS}}}items/{{{EVENT_NS}}}item")
    assert item is not None and item.get("id") == "j1" and len(item) == 0
    retract = f"{{{EVENT_NS}}}event/{{{EVENT_NS}}}items/{{{EVENT_NS}}}retract"
    bare = told_big.find(retract)
    assert bare is not None and bare.get("id") == "j1" and len(bare) == 0
    result = told_small.find(f"{retract}/{{{ns.JOB_RESULT}}}result/{{urn:t}}a")
    assert result is not None


def test_an_unlock_names_the_node_and_the_item() -> None:
    messages, sent = sent_by()
    messages.unlocked("jobs", "w@x/r", "j1")
    unlock = parsed(sent[0]).find(ns.tag(ns.QUEUEING, "unlock"))
    assert unlock is not None and (unlock.get("node"), unlock.get("id")) == ("jobs", "j1")


def test_a_result_is_measured_as_sent_base64_and_escaping_included() -> None:
    limit = 4096
    messages, sent = sent_by(limit=limit)
    # raw sizes well under the limit, rendered (base64: 4/3; "&" -> "&amp;") over it
    binary = bytes(range(256)) * 12
    escaped = b"a&" * 1200
    for number, result in enumerate((binary, escaped)):
        assert len(result) < limit
        messages.retracted("jobs", "p@x/r", f"j{number}", result, NotificationType.NORMAL)
    messages.retracted("jobs", "p@x/r", "j9", b"a&b", NotificationType.NORMAL)
    retract = f"{{{EVENT_NS}}}event/{{{EVENT_NS}}}items/{{{EVENT_NS}}}retract"
    for text in sent:
        assert len(text.encode()) <= limit
    *too_big, fitting = (parsed(text).find(retract) for text in sent)
    for number, told in enumerate(too_big):
        assert told is not None and told.get("id") == f"j{number}" and len(told) == 0
    assert fitting is not None and fitting.find(f"{{{ns.JOB_RESULT}}}result") is not None


def test_an_item_no_message_can_carry_is_unsendable() -> None:
    messages, sent = sent_by(limit=10_000)
    handing = messages.hand("jobs", "w@x/r", "j" * 10_000, b"x", NotificationType.NORMAL)
    assert handing == Handing.UNSENDABLE
    assert sent == []


def test_items_handed_at_once_go_in_one_items_event() -> None:
    messages, sent = sent_by()
    items = [("j1", b"<q xmlns='urn:t'>1</q>"), ("j&2", b""), ("j3", b"plain <text>")]
    assert messages.hand_together("jobs", "w@x/r", items, NotificationType.HEADLINE)
    (message,) = [parsed(text) for text in sent]
    assert (message.get("to"), message.get("type")) == ("w@x/r", "headline")
    assert parse_handed_id(message.get("id", "")) == ("jobs", "j1")
    (event_items,) = message.findall(f"{{{EVENT_NS}}}event/{{{EVENT_NS}}}items")
    assert event_items.get("node") == "jobs"
    got = event_items.findall(f"{{{EVENT_NS}}}item")
    assert [item.get("id") for item in got] == ["j1", "j&2", "j3"]
    first = got[0].find("{urn:t}q")
    assert first is not None and first.text == "1"
    assert len(got[1]) == 0
    assert "".join(got[2].itertext()) == "plain <text>"


def test_items_too_big_together_or_a_link_down_send_nothing_together() -> None:
    messages, sent = sent_by(limit=20_000)
    half = b"<q xmlns='urn:t'>" + b"x" * 6_000 + b"</q>"
    assert not messages.hand_together(
        "jobs", "w@x/r", [("j1", half), ("j2", half)], NotificationType.NORMAL
    )
    assert sent == []
    down, sent = sent_by(up=False)
    assert not down.hand_together(
        "jobs", "w@x/r", [("j1", b"x"), ("j2", b"y")], NotificationType.NORMAL
    )
    assert sent == []


def test_the_holder_is_told_of_the_jobs_it_finished_in_one_message() -> None:
    messages, sent = sent_by()
    messages.retracted_to_holder("jobs", "w@x/r", ["j1", "j2"], NotificationType.NORMAL)
    (message,) = [parsed(text) for text in sent]
    assert (message.get("to"), message.get("type")) == ("w@x/r", "normal")
    found = message.findall(f"{{{EVENT_NS}}}event/{{{EVENT_NS}}}items/{{{EVENT_NS}}}retract")
    assert [r.get("id") for r in found] == ["j1", "j2"]
