"""Handing events on in order, across gaps: the delivery half of the event router.

:class:`Delivering` owns the queue of events and the task that hands them to
the sink, and everything that keeps delivery whole across gaps (see
:mod:`.delivery`): the marks that move the watermarks, the XMPP link's ups and
downs, events held while it is down, the catch-up that follows every gap, and
the last commit of a clean stop.  :class:`~.router.EventRouter` adds the
routing of notices on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from abc import ABC, abstractmethod

from redis.exceptions import RedisError

from thoonk_xmpp.thoonk import Notice, NoticeKind, ThoonkError

from .catch_up import StoredSince, Watermarks
from .delivery import SLOTS, DeliveryPolicy, Ledger, slot_of
from .events import Event, ItemPublished, NotificationSink
from .leases import Leases
from .model import Subscription
from .node_config import NodeConfig
from .option_delivery import Audience
from .service import PubSubService

log = logging.getLogger(__name__)

#: A node's config and the audience of its events; None when it is not a node.
Loaded = tuple[NodeConfig, Audience] | None


class MarkPassed:
    """In the delivery queue: everything before this mark of ours was handed on."""

    __slots__ = ("at_ms",)

    def __init__(self, at_ms: int) -> None:
        self.at_ms = at_ms


#: A notice that asks the routing task for a catch-up (never on the wire).
CATCH_UP = Notice(NoticeKind.LISTENING, "")


class Delivering(ABC):
    """The event queue, its delivery task, the marks and the catch-ups."""

    def __init__(
        self,
        service: PubSubService,
        sink: NotificationSink,
        *,
        queue_size: int,
        delivery: DeliveryPolicy | None,
    ) -> None:
        self.service = service
        self.store = service.store
        self._listener = service.thoonk.listener
        self.sink = sink
        self.ledger = Ledger(delivery or DeliveryPolicy())
        self._watermarks = Watermarks(service.thoonk)
        self._stored = StoredSince(service.thoonk, self.ledger.policy)
        policy = self.ledger.policy
        #: Leases of slots when several instances share the Redis; None: deliver all.
        self._leases = Leases(service.thoonk, policy.lease_time) if policy.shared else None
        #: The slots whose events this instance delivers.
        self.slots: frozenset[int] = frozenset() if policy.shared else frozenset(range(SLOTS))
        # slots leased but not caught up yet; and what the last lease renewal held
        self._gaining: set[int] = set()
        self._leased: frozenset[int] = frozenset()
        #: Another instance is the active one (see :meth:`stand_by`).
        self.standing_by = False
        self._slot_of: dict[str, int] = {}
        #: Events other than items made while the link was down, sent after it is back.
        self._held: list[Event] = []
        # (an asyncio.Event in it is set once what was queued before it was handed on)
        self._queue: asyncio.Queue[Event | MarkPassed | asyncio.Event] = asyncio.Queue(queue_size)
        self._notices: asyncio.Queue[Notice] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._routing: asyncio.Task[None] | None = None
        self._marking: asyncio.Task[None] | None = None
        self._leasing: asyncio.Task[None] | None = None
        self._expiring: asyncio.Task[None] | None = None
        #: Notices the routing task took from its queue so far, and routed so far.
        self._taken = self._dequeued = 0
        # set while the routing task works on a batch / the delivery task on an event
        self._batching = False
        self._delivering = False

    def delivers(self, node: str) -> bool:
        """Whether this instance sends the events of ``node`` (its slot is ours)."""
        if self._leases is None:
            return True
        slot = self._slot_of.get(node)
        if slot is None:
            if len(self._slot_of) > 65_536:
                self._slot_of.clear()
            slot = self._slot_of[node] = slot_of(node)
        return slot in self.slots

    @abstractmethod
    async def _route_forever(self) -> None:
        """Route queued notices (the routing task)."""

    @abstractmethod
    async def _load(self, node: str) -> Loaded:
        """The node's config and recipients."""

    @abstractmethod
    async def _emit_special(self, event: Event, special: tuple[Subscription, ...]) -> None:
        """Hand ``event`` to the subscriptions decided event by event (digests, presence)."""

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._deliver_forever(), name="pubsub-delivery")
        if self._routing is None or self._routing.done():
            self._routing = asyncio.create_task(self._route_forever(), name="pubsub-routing")
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark_forever(), name="pubsub-marks")
        if self._leases is not None and (self._leasing is None or self._leasing.done()):
            self._leasing = asyncio.create_task(self._lease_forever(), name="pubsub-leases")
        if self._expiring is None or self._expiring.done():
            expiring = self.service.expiry.run(
                self.service, self._may_expire, self.delivers, self.ledger.policy.mark_interval
            )
            self._expiring = asyncio.create_task(expiring, name="pubsub-item-expiry")
        self.ledger.begin_gap()  # whatever happened before this start: catch up on it
        self._queue_notice(CATCH_UP)

    async def aclose(self) -> None:
        for task in (self._expiring, self._leasing, self._marking, self._routing, self._task):
            await self._stop_task(task)
        self._expiring = self._leasing = self._marking = self._routing = self._task = None

    def _may_expire(self) -> bool:
        """Items expire while their retract notices will be heard and sent (service/expiry)."""
        return self.ledger.link_up and self._listener.epoch is not None and not self.standing_by

    @staticmethod
    async def _stop_task(task: asyncio.Task[None] | None) -> None:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def settle(self, timeout: float = 5.0) -> None:
        """Before a clean stop: commit how far delivery went, so a successor starts there.

        A last mark goes through; then, while events still flow, the margin passes
        (notices of items stored before the mark come within it), and the mark's own
        time is committed rather than the mark less the margin.
        """
        ledger = self.ledger
        if ledger.gap or self._routing is None or self._routing.done():
            return
        try:
            async with asyncio.timeout(timeout):
                gaps = ledger.gaps
                at = await self._watermarks.mark(None, ())
                ledger.mark_issued(at, gaps)
                while ledger.passed < at and not ledger.gap:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                await asyncio.sleep(ledger.policy.margin)
                await self.drain()
                if not ledger.gap:
                    await self._watermarks.mark(at, self.slots)
                if self._leases is not None:
                    await self._stop_task(self._leasing)  # it would lease them again
                    self._leasing = None
                    _, handing = await self._leases.renew(able=False)
                    self.slots = frozenset()
                    await self._hand_over(handing)  # others take over now
        except (TimeoutError, ThoonkError, RedisError) as exc:
            log.warning("could not record how far delivery went: %s", exc or "timed out")

    # --- gaps and catch-up ------------------------------------------------------------

    def link_up(self) -> None:
        """The XMPP link is (back) up: catch up on what it missed."""
        self.ledger.link_up = True
        self.standing_by = False
        self._queue_notice(CATCH_UP)

    def stand_by(self) -> None:
        """Another instance delivers (it holds the component JID): until this one's link
        is up, it keeps no event for later and leaves deleted nodes to that one."""
        self.standing_by = True
        self._held.clear()

    def link_lost(self) -> None:
        """The XMPP link is down: events wait for a catch-up from here on, which sends
        the last ``in_flight`` seconds of sends again (however the link closed)."""
        self.ledger.link_up = False
        self.ledger.begin_gap(link_lost=True)

    def _queue_notice(self, notice: Notice) -> None:
        try:
            self._notices.put_nowait(notice)
        except asyncio.QueueFull:
            # a catch-up is owed anyway: the gap stays open until one runs
            log.warning("notice queue full; catch-up deferred")

    async def _mark_forever(self) -> None:
        """Publish delivery marks, commit the watermarks they earn, retry owed catch-ups."""
        ledger = self.ledger
        while True:
            await asyncio.sleep(ledger.policy.mark_interval)
            if ledger.gap:
                if ledger.link_up and self._listener.epoch is not None and self._notices.empty():
                    self._queue_notice(CATCH_UP)
                continue
            try:
                gaps = ledger.gaps
                ledger.mark_issued(
                    await self._watermarks.mark(ledger.take_commit(), self.slots), gaps
                )
            except Exception as exc:
                log.warning("delivery mark failed: %s", exc)

    async def _lease_forever(self) -> None:
        """Shared delivery: hold the leases of this instance's slots while it can deliver."""
        assert self._leases is not None
        while True:
            able = self.ledger.link_up and self._listener.epoch is not None
            try:
                held, handing = await self._leases.renew(able)
            except Exception as exc:
                log.warning("renewing delivery leases failed: %s", exc)
                held = handing = frozenset()  # they expire unless renewed: deliver none
            self._leased = held
            self._gaining &= held  # one lost before its catch-up ran is not gained
            lost, gained = self.slots - held, held - self.slots - self._gaining
            if lost:
                self.slots -= lost
                log.info(
                    "delivering %d slots of nodes now (%d handed over)", len(self.slots), len(lost)
                )
            if handing:
                try:
                    await self._hand_over(handing)
                except Exception as exc:  # their leases lapse instead
                    log.warning("handing slots over failed: %s", exc)
            if gained:
                # they count as ours once the catch-up that follows has sent what they
                # missed (in the routing task, so in order with their notices)
                self._gaining |= gained
                self._queue_notice(CATCH_UP)
            await asyncio.sleep(self.ledger.policy.lease_interval)

    async def _hand_over(self, slots: frozenset[int]) -> None:
        """Let ``slots`` go (no longer delivered here) with a record of what was sent of
        them, once what was queued for them went out: their next holder sends the rest."""
        assert self._leases is not None
        passed = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.ledger.policy.lease_interval):
                await self._queue.put(passed)
                await passed.wait()
        await self._leases.hand_over(slots, self.ledger.sent_in(slots))

    async def _take_handed(self, slots: frozenset[int]) -> None:
        """What the last holders of newly leased slots sent already: not sent again."""
        if self._leases is not None and slots:
            self.ledger.sent_by_others(await self._leases.take_handed(slots))

    async def _catch_up(self) -> None:
        """Send what was stored above the watermarks (routing task only, so in order).

        After a gap, for every slot this instance delivers; otherwise for the slots
        it has just leased.
        """
        ledger = self.ledger
        if not ledger.link_up or self._listener.epoch is None:
            ledger.begin_gap()
            return  # the link's return or the next subscription brings another
        slots, self._gaining = frozenset(self._gaining), set()
        held: list[Event] = []
        lasted, dropped = 0.0, 0
        if ledger.gap:
            lasted, dropped = ledger.end_gap()
            held, self._held = self._held, []
            slots |= self.slots
        gained = slots - self.slots  # ours once caught up (a mark may not commit them before)
        try:
            await self._take_handed(gained)
            for event in held:
                if self.delivers(event.node):
                    await self._emit(event)
            watermarks = await self._watermarks.of(slots)
            sent = nodes = 0
            # notices waiting when a read came back are older than what it read
            read = lambda: self._taken + self._notices.qsize()  # noqa: E731
            async for node, stored, older_than in self._stored.items(watermarks, read):
                loaded = await self._load(node)
                if loaded is None:
                    continue
                config, audience = loaded
                recipients = audience.items
                nodes += 1
                for item in stored:
                    digest = zlib.crc32(item.item)
                    if ledger.was_sent(node, item.id, digest):
                        continue
                    ledger.caught_up(node, item.id, digest, older_than)
                    if not config.deliver_notifications or not audience.all:
                        continue
                    payload = item.item if config.deliver_payloads else None
                    sent += 1
                    ledger.caught_up_total += 1
                    caught = ItemPublished(
                        node,
                        recipients,
                        config.notification_type,
                        item.id,
                        payload,
                        replay=True,
                        published_ms=item.published_ms,
                        digest=digest,
                    )
                    await self._send_caught(caught, audience.special)
        except Exception:
            log.exception("catch-up failed; trying again")
            self._gaining |= gained
            ledger.begin_gap()
            return
        self.slots |= gained if self._leases is None else gained & self._leased
        if dropped or held or sent:
            log.info(
                "caught up after a gap of %.1f s: %d items not sent during it, %d held events"
                " and %d items sent now for %d nodes",
                lasted,
                dropped,
                len(held),
                sent,
                nodes,
            )

    async def _send_caught(self, event: ItemPublished, special: tuple[Subscription, ...]) -> None:
        if event.recipients:
            await self._queue.put(event)
        await self._emit_special(event, special)

    @property
    def held(self) -> int:
        """Events held for the link's return."""
        return len(self._held)

    async def instances(self) -> list[str]:
        """The live instances sharing delivery (none when not shared)."""
        return [] if self._leases is None else await self._leases.instances()

    @property
    def backlog(self) -> tuple[int, int]:
        """(notices waiting to be routed, events waiting to be delivered)."""
        return self._notices.qsize(), self._queue.qsize()

    async def drain(self) -> None:
        """Wait until every queued notice is routed and every event handed to the sink."""
        await self._notices.join()
        await self._queue.join()

    async def _deliver_forever(self) -> None:
        while True:
            event = await self._queue.get()
            self._delivering = True
            try:
                if isinstance(event, MarkPassed):
                    self.ledger.mark_passed(event.at_ms)
                elif isinstance(event, asyncio.Event):
                    event.set()
                else:
                    await self.sink.deliver(event)
                    self._handed(event)
            except Exception:
                log.exception("delivering %r failed", event)
            finally:
                self._delivering = False
                self._queue.task_done()

    async def _emit(self, event: Event) -> None:
        if event.recipients and self._deliverable(event):
            await self._queue.put(event)

    def _handed(self, event: Event) -> None:
        """The sink took ``event``: a tracked item counts as sent if the link was up."""
        if isinstance(event, ItemPublished) and event.digest is not None and not self.ledger.gap:
            self.ledger.sent(event.node, event.item_id, event.digest)

    def _deliverable(self, event: Event) -> bool:
        """False for an event made in a gap: a tracked item is dropped (a catch-up sends
        it), anything else (items of ordered nodes too) is held (up to a bound) for after
        the catch-up."""
        if not self.ledger.gap:
            return True
        last_item = isinstance(event, ItemPublished) and event.replay and event.digest is None
        if last_item and self.ledger.link_up:
            return True  # a new subscriber's last item: no catch-up would send it
        if isinstance(event, ItemPublished) and event.digest is not None:
            self.ledger.drop()
        elif self.standing_by:
            pass  # the active instance sends it
        elif len(self._held) < self.ledger.policy.held_events:
            self._held.append(event)
        else:
            self.ledger.drop()
        return False
