"""Reading the XEP-0356 advertisement (both namespaces in use) and roster answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from thoonk_xmpp.service.privilege import Grants, RosterItem, RosterUnavailable
from thoonk_xmpp.xmpp.privilege import is_advertisement, read_grants, read_roster, server_domains

STREAM = "jabber:component:accept"
SERVERS = server_domains("pubsub.example.org", {"example.net"})


def stanza(text: str) -> ET.Element:
    return ET.fromstring(
        text.replace("<message ", f"<message xmlns='{STREAM}' ", 1).replace(
            "<iq ", f"<iq xmlns='{STREAM}' ", 1
        )
    )


@pytest.mark.parametrize("version", ["1", "2"])
def test_the_advertisement_in_either_namespace(version: str) -> None:
    message = stanza(
        "<message from='example.org' to='pubsub.example.org'>"
        f"<privilege xmlns='urn:xmpp:privilege:{version}'>"
        "<perm access='roster' type='both'/><perm access='presence' type='roster'/>"
        "<perm access='message' type='none'/></privilege></message>"
    )
    assert read_grants(message, SERVERS) == (
        "example.org",
        Grants(roster="both", presence="roster"),
    )


def test_other_messages_are_not_advertisements() -> None:
    body = stanza("<message from='a@example.org'><body>hi</body></message>")
    assert read_grants(body, SERVERS) is None
    assert not is_advertisement(body)
    other = "<message from='example.org'><privilege xmlns='urn:xmpp:privilege:0'/></message>"
    assert read_grants(stanza(other), SERVERS) is None
    assert read_grants(stanza("<iq from='example.org' type='get' id='1'/>"), SERVERS) is None


def test_the_servers_are_the_parent_and_local_domains() -> None:
    assert server_domains("pubsub.example.org", {"example.net"}) == {"example.org", "example.net"}
    assert server_domains("pubsub", set()) == frozenset()


@pytest.mark.parametrize(
    "sender",
    [
        "mallory@example.org/x",  # a user of our server
        "example.org/x",
        "mallory@example.org",
        "remote.example",  # another server, over s2s
        "pubsub.example.org",
        "",
    ],
)
def test_an_advertisement_from_anyone_but_our_server_is_ignored(sender: str) -> None:
    forged = stanza(
        f"<message from='{sender}' to='pubsub.example.org'>"
        "<privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='get'/>"
        "<perm access='presence' type='roster'/></privilege></message>"
    )
    assert read_grants(forged, SERVERS) is None
    assert is_advertisement(forged)  # dropped by the component, not passed on


def test_an_advertisement_from_a_local_domain_counts() -> None:
    message = stanza(
        "<message from='Example.NET' to='pubsub.example.org'>"
        "<privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='get'/>"
        "</privilege></message>"
    )
    assert read_grants(message, SERVERS) == ("example.net", Grants(roster="get"))


def test_a_roster_answer() -> None:
    answer = stanza(
        "<iq type='result' id='q' from='owner@example.org'>"
        "<query xmlns='jabber:iq:roster'>"
        "<item jid='a@example.org' subscription='both'><group>friends</group>"
        "<group>family</group></item>"
        "<item jid='b@example.org'/><item subscription='from'/></query></iq>"
    )
    assert read_roster("owner@example.org", answer) == {
        "a@example.org": RosterItem("a@example.org", "both", frozenset({"friends", "family"})),
        "b@example.org": RosterItem("b@example.org", "none"),
    }


@pytest.mark.parametrize(("condition", "refused"), [("forbidden", True), ("item-not-found", False)])
def test_an_error_answer(condition: str, refused: bool) -> None:
    answer = stanza(
        f"<iq type='error' id='q' from='owner@example.org'><error type='auth'>"
        f"<{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    )
    with pytest.raises(RosterUnavailable) as caught:
        read_roster("owner@example.org", answer)
    assert caught.value.refused is refused
    assert condition in str(caught.value)
