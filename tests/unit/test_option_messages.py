"""Messages shaped by subscription options: a text body, one message per digest, the
notification of a subscription a lease ended."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from thoonk_xmpp.service.events import (
    Digest,
    Event,
    ItemPublished,
    ItemRetracted,
    NodePurged,
    Recipient,
    SubscriptionChanged,
)
from thoonk_xmpp.service.model import NotificationType, SubscriptionState
from thoonk_xmpp.xmpp.multicast import Multicast
from thoonk_xmpp.xmpp.notifications import EVENT_NS, STANZA_NS, messages

SERVICE = "pubsub.example.org"
E = f"{{{EVENT_NS}}}"
HEADLINE = NotificationType.HEADLINE
PLAIN = Recipient("alice@example.org", ("s1",))
WITH_BODY = Recipient("bob@example.org", ("s2",), body=True)
OTHER = Recipient("carol@example.org", ("s3",))


def sent(event: Event, multicast: Multicast | None = None) -> list[ET.Element]:
    texts = messages(
        event,
        sender=SERVICE,
        ids=map(str, itertools.count()),
        multicast=multicast,
    )
    return [ET.fromstring(f"<s xmlns='{STANZA_NS}'>{text}</s>")[0] for text in texts]


def test_only_include_body_recipients_get_a_body_and_never_through_multicast() -> None:
    event = ItemPublished("n<&>", (PLAIN, WITH_BODY, OTHER), HEADLINE, "i1", b"<x xmlns='u'/>")
    through = Multicast("multicast.example.org", "example.org", limit=10)
    found = sent(event, through)
    bodies = {m.get("to"): m.findtext(f"{{{STANZA_NS}}}body") for m in found}
    assert bodies == {
        "multicast.example.org": None,
        "bob@example.org": "New item i1 on node n<&>",
    }
    for message in found:  # the event is there whatever else is
        assert [i.get("id") for i in message.iter(f"{E}item")] == ["i1"]


def test_a_digest_is_one_message_of_several_events() -> None:
    digest = Digest(
        "n",
        (WITH_BODY,),
        HEADLINE,
        (
            ItemPublished("n", (), HEADLINE, "a", b"<x xmlns='u'/>"),
            ItemRetracted("n", (), HEADLINE, "a"),
            NodePurged("n", (), HEADLINE),
        ),
    )
    (message,) = sent(digest)
    events = message.findall(f"{E}event")
    assert [next(iter(e)).tag for e in events] == [f"{E}items", f"{E}items", f"{E}purge"]
    assert message.findtext(f"{{{STANZA_NS}}}body") == (
        "New item a on node n\nItem a retracted from node n\nNode n purged"
    )


def test_an_ended_subscription_is_told_as_a_subscription_event() -> None:
    ended = SubscriptionChanged("n", (PLAIN,), HEADLINE, PLAIN.jid, "s1", SubscriptionState.NONE)
    (message,) = sent(ended)
    subscription = message.find(f"{E}event/{E}subscription")
    assert subscription is not None
    assert subscription.attrib == {
        "node": "n",
        "jid": "alice@example.org",
        "subid": "s1",
        "subscription": "none",
    }
