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
import contextlib
import logging
from collections.abc import Awaitable, Iterable, Mapping

from thoonk_xmpp.thoonk import Notice, NoticeKind

from .access import Action, may
from .events import (
    Event,
    ItemPublished,
    ItemRetracted,
    NodeConfigured,
    NodeDeleted,
    NodePurged,
    NotificationSink,
    Recipient,
)
from .model import Affiliation, Item, PublishNodeFull, SendLastPublished, Subscription
from .node_config import NodeConfig
from .node_states import NodeState
from .service import PubSubService
from .store import bare

log = logging.getLogger(__name__)

#: Most notices routed with one read of their nodes.
_NOTICE_BATCH = 256
#: Nodes whose recipient lists are kept between notices.
_RECIPIENTS_KEPT = 4096

#: A node's config and the recipients of its events; None when it is not a node.
Loaded = tuple[NodeConfig, tuple[Recipient, ...]] | None


class EventRouter:
    """Turns notices into events and delivers them in order through a bounded queue."""

    def __init__(
        self, service: PubSubService, sink: NotificationSink, *, queue_size: int = 10_000
    ) -> None:
        self.service = service
        self.store = service.store
        self.redis = service.store.redis
        self._listener = service.thoonk.listener
        self.sink = sink
        self._queue: asyncio.Queue[Event] = asyncio.Queue(queue_size)
        self._notices: asyncio.Queue[Notice] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._routing: asyncio.Task[None] | None = None
        # set while the routing task works on a batch / the delivery task on an event
        self._batching = False
        self._delivering = False
        # node → (the state they were computed from, recipients): recomputed when it changes
        self._recipients_of: dict[str, tuple[NodeState, tuple[Recipient, ...]]] = {}
        # node → number of retract notices still to swallow after a purge notice, or
        # after a trim notice of a discard-oldest node
        # (the listener epoch it was counted in: the retracts it waits for come in that one)
        self._swallowing: dict[str, tuple[int | None, int]] = {}

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._deliver_forever(), name="pubsub-delivery")
        if self._routing is None or self._routing.done():
            self._routing = asyncio.create_task(self._route_forever(), name="pubsub-routing")

    async def aclose(self) -> None:
        for task in (self._routing, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._routing = self._task = None

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
                await self.sink.deliver(event)
            except Exception:
                log.exception("delivering %r failed", event)
            finally:
                self._delivering = False
                self._queue.task_done()

    async def _emit(self, event: Event) -> None:
        if event.recipients:
            await self._queue.put(event)

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
            or notice.kind not in self._ROUTED
        ):
            return False
        state = self.store.states.cached(notice.feed)
        if state is None:
            return False
        forced, swallowed = self._take_retract(notice)
        if swallowed:
            return True
        event = self._decide(notice, self._loaded(state), forced)
        if event is None or not event.recipients:
            return True
        if self._queue.empty() and not self._delivering:
            try:
                if self.sink.deliver_now(event):
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
            try:
                await self._route(notice, loaded)
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
        }
    )

    async def _route(self, notice: Notice, loaded_nodes: dict[str, Loaded] | None = None) -> None:
        if notice.kind == NoticeKind.DELETE:
            await self._node_deleted(notice.feed)
            return
        if notice.kind not in self._ROUTED:
            return
        forced, swallowed = self._take_retract(notice)
        if swallowed:
            return
        if loaded_nodes is not None and notice.feed in loaded_nodes:
            loaded = loaded_nodes[notice.feed]
        else:
            loaded = await self._load(notice.feed)
        event = self._decide(notice, loaded, forced)
        if event is not None:
            await self._emit(event)

    def _take_retract(self, notice: Notice) -> tuple[bool, bool]:
        """For a retract notice: (asked with notify="true", swallowed after a purge or trim)."""
        if notice.kind != NoticeKind.RETRACT:
            return False, False
        # taken here, so that no entry outlives its notice whatever the outcome
        asked = (notice.feed, notice.item_id or "")
        forced = asked in self.service.forced_retract_notices
        self.service.forced_retract_notices.discard(asked)
        return forced, self._swallow(notice.feed)

    def _decide(self, notice: Notice, loaded: Loaded, forced: bool) -> Event | None:
        """The event a routed notice makes, given its node (also counts what to swallow)."""
        if loaded is None:
            return None
        config, recipients = loaded
        if notice.count and (
            notice.kind == NoticeKind.PURGE
            or (
                notice.kind == NoticeKind.TRIM
                and config.publish_node_full == PublishNodeFull.DISCARD_OLDEST
            )
        ):
            epoch = self._listener.epoch
            counted_in, left = self._swallowing.get(notice.feed, (epoch, 0))
            if counted_in != epoch:  # those retracts were lost with the old subscription
                left = 0
            self._swallowing[notice.feed] = (epoch, left + notice.count)
        if not config.deliver_notifications:
            return None
        return self._event_for(notice, config, recipients, forced)

    @staticmethod
    def _event_for(
        notice: Notice, config: NodeConfig, recipients: tuple[Recipient, ...], forced: bool
    ) -> Event | None:
        node, kind_type, item_id = notice.feed, config.notification_type, notice.item_id or ""
        match notice.kind:
            case NoticeKind.PUBLISH | NoticeKind.EDIT:
                payload = notice.item if config.deliver_payloads else None
                return ItemPublished(node, recipients, kind_type, item_id, payload)
            case NoticeKind.RETRACT:
                if config.notify_retract or forced:
                    return ItemRetracted(node, recipients, kind_type, item_id)
            case NoticeKind.PURGE:
                if config.notify_retract:
                    return NodePurged(node, recipients, kind_type)
            case NoticeKind.CONFIG:
                if config.notify_config:
                    shown = config if config.deliver_payloads else None
                    return NodeConfigured(node, recipients, kind_type, shown)
        return None

    def _swallow(self, node: str) -> bool:
        """Take one retract notice announced by a purge or a silent trim."""
        counted_in, left = self._swallowing.get(node, (None, 0))
        if left <= 0:
            return False
        if counted_in != self._listener.epoch:
            # the listener reconnected since: the retracts still owed were lost with the
            # old subscription, so this one is a new retraction
            del self._swallowing[node]
            return False
        if left == 1:
            del self._swallowing[node]
        else:
            self._swallowing[node] = (counted_in, left - 1)
        return True

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
        if not state.is_feed:
            return None
        known = self._recipients_of.get(state.node)
        if known is not None and known[0] is state:
            return state.config, known[1]
        recipients = self._recipients(state.config, state.subscriptions, state.affiliations)
        self._recipients_of[state.node] = (state, recipients)
        if len(self._recipients_of) > _RECIPIENTS_KEPT:
            del self._recipients_of[next(iter(self._recipients_of))]
        return state.config, recipients

    @staticmethod
    def _recipients(
        config: NodeConfig, subs: Iterable[Subscription], affs: Mapping[str, Affiliation]
    ) -> tuple[Recipient, ...]:
        by_jid: dict[str, list[str]] = {}
        for sub in subs:
            allowed = may(
                Action.BE_NOTIFIED,
                affs.get(bare(sub.jid)),
                access=config.access_model,
                publish_model=config.publish_model,
                subscribed=True,
            )
            if allowed:
                by_jid.setdefault(sub.jid, []).append(sub.subid)
        return tuple(Recipient(jid, tuple(sorted(ids))) for jid, ids in sorted(by_jid.items()))

    async def _node_deleted(self, node: str) -> None:
        if await self.service.thoonk.feed_exists(node):
            # Created again before this notice came: create_node already dropped the old
            # subscriptions and affiliations, and the new ones must stay.
            return
        facts = await self.store.tombstone(node)
        subs = await self.store.subscriptions(node)
        affs = await self.store.affiliations(node)
        redirect = facts.get("redirect")
        # The feed's config is gone: what the delete needs was left in the tombstone
        # (absent when a Thoonk app deleted the feed: the service defaults apply).
        known = {
            var: str(facts[field])
            for field, var in (
                ("notification_type", "pubsub#notification_type"),
                ("access_model", "pubsub#access_model"),
            )
            if field in facts
        }
        config = self.service.node_config_of(known)
        if bool(facts.get("notify_delete", True)) and subs:
            recipients = self._recipients(config, subs, affs)
            await self._emit(
                NodeDeleted(
                    node,
                    recipients,
                    config.notification_type,
                    redirect if isinstance(redirect, str) else None,
                )
            )
        await self.store.drop_node(node)

    # --- direct sends -----------------------------------------------------------------

    async def send_last_item(self, subscription: Subscription, item: Item | None) -> None:
        """Send a node's last item to one new subscriber (send_last_published_item)."""
        if item is None:
            return
        loaded = await self._load(subscription.node)
        if loaded is None:
            return
        config, _ = loaded
        if (
            config.send_last_published_item != SendLastPublished.ON_SUB
            or not config.deliver_notifications
        ):
            return
        payload = item.payload if config.deliver_payloads else None
        recipient = Recipient(subscription.jid, (subscription.subid,))
        await self._emit(
            ItemPublished(
                subscription.node,
                (recipient,),
                config.notification_type,
                item.id,
                payload,
                replay=True,
                published_ms=item.published_ms,
            )
        )
