"""The main flows seen by an independent client library: aioxmpp (not slixmpp).

aioxmpp builds and parses its own stanzas, so these tests catch anything the
bridge and slixmpp happen to agree on but other clients would not accept:
create, subscribe, receive an event (published over XMPP and by a Thoonk
app), publish, retrieve items, retract and delete events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aioxmpp
import aioxmpp.connector
import aioxmpp.pubsub
import aioxmpp.xso
import pytest

from tests.integration.bridge_fixtures import Bridge
from tests.integration.streams import TIMEOUT, Account
from thoonk_xmpp.thoonk import AsyncThoonk
from tools.localservers import ProsodyServer

NOTE_NS = "urn:example:crosscheck:note"


@aioxmpp.pubsub.xso.as_payload_class
class Note(aioxmpp.xso.XSO):  # type: ignore[misc]
    """A tiny payload class aioxmpp knows how to read and write."""

    TAG = (NOTE_NS, "note")
    text = aioxmpp.xso.Text(default="")

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.text = text


class Session:
    """A connected, available aioxmpp client with its pubsub service and event inbox."""

    def __init__(self, client: Any, service: str) -> None:
        self.client = client
        self.jid = client.local_jid.bare()
        self.service = aioxmpp.JID.fromstr(service)
        self.pubsub = client.summon(aioxmpp.PubSubClient)
        self.events: asyncio.Queue[tuple[str, str, Any]] = asyncio.Queue()
        self.pubsub.on_item_published.connect(self._published)
        self.pubsub.on_item_retracted.connect(self._retracted)
        self.pubsub.on_node_deleted.connect(self._deleted)

    def _published(self, jid: Any, node: str, item: Any, *, message: Any = None) -> None:
        self.events.put_nowait(("published", node, item))

    def _retracted(self, jid: Any, node: str, item_id: str, *, message: Any = None) -> None:
        self.events.put_nowait(("retracted", node, item_id))

    def _deleted(
        self, jid: Any, node: str, *, redirect_uri: Any = None, message: Any = None
    ) -> None:
        self.events.put_nowait(("deleted", node, redirect_uri))

    async def next_event(self) -> tuple[str, str, Any]:
        return await asyncio.wait_for(self.events.get(), TIMEOUT)


@pytest.fixture
async def aioxmpp_session(
    prosody: ProsodyServer, bridge: Bridge
) -> AsyncIterator[Callable[[Account], contextlib.AbstractAsyncContextManager[Session]]]:
    """Factory of aioxmpp sessions on the test Prosody (no TLS there; SCRAM still works)."""

    @contextlib.asynccontextmanager
    async def session(account: Account) -> AsyncIterator[Session]:
        jid, password = account
        layer = aioxmpp.make_security_layer(password, no_verify=True)._replace(tls_required=False)
        client = aioxmpp.PresenceManagedClient(
            aioxmpp.JID.fromstr(jid),
            layer,
            override_peer=[("127.0.0.1", prosody.c2s_port, aioxmpp.connector.STARTTLSConnector())],
        )
        async with client.connected():
            yield Session(client, bridge.jid)

    yield session


async def test_create_subscribe_publish_receive_retrieve(
    aioxmpp_session: Callable[[Account], contextlib.AbstractAsyncContextManager[Session]],
    make_account: Callable[[], Account],
    thoonk: AsyncThoonk,
) -> None:
    async with (
        aioxmpp_session(make_account()) as alice,
        aioxmpp_session(make_account()) as bob,
    ):
        await alice.pubsub.create(alice.service, "cross")
        subscribed = await bob.pubsub.subscribe(bob.service, "cross")
        assert subscribed.payload.node == "cross"
        assert subscribed.payload.jid == bob.jid
        assert subscribed.payload.subscription == "subscribed"

        published_id = await alice.pubsub.publish(
            alice.service, "cross", Note("from XMPP"), id_="n1"
        )
        assert published_id in (None, "n1")
        kind, node, item = await bob.next_event()
        assert (kind, node, item.id_) == ("published", "cross", "n1")
        assert isinstance(item.registered_payload, Note)
        assert item.registered_payload.text == "from XMPP"

        await (await thoonk.feed("cross")).publish(
            f"<note xmlns='{NOTE_NS}'>from Thoonk</note>", "n2"
        )
        kind, node, item = await bob.next_event()
        assert (kind, node, item.id_) == ("published", "cross", "n2")
        assert item.registered_payload.text == "from Thoonk"

        response = await bob.pubsub.get_items(bob.service, "cross")
        items = response.payload.items
        assert [i.id_ for i in items] == ["n1", "n2"]
        assert [i.registered_payload.text for i in items] == ["from XMPP", "from Thoonk"]

        newest = await bob.pubsub.get_items(bob.service, "cross", max_items=1)
        assert [i.id_ for i in newest.payload.items] == ["n2"]
        by_id = await bob.pubsub.get_items_by_id(bob.service, "cross", ["n1"])
        assert [i.id_ for i in by_id.payload.items] == ["n1"]

        subscriptions = await bob.pubsub.get_subscriptions(bob.service, "cross")
        assert [(s.node, s.jid) for s in subscriptions.subscriptions] == [("cross", bob.jid)]


async def test_retract_and_delete_events(
    aioxmpp_session: Callable[[Account], contextlib.AbstractAsyncContextManager[Session]],
    make_account: Callable[[], Account],
) -> None:
    async with (
        aioxmpp_session(make_account()) as alice,
        aioxmpp_session(make_account()) as bob,
    ):
        await alice.pubsub.create(alice.service, "short-lived")
        await bob.pubsub.subscribe(bob.service, "short-lived")
        await alice.pubsub.publish(alice.service, "short-lived", Note("x"), id_="gone")
        assert (await bob.next_event())[0] == "published"

        await alice.pubsub.retract(alice.service, "short-lived", "gone", notify=True)
        assert await bob.next_event() == ("retracted", "short-lived", "gone")

        redirect = f"xmpp:{alice.service}?;node=elsewhere"
        await alice.pubsub.delete(alice.service, "short-lived", redirect_uri=redirect)
        kind, node, uri = await bob.next_event()
        assert (kind, node, str(uri)) == ("deleted", "short-lived", redirect)

        with pytest.raises(aioxmpp.errors.XMPPCancelError) as refused:
            await bob.pubsub.get_items(bob.service, "short-lived")
        assert refused.value.condition == aioxmpp.ErrorCondition.ITEM_NOT_FOUND
