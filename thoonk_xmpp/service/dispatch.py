"""Handing the items of job and queue nodes to subscribers, one subscriber each (XEP-0254).

The instance that delivers a node's events (its slot's lease, :mod:`.leases`;
with one instance, all) also hands out its items: ``lua/queue_hand.lua`` claims
the next waiting job exactly as a Thoonk worker's claim does and records the
subscriber holding it, choosing the one with the most free capacity
(``queue_requests`` less the jobs it holds, counted in Redis), ties in turns.
The item goes to that one subscriber as a normal items event; if the XMPP link
cannot take it, it goes back to the front of the line, no failure counted.  An item
no message can carry (a node name or item id too big for one stanza) is set aside
(a job is stalled, as Thoonk's ``stall``; a queue item dropped), never given back to
the front where it would block the node for good.

What wakes a node comes through the notice subscription, so any instance acts
alike (nothing lives only in one process): a Thoonk job put
(``feed.publishes:<node>``), a finish (``job.finish:<node>``), our
``thoonkx.ready:<node>`` (a queue put, an unlock, a finish without a result, holds
given back), a subscription change (``thoonkx.state:<node>``).  A tick every
``tick`` seconds visits every queue node this instance delivers: it reaps claims
older than the node's claim timeout (unlock notifications to their XMPP holders)
and hands out what arrived unannounced (thoonk.js puts, queue puts of Thoonk
apps, a slot just taken over, notices lost in a gap).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from thoonk_xmpp.thoonk import FeedNotFound, Notice, NoticeKind, ThoonkError

from .model import NodeKind, NotificationType
from .queue_store import Handed

if TYPE_CHECKING:
    from .router import EventRouter
    from .service import PubSubService

log = logging.getLogger(__name__)

#: Fewest and most items handed in one script call: as many as the subscribers have
#: room for, within these bounds (so that the items a subscriber has room for go in one
#: call, and together in one event when it batches).
BATCH: Final = 64
MOST_BATCH: Final = 1024

#: Seconds between visits of every queue node (reaping, items put without a notice).
TICK: Final = 0.5

_WAKING: Final = frozenset(
    {NoticeKind.JOB_PUT, NoticeKind.FINISH, NoticeKind.READY, NoticeKind.STATE}
)


class Handing(enum.Enum):
    """What became of an item the sink was to send."""

    SENT = "sent"
    #: The link could not take it now: it goes back to the front of the line.
    LINK_DOWN = "link down"
    #: No message can ever carry it (too big even without its payload).
    UNSENDABLE = "unsendable"


class QueueSink(Protocol):
    """Where queue messages go (the XMPP adapter)."""

    @property
    def link_up(self) -> bool:
        """Whether messages can be written to the XMPP server now."""
        ...

    def hand(
        self, node: str, jid: str, item_id: str, payload: bytes, kind: NotificationType
    ) -> Handing:
        """Send the item's event to ``jid``."""
        ...

    def hand_together(
        self, node: str, jid: str, items: Sequence[tuple[str, bytes]], kind: NotificationType
    ) -> bool:
        """Send the (id, payload) items handed to ``jid`` at once in one event; False
        when nothing was sent (link down, or too big together)."""
        ...

    def unlocked(self, node: str, jid: str, item_id: str) -> None:
        """Tell ``jid`` that the job it held went back to the queue."""
        ...

    def retracted(
        self, node: str, jid: str, item_id: str, result: bytes | None, kind: NotificationType
    ) -> None:
        """Tell ``jid`` that the job is done (its holder, or its publisher with the result)."""
        ...

    def retracted_to_holder(
        self, node: str, jid: str, item_ids: Sequence[str], kind: NotificationType
    ) -> None:
        """Tell the holder ``jid`` that the jobs it finished are done (one message)."""
        ...


class QueueDispatcher:
    """Hands out the items of the queue nodes this instance delivers."""

    def __init__(
        self,
        service: PubSubService,
        router: EventRouter,
        sink: QueueSink,
        *,
        tick: float = TICK,
    ) -> None:
        self.service = service
        self.router = router
        self.sink = sink
        self.tick = tick
        #: The queue nodes known (rebuilt from Redis on every new notice subscription).
        self.nodes: dict[str, NodeKind] = {}
        self._wanted: dict[str, None] = {}
        # (node, job id, result or None): finishes whose publisher is to be told
        self._finished: list[tuple[str, str, bytes | None]] = []
        self._wake = asyncio.Event()
        self._rescan = True
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = False
        self._doing: set[asyncio.Future[None]] = set()
        self._stop = asyncio.Event()
        # nodes whose subscriptions changed: handed to even without subscribers (see dispatch)
        self._resubscribed: set[str] = set()

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Listen for notices (once) and start the dispatch and tick tasks."""
        if not self._listening:
            self.service.thoonk.listener.add_sink(self.on_notice)
            self._listening = True
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._dispatch_forever(), name="queue-dispatch"),
                asyncio.create_task(self._tick_forever(), name="queue-tick"),
            ]

    def soon(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` (a subscriber going away) in a task that :meth:`aclose` ends."""
        if self._stop.is_set() or not self._tasks:
            work.close()  # stopping or stopped: the next instance's tick reaps what is left
            return
        task = asyncio.ensure_future(work)
        self._doing.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[None]) -> None:
        self._doing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("queue work failed", exc_info=task.exception())

    async def aclose(self, wait: float = 5.0) -> None:
        """Stop, letting the work under way end (a Redis command is never cut off)."""
        self._stop.set()
        self._wake.set()
        tasks, self._tasks = [*self._tasks, *self._doing], []
        if tasks:
            await asyncio.wait(tasks, timeout=wait)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._stop.clear()

    # --- waking -----------------------------------------------------------------------

    def on_notice(self, notice: Notice) -> None:
        """Listener sink: note which queue nodes have something to hand out."""
        kind = notice.kind
        if kind == NoticeKind.LISTENING:
            self._rescan = True
            self._wake.set()
        elif kind in (NoticeKind.CREATE, NoticeKind.CONFIG):
            self._wanted[notice.feed] = None  # may be a new queue node
            self._wake.set()
        elif kind == NoticeKind.DELETE:
            self.nodes.pop(notice.feed, None)
        elif kind in _WAKING and (kind != NoticeKind.STATE or notice.feed in self.nodes):
            if kind == NoticeKind.FINISH or (kind == NoticeKind.READY and notice.item_id):
                self._finished.append((notice.feed, notice.item_id or "", notice.result))
            if kind == NoticeKind.STATE:
                self._resubscribed.add(notice.feed)  # holds of former subscribers go back
            self._wanted[notice.feed] = None
            self._wake.set()

    async def _dispatch_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if self._rescan:
                    self._rescan = False
                    await self._scan()
                finished, self._finished = self._finished, []
                by_node: dict[str, list[tuple[str, bytes | None]]] = {}
                for node, job_id, result in finished:
                    if job_id:
                        by_node.setdefault(node, []).append((job_id, result))
                wanted, self._wanted = list(self._wanted), {}
                # together: their scripts share round trips, the next hand-out waits for none
                work: list[Coroutine[Any, Any, object]] = [
                    self._tell_publishers(node, jobs) for node, jobs in by_node.items()
                ]
                work += [self.dispatch(node) for node in wanted]
                await asyncio.gather(*map(self._logged, work))
            except Exception:
                log.exception("dispatching queue items failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.tick)

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, object]) -> None:
        """One node's work: a failure is logged (the next tick tries again), others go on."""
        try:
            await work
        except Exception:
            log.exception("queue work failed")

    async def _tick_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.tick)
            if self._stop.is_set():
                return
            try:
                await self._visit()
            except Exception as exc:
                log.warning("queue tick failed: %s", exc)

    async def _visit(self) -> None:
        """Reap the queue nodes this instance delivers that have a claim timeout, and hand
        out what waits on those with subscribers."""
        ours = [node for node in self.nodes if self._ours(node)]
        states = await self.service.store.states_of(ours)
        for node in ours:
            state = states[node]
            if state.config.node_kind == NodeKind.JOB and state.config.claim_timeout:
                await self.reap(node)
            if state.subscriptions:
                self._wanted[node] = None
        self._wake.set()

    async def _scan(self) -> None:
        """Learn every queue node from Redis (at start and after a notice gap)."""
        names = await self.service.list_nodes()
        states = await self.service.store.states_of(names)
        self.nodes = {
            name: state.config.node_kind
            for name, state in states.items()
            if state.exists and state.config.node_kind.queueing
        }
        self._wanted.update(dict.fromkeys(self.nodes))

    def _ours(self, node: str) -> bool:
        return self.router.delivers(node) and not self.router.standing_by

    # --- handing out ----------------------------------------------------------------------

    async def dispatch(self, node: str) -> int:
        """Hand ``node``'s waiting items to its free subscribers; returns how many went."""
        if not self._ours(node) or not self.sink.link_up:
            return 0
        # taken before the read: a change whose notice comes during it is for the next call
        resubscribed = node in self._resubscribed
        self._resubscribed.discard(node)
        state = (await self.service.store.states_of((node,)))[node]
        kind = state.config.node_kind
        if not state.exists or not state.is_node or not kind.queueing:
            self.nodes.pop(node, None)
            return 0
        self.nodes[node] = kind
        if not state.subscriptions and not resubscribed:
            return 0  # nobody to hand to (a Thoonk-only job feed): no script per put
        capacities = self.service.capacities(state)
        together = {sub.jid for sub in state.subscriptions if sub.options.queue_batch}
        most = min(MOST_BATCH, max(BATCH, sum(room for _, room in capacities)))
        sent = 0
        while True:
            try:
                handed = await self.service.queues.hand(node, kind, capacities, most)
            except FeedNotFound:
                self.nodes.pop(node, None)
                return sent
            notification = state.config.notification_type
            unsent, unsendable = self._send(node, handed, notification, together)
            sent += len(handed) - len(unsent) - len(unsendable)
            if unsendable:
                await self._set_aside(node, kind, unsendable)
            if unsent:
                await self.service.queues.give_back(node, kind, unsent)
                return sent
            if len(handed) < most and not unsendable:  # set aside: room for the next
                return sent

    def _send(
        self, node: str, handed: list[Handed], kind: NotificationType, together: set[str]
    ) -> tuple[list[Handed], list[Handed]]:
        """Send each handed item (those of a subscriber in ``together`` in one event);
        (those the link could not take, those no message can carry)."""
        done: set[int] = set()
        if together:
            groups: dict[str, list[int]] = {}
            for at, item in enumerate(handed):
                if item.jid in together:
                    groups.setdefault(item.jid, []).append(at)
            for jid, ats in groups.items():
                items = [(handed[at].id, handed[at].payload) for at in ats]
                if len(ats) > 1 and self.sink.hand_together(node, jid, items, kind):
                    done.update(ats)
        unsendable: list[Handed] = []
        for at, item in enumerate(handed):
            if at in done:
                continue
            outcome = self.sink.hand(node, item.jid, item.id, item.payload, kind)
            if outcome == Handing.LINK_DOWN:
                return [h for n, h in enumerate(handed) if n >= at and n not in done], unsendable
            if outcome == Handing.UNSENDABLE:
                unsendable.append(item)
        return [], unsendable

    async def _set_aside(self, node: str, kind: NodeKind, unsendable: list[Handed]) -> None:
        """Items no message can carry: a job is stalled (a Thoonk app may retry it), a
        queue item (already taken) is dropped; either way the line behind moves on."""
        for item in unsendable:
            log.warning(
                "node %.80r: item %.80r too big to send even bare: %s",
                node,
                item.id,
                "stalled" if kind == NodeKind.JOB else "dropped",
            )
            if kind == NodeKind.JOB:
                await self.service.queues.stall(node, item.id)

    async def reap(self, node: str) -> int:
        """Give back the node's claims held past its claim timeout; tell XMPP holders."""
        try:
            released = await self.service.queues.release(node, reap=True)
        except (FeedNotFound, ThoonkError):
            return 0
        for item in released:
            if item.holder:
                self.sink.unlocked(node, item.holder, item.id)
        if released:
            log.info("node %r: %d overdue claims given back", node, len(released))
        return len(released)

    async def _tell_publishers(self, node: str, jobs: list[tuple[str, bytes | None]]) -> None:
        """Jobs of ``node`` finished, (id, result) each: tell their XMPP publishers (with
        the results), on the delivering instance; one script call for them all."""
        if not self._ours(node):
            return
        try:
            publishers = await self.service.queues.finished(node, jobs)
        except ThoonkError as exc:
            log.warning("node %r: finishes of %d jobs not routed: %s", node, len(jobs), exc)
            return
        told = [
            (publisher, job_id, result)
            for publisher, (job_id, result) in zip(publishers, jobs, strict=True)
            if publisher is not None
        ]
        if not told:
            return  # jobs a Thoonk app put: nobody to tell, no state to read
        kind = (await self.service.store.states_of((node,)))[node].config.notification_type
        for publisher, job_id, result in told:
            self.sink.retracted(node, publisher, job_id, result, kind)

    # --- subscribers going away ------------------------------------------------------------

    async def unavailable(self, jid: str) -> None:
        """A subscriber sent unavailable presence: release its holds, end its subscriptions."""
        for node, _ in await self.service.release_subscriber(jid):
            log.info("node %r: %s went unavailable; its holds were given back", node, jid)

    async def bounced(self, jid: str, node: str, item_id: str) -> None:
        """The event handing ``item_id`` to ``jid`` bounced: the subscriber cannot be
        reached, so what it holds goes back and its subscription ends (as if unavailable)."""
        for _, released in await self.service.release_subscriber(jid, node):
            log.info(
                "node %r: %s bounced %r; %d holds given back", node, jid, item_id, len(released)
            )
