"""mod_thoonk_multicast (config/prosody/): the XEP-0033 service we ship for Prosody.

A raw component connected as the pubsub component (the one sender the shipped
config allows) sends multicast messages to ``multicast.<domain>``; clients count
what reaches them.  Every count ends at a marker message sent straight to each
client after the multicast: Prosody routes both in order, so whatever the
multicast delivered is in by then.
"""

from __future__ import annotations

import asyncio
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from slixmpp import ClientXMPP, ComponentXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.integration.streams import (
    TIMEOUT,
    Account,
    ClientFactory,
    ComponentFactory,
    disconnect,
    logged_in_client,
    login,
)
from thoonk_xmpp.xmpp import multicast
from thoonk_xmpp.xmpp.multicast import ADDRESS_NS
from tools.localservers import ProsodyServer, XmppServer

MakeAccount = Callable[[], Account]
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
#: thoonk_multicast_limit in config/prosody/thoonk-xmpp.cfg.lua.
LIMIT = 100


def service_of(server: XmppServer) -> str:
    return f"multicast.{server.domain}"


class Inbox:
    """Every message a stream receives, in order."""

    def __init__(self, stream: ClientXMPP | ComponentXMPP) -> None:
        self.stream = stream
        self.messages: asyncio.Queue[ET.Element] = asyncio.Queue()
        namespace = (
            "jabber:component:accept" if isinstance(stream, ComponentXMPP) else "jabber:client"
        )
        stream.register_handler(
            Callback("inbox", MatchXPath(f"{{{namespace}}}message"), self._on_message)
        )

    def _on_message(self, message: Any) -> None:
        self.messages.put_nowait(message.xml)

    async def next(self) -> ET.Element:
        return await asyncio.wait_for(self.messages.get(), TIMEOUT)

    async def until(self, marker: str) -> list[ET.Element]:
        """The messages received before the one whose body is ``marker``."""
        before: list[ET.Element] = []
        while True:
            message = await self.next()
            if _body(message) == marker:
                return before
            before.append(message)

    @property
    def jid(self) -> str:
        return str(self.stream.boundjid.bare)


def _body(message: ET.Element) -> str | None:
    for child in message:
        if child.tag.endswith("}body"):
            return child.text
    return None


def multicast_message(
    sender: str, to: str, addresses: str, body: str, kind: str = "headline"
) -> str:
    return (
        f'<message from="{sender}" to="{to}" type="{kind}" id="{secrets.token_hex(4)}">'
        f'<addresses xmlns="{ADDRESS_NS}">{addresses}</addresses>'
        f"<body>{body}</body></message>"
    )


def address(jid: str, kind: str = "bcc") -> str:
    return f'<address type="{kind}" jid="{jid}"/>'


async def clients(count: int, make_account: MakeAccount, xmpp_client: ClientFactory) -> list[Inbox]:
    return [Inbox(await xmpp_client(*make_account(), plugins=())) for _ in range(count)]


def send_markers(sender: ClientXMPP | ComponentXMPP, inboxes: list[Inbox], marker: str) -> None:
    """A plain message to each inbox, after everything ``sender`` sent before."""
    for inbox in inboxes:
        sender.send_raw(
            f'<message from="{sender.boundjid}" to="{inbox.jid}" type="headline">'
            f"<body>{marker}</body></message>"
        )


async def flushed(component: ComponentXMPP, server: XmppServer) -> None:
    """Wait until everything Prosody sent the component before now has come in (an IQ
    round trip on the same link)."""
    iq = component.Iq()
    iq["type"] = "get"
    iq["from"] = server.component_jid
    iq["to"] = server.domain
    iq.append(ET.Element("{http://jabber.org/protocol/disco#info}query"))
    await iq.send(timeout=TIMEOUT)  # type: ignore[no-untyped-call]


def error_condition(message: ET.Element) -> str:
    assert message.get("type") == "error", ET.tostring(message).decode()
    error = next(child for child in message if child.tag.endswith("}error"))
    conditions = [child.tag for child in error if child.tag.startswith(f"{{{STANZAS}}}")]
    return conditions[0].removeprefix(f"{{{STANZAS}}}")


async def test_the_service_is_found_by_disco_from_the_server_domain(
    xmpp_server: XmppServer, xmpp_component: ComponentFactory
) -> None:
    component = await xmpp_component(plugins=("xep_0030",))
    found = await multicast.find(component, xmpp_server.component_jid, xmpp_server.domain)
    assert found == service_of(xmpp_server)


async def test_each_address_gets_one_copy_bcc_hidden_to_and_cc_shown_as_delivered(
    xmpp_server: XmppServer,
    xmpp_component: ComponentFactory,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
) -> None:
    component = await xmpp_component()
    inboxes = await clients(4, make_account, xmpp_client)
    first, second, third, fourth = (inbox.jid for inbox in inboxes)
    addresses = (
        address(first, "to")
        + address(second, "cc")
        + address(third)
        + address(fourth)
        + address(third)  # listed twice, delivered once
        + address(xmpp_server.domain + "/elsewhere", "replyto")  # carried, not delivered
    )
    sender = xmpp_server.component_jid
    component.send_raw(multicast_message(sender, service_of(xmpp_server), addresses, "event"))
    send_markers(component, inboxes, "marker")
    for inbox in inboxes:
        received = await inbox.until("marker")
        assert [_body(m) for m in received] == ["event"], [ET.tostring(m) for m in received]
        copy = received[0]
        assert copy.get("from") == sender
        assert copy.get("to") == inbox.jid
        assert copy.get("type") == "headline"
        shown = [
            (a.get("type"), a.get("jid"), a.get("delivered"))
            for a in copy.iter(f"{{{ADDRESS_NS}}}address")
        ]
        assert shown == [
            ("to", first, "true"),
            ("cc", second, "true"),
            ("replyto", xmpp_server.domain + "/elsewhere", None),
        ]


async def test_only_bcc_addresses_leave_no_addresses_in_the_copies(
    xmpp_server: XmppServer,
    xmpp_component: ComponentFactory,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
) -> None:
    component = await xmpp_component()
    inboxes = await clients(3, make_account, xmpp_client)
    addresses = "".join(address(inbox.jid) for inbox in inboxes)
    sender = xmpp_server.component_jid
    for n in range(3):
        component.send_raw(multicast_message(sender, service_of(xmpp_server), addresses, f"e{n}"))
    send_markers(component, inboxes, "marker")
    for inbox in inboxes:
        received = await inbox.until("marker")
        assert [_body(m) for m in received] == ["e0", "e1", "e2"]
        assert all(m.find(f"{{{ADDRESS_NS}}}addresses") is None for m in received)


async def test_a_sender_not_listed_is_refused_and_nothing_is_delivered(
    xmpp_server: XmppServer, make_account: MakeAccount, xmpp_client: ClientFactory
) -> None:
    stranger, *recipients = await clients(3, make_account, xmpp_client)
    addresses = "".join(address(inbox.jid) for inbox in recipients)
    assert isinstance(stranger.stream, ClientXMPP)
    stranger.stream.send_raw(
        multicast_message(str(stranger.stream.boundjid), service_of(xmpp_server), addresses, "spam")
    )
    assert error_condition(await stranger.next()) == "forbidden"
    send_markers(stranger.stream, recipients, "marker")
    for inbox in recipients:
        assert await inbox.until("marker") == []


#: What the <addresses/> holds ("{good}": a real recipient's address); None: no <addresses/>.
MALFORMED = {
    "no addresses element": None,
    "no address": "",
    "address without jid": '{good}<address type="bcc" uri="mailto:someone@example.org"/>',
    "invalid jid": '{good}<address type="bcc" jid="a@b@c"/>',
    "unknown type": '{good}<address type="nobody" jid="x@localhost"/>',
    "only carried addresses": '<address type="replyto" jid="x@localhost"/>',
    "only delivered addresses": '<address type="bcc" jid="x@localhost" delivered="true"/>',
}


async def test_malformed_requests_get_bad_request_and_nothing_is_delivered(
    xmpp_server: XmppServer,
    xmpp_component: ComponentFactory,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
) -> None:
    component = await xmpp_component()
    errors = Inbox(component)
    [recipient] = await clients(1, make_account, xmpp_client)
    sender, service = xmpp_server.component_jid, service_of(xmpp_server)
    for name, bad in MALFORMED.items():
        if bad is None:
            stanza = f'<message from="{sender}" to="{service}"><body>{name}</body></message>'
        else:  # beside a good address, which gets nothing either
            good = address(recipient.jid)
            stanza = multicast_message(sender, service, bad.replace("{good}", good), name)
        component.send_raw(stanza)
        assert error_condition(await errors.next()) == "bad-request", name
    too_many = "".join(address(f"user{n}@{xmpp_server.domain}") for n in range(LIMIT))
    component.send_raw(
        multicast_message(sender, service, address(recipient.jid) + too_many, "too many")
    )
    assert error_condition(await errors.next()) == "not-acceptable"
    # The link is still up and the service still works.
    component.send_raw(multicast_message(sender, service, address(recipient.jid), "good"))
    send_markers(component, [recipient], "marker")
    assert [_body(m) for m in await recipient.until("marker")] == ["good"]
    await flushed(component, xmpp_server)
    assert errors.messages.empty()


async def test_up_to_the_limit_is_delivered_in_one_message(
    xmpp_server: XmppServer,
    xmpp_component: ComponentFactory,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
) -> None:
    component = await xmpp_component()
    errors = Inbox(component)
    inboxes = await clients(2, make_account, xmpp_client)
    others = "".join(address(f"nobody{n}@{xmpp_server.domain}") for n in range(LIMIT - 2))
    addresses = "".join(address(inbox.jid) for inbox in inboxes) + others
    sender = xmpp_server.component_jid
    component.send_raw(multicast_message(sender, service_of(xmpp_server), addresses, "full"))
    send_markers(component, inboxes, "marker")
    for inbox in inboxes:
        assert [_body(m) for m in await inbox.until("marker")] == ["full"]
    await flushed(component, xmpp_server)
    assert errors.messages.empty()


async def test_a_recipient_offline_gets_a_normal_message_when_back_headlines_are_dropped(
    xmpp_server: XmppServer,
    xmpp_component: ComponentFactory,
    make_account: MakeAccount,
) -> None:
    """The copies go through Prosody's routing: its offline storage keeps a normal
    message for an account with no session (and drops a headline, as for any sender)."""
    component = await xmpp_component()
    jid, password = make_account()
    sender, service = xmpp_server.component_jid, service_of(xmpp_server)
    component.send_raw(multicast_message(sender, service, address(jid), "kept", kind="normal"))
    component.send_raw(multicast_message(sender, service, address(jid), "dropped"))
    await flushed(component, xmpp_server)  # both handled before the account logs in
    client = ClientXMPP(jid, password)
    inbox = Inbox(client)  # before login: offline messages come with the first presence
    try:
        await login(client, xmpp_server)
        send_markers(component, [inbox], "marker")
        received = await inbox.until("marker")
        # (Prosody also keeps mod_privilege's notices from the domain for the account.)
        assert [_body(m) for m in received if m.get("from") == sender] == ["kept"]
    finally:
        await disconnect(client)


async def test_a_remote_address_gets_its_copy_over_s2s(
    prosody: ProsodyServer,
    remote_prosody: ProsodyServer,
    xmpp_component: ComponentFactory,
    make_account: MakeAccount,
    xmpp_client: ClientFactory,
) -> None:
    component = await xmpp_component()
    [local] = await clients(1, make_account, xmpp_client)
    password = secrets.token_hex(12)
    jid = remote_prosody.register(f"remote-{secrets.token_hex(4)}", password)
    remote = Inbox(await logged_in_client(remote_prosody, jid, password, plugins=()))
    try:
        addresses = address(local.jid) + address(remote.jid)
        sender = prosody.component_jid
        component.send_raw(multicast_message(sender, service_of(prosody), addresses, "far"))
        send_markers(component, [local, remote], "marker")
        for inbox in (local, remote):
            assert [_body(m) for m in await inbox.until("marker")] == ["far"], inbox.jid
    finally:
        await disconnect(remote.stream)
