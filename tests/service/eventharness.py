"""Event-test harness: a recording sink (the sink interface, collecting) and a way to
take every event routed so far.

Absence of an event is proved by order, not by waiting: ``events()`` publishes a
marker item to a marker node and returns every event routed before the marker's."""

from __future__ import annotations

import asyncio

from thoonk_xmpp.service.events import Event, ItemPublished
from thoonk_xmpp.service.model import Actor
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import Notice

MARKER = "zz-marker"
MARKER_JID = "marker@example.org"
ADMIN = Actor("admin@example.org")


class RecordingSink:
    """The sink interface, collecting what it is given."""

    def __init__(self, fail_first: bool = False) -> None:
        self.events: list[Event] = []
        self.changed = asyncio.Event()
        self.fail_first = fail_first

    async def deliver(self, event: Event) -> None:
        self.deliver_now(event)

    def deliver_now(self, event: Event) -> bool:
        self.events.append(event)
        self.changed.set()
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("the sink failed once")
        return True


class Harness:
    """A service, its router and the recording sink, with the marker node."""

    def __init__(self, service: PubSubService, router: EventRouter, sink: RecordingSink) -> None:
        self.service = service
        self.router = router
        self.sink = sink
        self.marks = 0

    async def events(self) -> list[Event]:
        """Every event routed since the last call (up to a marker published now)."""
        self.marks += 1
        mark = f"mark-{self.marks}"
        await self.service.publish(ADMIN, MARKER, [(mark, b"")])

        def position() -> int | None:
            for at, event in enumerate(self.sink.events):
                if isinstance(event, ItemPublished) and (event.node, event.item_id) == (
                    MARKER,
                    mark,
                ):
                    return at
            return None

        async def wait() -> int:
            while (at := position()) is None:
                self.sink.changed.clear()
                await self.sink.changed.wait()
            return at

        at = await asyncio.wait_for(wait(), 10)
        await self.router.drain()
        taken = self.sink.events[:at]
        del self.sink.events[: at + 1]
        return taken


async def start_harness(service: PubSubService, sink: RecordingSink) -> Harness:
    """Route the notices of the service's listening client to ``sink``; make the marker node."""
    router = EventRouter(service, sink)
    service.thoonk.listener.add_sink(router.on_notice)
    router.start()
    # the start's catch-up done first: it sends stored items of every node, marker too,
    # ahead of notices queued after it, and "events()" relies on order across nodes
    await router.drain()
    await service.create_node(ADMIN, MARKER)
    await service.subscribe(ADMIN, MARKER, MARKER_JID)
    harness = Harness(service, router, sink)
    await harness.events()  # the marker's subscriber hears of the subscription an admin made
    return harness


async def offer(router: EventRouter, notice: Notice) -> None:
    """Hand ``notice`` to the router as the listener does, waiting only when it asks to."""
    outcome = router.on_notice(notice)
    if outcome is not None:
        await outcome
