"""The load of a fault test: two publishers and the subscribers that count what arrives.

Every item gets an id chosen by its publisher, so a test can compare sets of
ids: what Redis stored, what each publisher was told, what each subscriber got.
"""

from __future__ import annotations

import asyncio
import collections
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Sequence
from typing import Any

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.integration.bridge_fixtures import EVENT, config_form, pubsub
from tests.integration.streams import TIMEOUT, disconnect, login
from thoonk_xmpp.thoonk import AsyncThoonk
from tools.localservers import XmppServer

NODE = "faults"
PAYLOAD = "<entry xmlns='urn:faults'/>"
DELAY = "urn:xmpp:delay"


class Peer:
    """One account, logged in afresh by :meth:`connect` (after a Prosody restart too)."""

    def __init__(self, server: XmppServer, jid: str, password: str) -> None:
        self.server, self.jid, self.password = server, jid, password
        self.client: ClientXMPP | None = None
        self.online = asyncio.Event()
        self._old: list[ClientXMPP] = []

    def prepare(self, client: ClientXMPP) -> None:
        """Handlers a new client needs before it becomes available."""

    async def connect(self) -> None:
        if self.client is not None:
            self._old.append(self.client)
        client = ClientXMPP(self.jid, self.password)
        self.prepare(client)

        def lost(_: Any) -> None:
            if self.client is client:
                self.online.clear()

        client.add_event_handler("disconnected", lost)
        self.client = client
        await login(client, self.server)
        self.online.set()

    async def close(self) -> None:
        streams = [*self._old, *([self.client] if self.client is not None else [])]
        await asyncio.gather(*(disconnect(s) for s in streams), return_exceptions=True)

    def iq(self, payload: str) -> Any:
        """An iq set with ``payload`` (XML text) to the component."""
        assert self.client is not None
        iq = self.client.Iq()
        iq["type"], iq["to"] = "set", self.server.component_jid
        iq.append(ET.fromstring(payload))
        return iq

    async def request(self, payload: str) -> ET.Element:
        """Send an iq set with ``payload`` to the component; the reply, result or error."""
        try:
            reply = await self.iq(payload).send(timeout=TIMEOUT)
        except IqError as exc:
            return exc.iq.xml  # type: ignore[no-any-return]
        return reply.xml  # type: ignore[no-any-return]


class Subscriber(Peer):
    """Counts every item id its event messages carry, and when each first came.

    Also counts items that came delay-stamped: by the component (a catch-up) or by
    the server (kept in offline storage while this account was away).
    """

    def __init__(self, server: XmppServer, jid: str, password: str) -> None:
        super().__init__(server, jid, password)
        self.received: collections.Counter[str] = collections.Counter()
        self.first_at: dict[str, float] = {}
        self.caught_up = self.from_storage = 0

    def prepare(self, client: ClientXMPP) -> None:
        client.register_handler(
            Callback("events", MatchXPath(f"{{jabber:client}}message/{{{EVENT}}}event"), self._on)
        )

    def _on(self, message: Any) -> None:
        now = time.time()
        stamped_by = {d.get("from") for d in message.xml.iter(f"{{{DELAY}}}delay")}
        for item in message.xml.iter(f"{{{EVENT}}}item"):
            item_id = item.get("id", "")
            self.received[item_id] += 1
            self.first_at.setdefault(item_id, now)
            self.caught_up += self.server.component_jid in stamped_by
            self.from_storage += self.server.domain in stamped_by


class XmppPublisher(Peer):
    """Publishes items with ids of its own at a steady rate, a few requests in flight."""

    #: Seconds a request may hold its place in the window before the next one goes.
    STALLED = 3.0
    #: Seconds an answer is awaited at all (longer than the component's 15 s request timeout).
    ANSWER = 30.0

    def __init__(
        self,
        server: XmppServer,
        jid: str,
        password: str,
        *,
        nodes: Sequence[str] = (NODE,),
        prefix: str = "x",
    ) -> None:
        super().__init__(server, jid, password)
        #: Items go to these nodes in turn, with ids ``<prefix>-<number>``.
        self.nodes, self.prefix = nodes, prefix
        self.acked: set[str] = set()
        self.errors: dict[str, str] = {}
        self.unanswered: set[str] = set()
        #: When each request was sent (epoch seconds).
        self.sent_at: dict[str, float] = {}
        self._pending: set[asyncio.Task[None]] = set()

    async def create_node(self, config: dict[str, str | list[str]], node: str = NODE) -> None:
        reply = await self.request(
            pubsub(f"<create node='{node}'/><configure>{config_form(config)}</configure>")
        )
        assert reply.get("type") == "result", ET.tostring(reply).decode()

    async def run(self, stop: asyncio.Event, rate: float, window: int) -> None:
        places = asyncio.Semaphore(window)
        number = 0
        async for _ in paced(stop, rate):
            await places.acquire()
            await self.online.wait()
            number += 1
            node = self.nodes[number % len(self.nodes)]
            task = asyncio.create_task(self._publish(f"{self.prefix}-{number:05d}", places, node))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _publish(self, item_id: str, places: asyncio.Semaphore, node: str = NODE) -> None:
        iq = self.iq(
            pubsub(f"<publish node='{node}'><item id='{item_id}'>{PAYLOAD}</item></publish>")
        )
        self.sent_at[item_id] = time.time()
        answer = asyncio.ensure_future(iq.send(timeout=self.ANSWER))
        try:
            await asyncio.wait({answer}, timeout=self.STALLED)
        finally:
            places.release()
        try:
            await answer
        except IqError as exc:
            self.errors[item_id] = exc.iq["error"]["condition"] or "error"
        except IqTimeout:
            self.unanswered.add(item_id)
        except asyncio.CancelledError:
            self.unanswered.add(item_id)
            raise
        else:
            self.acked.add(item_id)

    async def answers(self, timeout: float) -> None:
        """Wait for the answers still due; those still missing then count as unanswered."""
        if self._pending:
            _, late = await asyncio.wait(set(self._pending), timeout=timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)


class ThoonkPublisher:
    """A Thoonk app publishing items with ids of its own, one at a time, at a steady rate."""

    def __init__(self, redis_url: str, nodes: Sequence[str] = (NODE,)) -> None:
        self.redis_url = redis_url
        #: Items go to these nodes in turn.
        self.nodes = nodes
        self.acked: set[str] = set()
        self.failed: dict[str, str] = {}

    async def run(self, stop: asyncio.Event, rate: float) -> None:
        async with AsyncThoonk.from_url(self.redis_url) as thoonk:
            feeds = [await thoonk.feed(node) for node in self.nodes]
            number = 0
            async for _ in paced(stop, rate):
                number += 1
                item_id = f"t-{number:05d}"
                try:
                    await feeds[number % len(feeds)].publish(PAYLOAD, item_id)
                except Exception as exc:  # Redis away: the outcome is unknown, noted
                    self.failed[item_id] = type(exc).__name__
                else:
                    self.acked.add(item_id)

    async def publish_one(self, item_id: str, node: str = NODE) -> None:
        async with AsyncThoonk.from_url(self.redis_url) as thoonk:
            await (await thoonk.feed(node)).publish(PAYLOAD, item_id)


async def paced(stop: asyncio.Event, rate: float) -> AsyncIterator[None]:
    """Yield ``rate`` times a second until ``stop`` is set (no bursts to make up for delays)."""
    interval, next_at = 1 / rate, time.monotonic()
    while not stop.is_set():
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        next_at = max(next_at + interval, time.monotonic() - interval)
        yield
