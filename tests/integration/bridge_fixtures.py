"""The whole bridge on the test servers: Redis → Thoonk → service → component → XMPP server.

Fixtures (pulled into conftest.py with one import line):

- ``bridge``: a :class:`Bridge` — listening AsyncThoonk on the flushed session
  Redis, PubSubService (anyone may create nodes), EventRouter delivering through
  the real :class:`~thoonk_xmpp.xmpp.notifications.Notifier` (and recording every
  event), and a PubSubComponent connected to the test XMPP server (``xmpp_server``).
- ``pubsub_client``: factory of logged-in, available :class:`PubSubClient`\\ s, each
  on a fresh account, speaking raw XML to the bridge.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.dbstate import State, snapshot
from tests.integration.streams import TIMEOUT, Account, ClientFactory
from thoonk_xmpp.service.events import Event
from thoonk_xmpp.service.model import NodeCreation
from thoonk_xmpp.service.policy import ServicePolicy
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, Feed
from thoonk_xmpp.xmpp import ns
from thoonk_xmpp.xmpp.component import PubSubComponent
from thoonk_xmpp.xmpp.notifications import Notifier
from tools.localservers import RedisServer, XmppServer

#: Mark a test (or ``pytestmark`` a module) to run once on Prosody and once on ejabberd.
ON_BOTH_SERVERS = pytest.mark.parametrize("xmpp_server", ["prosody", "ejabberd"], indirect=True)

#: Service-wide admin used by tests (never logged in unless a test registers it).
ADMIN = "admin@localhost"

PUBSUB = ns.PUBSUB
OWNER = ns.PUBSUB_OWNER
DATA = ns.DATA
EVENT = f"{PUBSUB}#event"


def pubsub(inner: str, owner: bool = False) -> str:
    """``<pubsub xmlns=…>inner</pubsub>`` as text."""
    return f"<pubsub xmlns='{OWNER if owner else PUBSUB}'>{inner}</pubsub>"


def form(form_type: str, fields: dict[str, str | list[str]], kind: str = "submit") -> str:
    """A submitted data form (with FORM_TYPE) as text."""
    parts = [f"<field var='FORM_TYPE' type='hidden'><value>{form_type}</value></field>"]
    for var, value in fields.items():
        values = value if isinstance(value, list) else [value]
        parts.append(
            f"<field var='{var}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"
        )
    return f"<x xmlns='{DATA}' type='{kind}'>" + "".join(parts) + "</x>"


def config_form(fields: dict[str, str | list[str]]) -> str:
    return form(f"{PUBSUB}#node_config", fields)


@dataclass(frozen=True)
class StanzaError:
    """What an error reply said: type, stanza condition, pubsub condition, feature, text."""

    type: str
    condition: str
    pubsub: str | None = None
    feature: str | None = None
    text: str = ""

    @classmethod
    def of(cls, iq: ET.Element) -> StanzaError:
        error = iq.find(ns.tag(ns.STANZA, "error"))
        if error is None:
            error = iq.find("{jabber:client}error")
        assert error is not None, ET.tostring(iq)
        condition, pubsub_condition, feature, text = "", None, None, ""
        for child in error:
            namespace, name = ns.split(child.tag)
            if namespace == ns.STANZAS and name == "text":
                text = child.text or ""
            elif namespace == ns.STANZAS:
                condition = name
            elif namespace == ns.PUBSUB_ERRORS:
                pubsub_condition, feature = name, child.get("feature")
        return cls(error.get("type", ""), condition, pubsub_condition, feature, text)

    def __eq__(self, other: object) -> bool:
        """Tuples compare by type, condition, pubsub condition (and feature if given)."""
        if isinstance(other, tuple):
            mine = (self.type, self.condition, self.pubsub, self.feature)
            return mine[: len(other)] == other
        if isinstance(other, StanzaError):
            return (self.type, self.condition, self.pubsub, self.feature) == (
                other.type,
                other.condition,
                other.pubsub,
                other.feature,
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class PubSubClient:
    """A logged-in account that sends raw pubsub XML to the bridge and collects events."""

    def __init__(self, xmpp: ClientXMPP, service_jid: str) -> None:
        self.xmpp = xmpp
        self.service_jid = service_jid
        self.events: asyncio.Queue[ET.Element] = asyncio.Queue()
        xmpp.register_handler(
            Callback(
                "pubsub events",
                MatchXPath(f"{{jabber:client}}message/{{{EVENT}}}event"),
                self._on_message,
            )
        )

    @property
    def jid(self) -> str:
        return str(self.xmpp.boundjid.bare)

    @property
    def full_jid(self) -> str:
        return str(self.xmpp.boundjid.full)

    def _on_message(self, message: Any) -> None:
        self.events.put_nowait(message.xml)

    async def send(self, kind: str, payload: str, to: str | None = None) -> ET.Element:
        """Send an iq with ``payload`` (XML text); the reply iq element, result or error."""
        iq = self.xmpp.Iq()
        iq["type"] = kind
        iq["to"] = to or self.service_jid
        iq.append(ET.fromstring(payload))
        try:
            reply = await iq.send(timeout=TIMEOUT)
        except IqError as exc:
            return exc.iq.xml  # type: ignore[no-any-return]
        return reply.xml  # type: ignore[no-any-return]

    async def ok(self, kind: str, payload: str) -> ET.Element:
        """Send; the reply must be a result. Returns the result's payload (or the iq)."""
        reply = await self.send(kind, payload)
        assert reply.get("type") == "result", ET.tostring(reply).decode()
        return next(iter(reply), reply)

    async def fails(self, kind: str, payload: str) -> StanzaError:
        """Send; the reply must be an error. Returns what it said."""
        reply = await self.send(kind, payload)
        assert reply.get("type") == "error", ET.tostring(reply).decode()
        return StanzaError.of(reply)

    async def next_event(self) -> ET.Element:
        """The next pubsub event message received."""
        return await asyncio.wait_for(self.events.get(), TIMEOUT)

    # --- shorthands for common setup -----------------------------------------------------

    async def create(self, node: str, config: dict[str, str | list[str]] | None = None) -> None:
        configure = "" if config is None else f"<configure>{config_form(config)}</configure>"
        await self.ok("set", pubsub(f"<create node='{node}'/>{configure}"))

    async def publish(self, node: str, item_id: str, body: str = "<x xmlns='urn:t'/>") -> None:
        await self.ok(
            "set", pubsub(f"<publish node='{node}'><item id='{item_id}'>{body}</item></publish>")
        )

    async def affiliate(self, node: str, jid: str, affiliation: str) -> None:
        await self.ok(
            "set",
            pubsub(
                f"<affiliations node='{node}'><affiliation jid='{jid}' affiliation='{affiliation}'/>"
                "</affiliations>",
                owner=True,
            ),
        )

    async def subscribe(self, node: str) -> ET.Element:
        return await self.ok("set", pubsub(f"<subscribe node='{node}' jid='{self.jid}'/>"))

    async def item_ids(self, node: str) -> list[str]:
        result = await self.ok("get", pubsub(f"<items node='{node}'/>"))
        return [item.get("id", "") for item in result.iter(ns.tag(PUBSUB, "item"))]


def form_values(x: ET.Element | None) -> dict[str, list[str]]:
    """var → values of a data form element."""
    assert x is not None
    return {
        f.get("var", ""): [v.text or "" for v in f.findall(ns.tag(DATA, "value"))]
        for f in x.findall(ns.tag(DATA, "field"))
    }


def find(element: ET.Element, path: str, namespace: str = PUBSUB) -> ET.Element:
    """The first descendant at ``path`` (slash-separated local names in ``namespace``)."""
    qualified = "/".join(ns.tag(namespace, part) for part in path.split("/"))
    found = element.find(qualified)
    assert found is not None, f"no {path} in {ET.tostring(element).decode()}"
    return found


def ids_in(element: ET.Element, namespace: str = PUBSUB) -> list[str]:
    """The ids of every <item/> below ``element``."""
    return [item.get("id", "") for item in element.iter(ns.tag(namespace, "item"))]


class RecordingSink:
    """Records every event, then hands it to the real notifier."""

    def __init__(self, inner: Notifier) -> None:
        self.inner = inner
        self.events: list[Event] = []

    async def deliver(self, event: Event) -> None:
        self.events.append(event)
        await self.inner.deliver(event)

    def deliver_now(self, event: Event) -> bool:
        if not self.inner.deliver_now(event):
            return False
        self.events.append(event)
        return True


@dataclass
class Bridge:
    """Everything the ``bridge`` fixture started."""

    server: XmppServer
    redis: aioredis.Redis
    thoonk: AsyncThoonk
    service: PubSubService
    router: EventRouter
    sink: RecordingSink
    component: PubSubComponent

    @property
    def jid(self) -> str:
        return self.component.jid

    async def state(self) -> State:
        """Every Redis key and value (compare before/after a refused request)."""
        return await snapshot(self.redis)

    async def stored(self, node: str) -> dict[str, bytes]:
        """The node's items as Thoonk stores them (id → payload bytes), in feed order."""
        return await Feed(self.thoonk, node, BYTES).get_all()

    async def refuses(self, client: PubSubClient, kind: str, payload: str) -> StanzaError:
        """``client`` sends; the reply must be an error and Redis must not have changed."""
        before = await self.state()
        error = await client.fails(kind, payload)
        after = await self.state()
        changed = {k: (before.get(k), after.get(k)) for k in before.keys() | after.keys()}
        assert {k: v for k, v in changed.items() if v[0] != v[1]} == {}
        return error


@pytest.fixture
async def bridge(
    xmpp_server: XmppServer, redis_server: RedisServer, redis_client: aioredis.Redis
) -> AsyncIterator[Bridge]:
    thoonk = AsyncThoonk.from_url(redis_server.url, listen=True)
    await thoonk.connect()
    policy = ServicePolicy(
        admins=frozenset({ADMIN}),
        node_creation=NodeCreation.ANYONE,
        local_domains=frozenset({xmpp_server.domain}),
    )
    service = PubSubService(thoonk, policy)
    component: PubSubComponent | None = None

    def send(messages: list[str]) -> None:
        assert component is not None
        component.send_soon("".join(messages))

    sink = RecordingSink(Notifier(send, xmpp_server.component_jid))
    router = EventRouter(service, sink)
    thoonk.listener.add_sink(router.on_notice)
    router.start()
    component = PubSubComponent(
        xmpp_server.component_jid,
        xmpp_server.secret,
        "127.0.0.1",
        xmpp_server.component_port,
        service,
        router,
    )
    try:
        await component.connect(timeout=TIMEOUT)
        yield Bridge(xmpp_server, redis_client, thoonk, service, router, sink, component)
    finally:
        await component.disconnect()
        await router.aclose()
        await thoonk.aclose()


PubSubClientFactory = Callable[[], Awaitable[PubSubClient]]


@pytest.fixture
def pubsub_client(
    bridge: Bridge, make_account: Callable[[], Account], xmpp_client: ClientFactory
) -> PubSubClientFactory:
    """Factory: ``await pubsub_client()`` logs a fresh account in (available)."""

    async def make() -> PubSubClient:
        return PubSubClient(await xmpp_client(*make_account(), plugins=()), bridge.jid)

    return make
