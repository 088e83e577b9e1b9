"""XMPP workers of job and queue nodes for the integration tests (XEP-0254)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.integration.bridge_fixtures import (
    EVENT,
    PubSubClient,
    form,
    pubsub,
)
from tests.integration.streams import TIMEOUT
from thoonk_xmpp.xmpp import ns

JOB_NODE = {"thoonkx#node_kind": "job"}
RESULT = ns.JOB_RESULT


def subscribe_with(
    client: PubSubClient, node: str, queue_requests: int | None, *, batch: bool = False
) -> str:
    """A subscribe request, with options giving ``queue_requests`` unless None (and
    ``thoonkx#queue_batch`` when ``batch``)."""
    attrs = f"node='{node}' jid='{client.jid}'"
    if queue_requests is None:
        return pubsub(f"<subscribe {attrs}/>")
    fields = {"pubsub#queue_requests": str(queue_requests)}
    if batch:
        fields["thoonkx#queue_batch"] = "1"
    options = form(f"{ns.PUBSUB}#subscribe_options", fields)
    return pubsub(f"<subscribe {attrs}/><options {attrs}>{options}</options>")


class Worker:
    """A pubsub client working on a job node: it keeps what it was handed."""

    def __init__(
        self,
        client: PubSubClient,
        node: str,
        queue_requests: int = 1,
        *,
        presence: bool = True,
        batch: bool = False,
    ) -> None:
        self.client = client
        self.node = node
        self.queue_requests = queue_requests
        self.presence = presence
        self.batch = batch

    async def join(self) -> ET.Element:
        """Directed presence to the service (so it learns when we go), then subscribe."""
        if self.presence:
            self.client.xmpp.send_presence(pto=self.client.service_jid)
        return await self.client.ok(
            "set", subscribe_with(self.client, self.node, self.queue_requests, batch=self.batch)
        )

    async def next_job(self) -> tuple[str, ET.Element]:
        """The id and payload of the next item handed to this worker."""
        while True:
            message = await self.client.next_event()
            item = message.find(f"{{{EVENT}}}event/{{{EVENT}}}items/{{{EVENT}}}item")
            if item is not None:
                return item.get("id", ""), next(iter(item))

    async def next_event_items(self) -> list[tuple[str, ET.Element]]:
        """The (id, payload) of every item of the next items event handed to this worker."""
        while True:
            message = await self.client.next_event()
            items = message.findall(f"{{{EVENT}}}event/{{{EVENT}}}items/{{{EVENT}}}item")
            if items:
                return [(item.get("id", ""), next(iter(item))) for item in items]

    async def finish(self, job_id: str, result: str | None = None) -> ET.Element:
        inner = "" if result is None else f"<result xmlns='{RESULT}'>{result}</result>"
        return await self.client.send(
            "set",
            pubsub(f"<retract node='{self.node}'><item id='{job_id}'>{inner}</item></retract>"),
        )


async def collect(workers: list[Worker], count: int) -> list[tuple[Worker, str, ET.Element]]:
    """The next ``count`` items handed to any of ``workers``: (worker, id, payload)."""
    got: list[tuple[Worker, str, ET.Element]] = []
    enough = asyncio.Event()

    async def take(worker: Worker) -> None:
        while len(got) < count:
            job_id, payload = await worker.next_job()
            got.append((worker, job_id, payload))
        enough.set()

    tasks = [asyncio.ensure_future(take(worker)) for worker in workers]
    try:
        await asyncio.wait_for(enough.wait(), TIMEOUT)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return got


def unlocks(client: PubSubClient) -> asyncio.Queue[str]:
    """The ids of the unlock messages ``client`` receives from now on."""
    received: asyncio.Queue[str] = asyncio.Queue()

    def on_unlock(message: Any) -> None:
        element = message.xml.find(ns.tag(ns.QUEUEING, "unlock"))
        received.put_nowait(element.get("id", ""))

    client.xmpp.register_handler(
        Callback(
            "unlocks",
            MatchXPath(f"{{jabber:client}}message/{{{ns.QUEUEING}}}unlock"),
            on_unlock,
        )
    )
    return received


def retracts(message: ET.Element) -> list[ET.Element]:
    return message.findall(f"{{{EVENT}}}event/{{{EVENT}}}items/{{{EVENT}}}retract")


async def next_retract(client: PubSubClient) -> ET.Element:
    while True:
        found = retracts(await client.next_event())
        if found:
            return found[0]


def retract_of(node: str, results: dict[str, str | None]) -> str:
    """One retract of several items, each with its ``<result/>`` unless None."""
    items = "".join(
        f"<item id='{job_id}'>"
        + ("" if result is None else f"<result xmlns='{RESULT}'>{result}</result>")
        + "</item>"
        for job_id, result in results.items()
    )
    return pubsub(f"<retract node='{node}'>{items}</retract>")
