"""The event router: Thoonk notices in, events with their recipients out, in order.

Notifications are driven by notices, never by the request path: an item
published by any Thoonk client reaches subscribers exactly like an XMPP
publish.  At light load a notice is routed as the listener hands it over
(its node's state cached, nothing queued before it) and its event goes
straight to the sink.  Otherwise notices queue for one routing task, which
takes every notice already waiting as a batch, reads the state of the batch's
nodes in one round trip at most (after the whole batch arrived, so never
older than any of its notices), and queues the events in notice order for one
delivery task (so events of a node keep their order and the IQ path never
waits for fan-out).
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable

from thoonk_xmpp.thoonk import Notice, NoticeKind, keys

from .delivering import Delivering, Loaded, MarkPassed
from .delivery import DeliveryPolicy
from .direct_events import DirectEvents
from .events import (
    Event,
    ItemMoved,
    ItemPublished,
    ItemRetracted,
    NodeConfigured,
    NodePurged,
    NotificationSink,
)
from .model import NodeKind, PublishNodeFull, Subscription
from .node_config import NodeConfig
from .node_states import NodeState
from .option_delivery import Audience, OptionDelivery, PresenceSource, audience_of
from .service import PubSubService
from .subscription_events import approved, subscription_events

log = logging.getLogger(__name__)

#: Most notices routed with one read of their nodes.
_NOTICE_BATCH = 256
#: Nodes whose recipient lists are kept between notices.
_RECIPIENTS_KEPT = 4096


class EventRouter(OptionDelivery, Delivering, DirectEvents):
    """Turns notices into events and delivers them in order through a bounded queue."""

    def __init__(
        self,
        service: PubSubService,
        sink: NotificationSink,
        *,
        queue_size: int = 10_000,
        delivery: DeliveryPolicy | None = None,
        presence: PresenceSource | None = None,
    ) -> None:
        super().__init__(service, sink, queue_size=queue_size, delivery=delivery)
        # the presence the component hears, kept in Redis (service/presence.py), by default
        self._init_options(presence or service.presence)
        # node → (the state it was computed from, audience): recomputed when it changes
        self._recipients_of: dict[str, tuple[NodeState, Audience]] = {}
        # node → (the listener epoch it was counted in, retract notices still owed, whether
        # they are announced): after a notify notice (announced whatever the node says), a
        # purge notice or a discard-oldest node's trim notice (swallowed). The retracts come
        # in the epoch of the notice that announced them, or never.
        self._owed: dict[str, tuple[int | None, int, bool]] = {}
        # ordered node → the item its last notice published: an insert's publish notice
        # is followed by its position notice, and an append's (":end") says nothing new
        self._appending: dict[str, str] = {}

    # --- notices --------------------------------------------------------------------

    def on_notice(self, notice: Notice) -> Awaitable[None] | None:
        """Listener sink: route one Thoonk notice.

        When nothing is queued before it and its node's state is cached, the
        notice is routed here and its event handed to the sink at once (no task
        hops: the common case of light load); otherwise it queues for the
        routing task.  Returns an awaitable only when the listener must wait:
        the notice queue is full, or the router is not started (then the
        notice is routed by the awaitable).
        """
        self.store.states.on_notice(notice)  # whichever sink runs first
        if notice.kind == NoticeKind.LISTENING:
            self.ledger.begin_gap()  # notices were lost: the catch-up notice follows
        elif notice.kind == NoticeKind.MARK and notice.instance != self.service.thoonk.instance:
            return None
        if self._routing is not None and not self._routing.done():
            if self._route_now(notice):
                return None
            try:
                self._notices.put_nowait(notice)
            except asyncio.QueueFull:
                return self._notices.put(notice)
            return None
        return self._route_logged(notice)

    async def _route_logged(self, notice: Notice) -> None:
        try:
            await self._route(notice)
        except Exception:
            log.exception("routing %r failed", notice)

    def _route_now(self, notice: Notice) -> bool:
        """Route and deliver ``notice`` without waiting, if order allows; False if not done."""
        if (
            not self._notices.empty()
            or self._batching
            or self._queue.full()  # checked first: nothing below may wait for room
        ):
            return False
        if notice.kind == NoticeKind.MARK:
            if self._queue.empty() and not self._delivering:
                self.ledger.mark_passed(notice.count or 0)
            else:
                self._queue.put_nowait(MarkPassed(notice.count or 0))
            return True
        if notice.kind not in self._ROUTED:
            return False
        if not self.delivers(notice.feed):
            return True  # another instance sends this node's events
        state = self.store.states.cached(notice.feed)
        if state is None or self._special(self._loaded(state)):
            return False  # digests and presence are looked up in Redis
        self._forget_sent(notice)
        forced, swallowed = self._take_retract(notice)
        if swallowed:
            return True
        event = self._decide(notice, self._loaded(state), forced)
        if event is None or not event.recipients or not self._deliverable(event):
            return True
        if self._queue.empty() and not self._delivering:
            try:
                if self.sink.deliver_now(event):
                    self._handed(event)
                    return True
            except Exception:
                log.exception("delivering %r failed", event)
                return True
        self._queue.put_nowait(event)  # behind earlier events; room was checked above
        return True

    async def _route_forever(self) -> None:
        while True:
            batch = [await self._notices.get()]
            while len(batch) < _NOTICE_BATCH and not self._notices.empty():
                batch.append(self._notices.get_nowait())
            self._taken += len(batch)
            self._batching = True
            try:
                await self._route_batch(batch)
            finally:
                self._batching = False
                for _ in batch:
                    self._notices.task_done()

    async def _route_batch(self, batch: list[Notice]) -> None:
        nodes = {n.feed for n in batch if n.kind in self._ROUTED}
        try:
            loaded = await self._load_many(sorted(nodes))
        except Exception:
            log.exception("reading nodes %s failed", sorted(nodes))
            loaded = {}
        for notice in batch:
            self._dequeued += 1
            try:
                await self._route(notice, loaded, self._dequeued)
            except Exception:
                log.exception("routing %r failed", notice)
            if notice.kind == NoticeKind.DELETE:
                # the node may be gone or re-created: later notices read it afresh
                loaded.pop(notice.feed, None)

    _ROUTED = frozenset(
        {
            NoticeKind.PUBLISH,
            NoticeKind.EDIT,
            NoticeKind.RETRACT,
            NoticeKind.PURGE,
            NoticeKind.TRIM,
            NoticeKind.CONFIG,
            NoticeKind.NOTIFY,
            NoticeKind.POSITION,
        }
    )
    _ROUTED_BY_NODE = _ROUTED | {NoticeKind.DELETE}

    async def _route(
        self,
        notice: Notice,
        loaded_nodes: dict[str, Loaded] | None = None,
        position: int | None = None,
    ) -> None:
        if notice.kind in self._ROUTED_BY_NODE and not self.delivers(notice.feed):
            return  # another instance sends this node's events
        if notice.kind == NoticeKind.DELETE:
            self.ledger.forget(notice.feed)
            self._owed.pop(notice.feed, None)
            if not self.standing_by:  # the active instance tells and cleans up
                await self._node_deleted(notice.feed)
            return
        if notice.kind == NoticeKind.LISTENING:
            await self._catch_up()
            return
        if notice.kind == NoticeKind.MARK:
            await self._queue.put(MarkPassed(notice.count or 0))
            return
        if notice.kind not in self._ROUTED:
            if notice.kind == NoticeKind.STATE and notice.item:
                await self._subscription_changed(notice.feed, notice.item)
            return
        self._forget_sent(notice)
        forced, swallowed = self._take_retract(notice)
        if swallowed:
            return
        if loaded_nodes is not None and notice.feed in loaded_nodes:
            loaded = loaded_nodes[notice.feed]
        else:
            loaded = await self._load(notice.feed)
        event = self._decide(notice, loaded, forced, position)
        if event is not None:
            await self._emit(event)
            await self._emit_special(event, self._special(loaded))

    def start(self) -> None:
        super().start()
        self._start_options()

    async def aclose(self) -> None:
        await self._stop_options()
        await super().aclose()

    @staticmethod
    def _special(loaded: Loaded) -> tuple[Subscription, ...]:
        """The node's subscriptions decided event by event (digests, presence)."""
        return () if loaded is None else loaded[1].special

    async def _subscription_changed(self, node: str, facts: bytes) -> None:
        """A state notice telling what happened to subscriptions (:mod:`.subscription_events`)."""
        if self.delivers(node):
            state = (await self.store.states_of((node,)))[node]
            told = keys.state_facts(facts)
            for event in subscription_events(state, told):
                await self._emit(event)
            for subscription in approved(state, told):  # their last item, as on subscribing
                await self.send_last_item(subscription, await self.service.last_item(node))

    def _forget_sent(self, notice: Notice) -> None:
        """A retraction (in routing order): the same id and content again would be new."""
        if notice.kind == NoticeKind.RETRACT:
            self.ledger.forget(notice.feed, notice.item_id)
        elif notice.kind == NoticeKind.PURGE:
            self.ledger.forget(notice.feed)

    def _take_retract(self, notice: Notice) -> tuple[bool, bool]:
        """For a retract notice: (asked to be announced, swallowed after a purge or trim).

        A notify notice is counted here too, whatever the node's state.
        """
        if notice.kind == NoticeKind.NOTIFY:
            self._owe(notice.feed, notice.count or 0, announced=True)
            return False, True
        if notice.kind != NoticeKind.RETRACT:
            return False, False
        counted_in, left, announced = self._owed.get(notice.feed, (None, 0, False))
        if left <= 0:
            return False, False
        if counted_in != self._listener.epoch:
            # the listener reconnected since: the retracts still owed were lost with the
            # old subscription, so this one is a new retraction
            del self._owed[notice.feed]
            return False, False
        if left == 1:
            del self._owed[notice.feed]
        else:
            self._owed[notice.feed] = (counted_in, left - 1, announced)
        return announced, not announced

    def _owe(self, node: str, count: int, *, announced: bool) -> None:
        epoch = self._listener.epoch
        counted_in, left, _ = self._owed.get(node, (epoch, 0, announced))
        if counted_in != epoch:
            left = 0
        if count:
            self._owed[node] = (epoch, left + count, announced)

    def _decide(
        self, notice: Notice, loaded: Loaded, forced: bool, position: int | None = None
    ) -> Event | None:
        """The event a routed notice makes, given its node (also counts what to swallow)."""
        if loaded is None:
            return None
        config, audience = loaded
        if notice.count and (
            notice.kind == NoticeKind.PURGE
            or (
                notice.kind == NoticeKind.TRIM
                and config.publish_node_full == PublishNodeFull.DISCARD_OLDEST
            )
        ):
            self._owe(notice.feed, notice.count, announced=False)
        digest = None
        ordered = config.node_kind == NodeKind.SORTED_FEED
        # items of ordered nodes are not tracked (no catch-up: sorted feeds keep no times)
        if notice.kind in (NoticeKind.PUBLISH, NoticeKind.EDIT) and not ordered:
            digest = zlib.crc32(notice.item or b"")
            if self.ledger.take_caught(notice.feed, notice.item_id or "", digest, position):
                return None  # a catch-up sent this very item already
        if ordered and self._appended(notice):
            return None
        if not config.deliver_notifications:
            return None
        return self._event_for(notice, config, audience, forced, digest)

    @staticmethod
    def _event_for(
        notice: Notice,
        config: NodeConfig,
        audience: Audience,
        forced: bool,
        digest: int | None,
    ) -> Event | None:
        node, kind_type, item_id = notice.feed, config.notification_type, notice.item_id or ""
        recipients = audience.items
        if notice.kind in (NoticeKind.PURGE, NoticeKind.CONFIG):
            recipients = audience.everyone  # node events: subscription_type=nodes too
        match notice.kind:
            case NoticeKind.PUBLISH | NoticeKind.EDIT:
                payload = notice.item if config.deliver_payloads else None
                return ItemPublished(node, recipients, kind_type, item_id, payload, digest=digest)
            case NoticeKind.RETRACT:
                if config.notify_retract or forced:
                    return ItemRetracted(node, recipients, kind_type, item_id)
            case NoticeKind.POSITION:
                return ItemMoved(node, recipients, kind_type, item_id, notice.position or "")
            case NoticeKind.PURGE:
                if config.notify_retract:
                    return NodePurged(node, recipients, kind_type)
            case NoticeKind.CONFIG:
                if config.notify_config:
                    shown = config if config.deliver_payloads else None
                    return NodeConfigured(node, recipients, kind_type, shown)
        return None

    def _appended(self, notice: Notice) -> bool:
        """Whether ``notice`` is the position notice of an item just appended (not sent)."""
        published = self._appending.pop(notice.feed, None)
        if notice.kind == NoticeKind.PUBLISH:
            self._appending[notice.feed] = notice.item_id or ""
        return (
            notice.kind == NoticeKind.POSITION
            and notice.position == ":end"
            and published == notice.item_id
        )

    async def _load(self, node: str) -> Loaded:
        """The node's config and who may be notified (cached; see :mod:`.node_states`)."""
        return (await self._load_many([node]))[node]

    async def _load_many(self, nodes: list[str]) -> dict[str, Loaded]:
        """:meth:`_load` for several nodes, in one round trip at most."""
        if not nodes:
            return {}
        states = await self.store.states_of(nodes)
        return {node: self._loaded(state) for node, state in states.items()}

    def _loaded(self, state: NodeState) -> Loaded:
        if not state.is_node:
            return None
        known = self._recipients_of.get(state.node)
        if known is not None and known[0] is state:
            return state.config, known[1]
        audience = audience_of(state.config, state.subscriptions, state.affiliations)
        self._recipients_of[state.node] = (state, audience)
        if len(self._recipients_of) > _RECIPIENTS_KEPT:
            del self._recipients_of[next(iter(self._recipients_of))]
        return state.config, audience
