"""Job and queue nodes (XEP-0254 PubSub Queueing): the service's operations on them.

A node whose Thoonk feed is a ``job`` (or ``queue``) feed is a queue node: a
publish is a Thoonk put, each item goes to ONE subscriber (handed out by
:mod:`.dispatch`), the holder's retract is a Thoonk finish (with an optional
result), its unlock a Thoonk cancel.  Mixed into
:class:`~thoonk_xmpp.service.service.PubSubService`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from thoonk_xmpp.thoonk import FeedNotFound, InvalidName
from thoonk_xmpp.thoonk.names import decode_id, new_ids

from .access import Action
from .errors import (
    BadRequest,
    Forbidden,
    ItemExists,
    ItemHeld,
    ItemNotFound,
    ItemNotHeld,
    ItemRequired,
    NodeNotFound,
    PayloadRequired,
    PayloadTooBig,
)
from .model import Actor, Affiliation, Item, ItemsPage, NodeKind, Subscription
from .queue_store import QueueStore, Released
from .store import bare

if TYPE_CHECKING:
    from .node_config import NodeConfig
    from .node_states import NodeState
    from .policy import ServicePolicy
    from .service import NodeAccess
    from .store import NodeStore

#: Items a subscriber holds at once when its subscription says nothing else
#: (``pubsub#queue_requests``).
DEFAULT_QUEUE_REQUESTS: Final = 1

#: Claim timeout (seconds) of job nodes created over XMPP without one.
DEFAULT_CLAIM_TIMEOUT: Final = 60

#: Longest item id (UTF-8 bytes) a queue put takes: an item is handed out in a message
#: that names it (twice), so an id near the stanza size could never be sent.
MAX_QUEUE_ITEM_ID_BYTES: Final = 1023


@dataclass(frozen=True, slots=True)
class Retracted:
    """What a retract on a queue node did: items finished by their holder, or removed."""

    node: str
    #: The ids the sender held and finished (it gets their retract notification).
    finished: tuple[str, ...]


def queue_requests(subscription: Subscription) -> int:
    """How many items ``subscription`` may hold at once: its ``pubsub#queue_requests``
    (none while it asks for no delivery, ``pubsub#deliver`` = 0)."""
    if not subscription.options.deliver:
        return 0
    return subscription.options.queue_requests or DEFAULT_QUEUE_REQUESTS


def _check_ids(ids: Iterable[str | None]) -> None:
    for item_id in ids:
        if item_id is not None and len(item_id.encode("utf-8", "surrogateescape")) > (
            MAX_QUEUE_ITEM_ID_BYTES
        ):
            raise BadRequest(f"an item id is longer than {MAX_QUEUE_ITEM_ID_BYTES} bytes")


class QueueOps:
    """Mixed into PubSubService: publish, retract, unlock and retrieve on queue nodes."""

    store: NodeStore
    policy: ServicePolicy
    queues: QueueStore

    if TYPE_CHECKING:

        async def check(self, actor: Actor, node: str, action: Action) -> NodeAccess: ...

        @staticmethod
        def _check_preconditions(
            config: NodeConfig, wanted: Mapping[str, Sequence[str]], cap: int | None
        ) -> None: ...

    async def queue_kind(self, node: str) -> NodeKind | None:
        """The node's kind if it is a queue node (job or queue), else None."""
        state = (await self.store.states_of((node,)))[node]
        kind = state.config.node_kind
        return kind if state.exists and state.is_node and kind.queueing else None

    @staticmethod
    def capacities(state: NodeState) -> list[tuple[str, int]]:
        """(subscriber JID, queue_requests) of every subscription of a queue node."""
        return [(sub.jid, queue_requests(sub)) for sub in state.subscriptions]

    async def put_queued(
        self,
        actor: Actor,
        sender: str,
        node: str,
        items: Sequence[tuple[str | None, bytes | None]],
        preconditions: Mapping[str, Sequence[str]] | None = None,
    ) -> list[str]:
        """Publish to a queue node: a Thoonk put of each item; returns the ids used.
        ``preconditions`` (publish-options) must hold, as on any node."""
        access = await self.check(actor, node, Action.PUBLISH)
        kind = access.config.node_kind
        if preconditions:
            self._check_preconditions(access.config, preconditions, self.policy.max_items_cap)
        if not items:
            raise ItemRequired()
        limit = self.policy.max_payload_size
        if access.config.max_payload_size is not None:
            limit = min(limit, access.config.max_payload_size)
        for _, payload in items:
            if payload is None:
                raise PayloadRequired(node)
            if len(payload) > limit:
                raise PayloadTooBig(len(payload), limit)
        _check_ids(item_id for item_id, _ in items)
        fresh = iter(new_ids(len(items)))
        entries = [
            (decode_id(next(fresh)) if item_id is None else item_id, payload or b"")
            for item_id, payload in items
        ]
        if len({entry_id for entry_id, _ in entries}) != len(entries):
            raise BadRequest("an item id appears twice")
        try:
            taken = await self.queues.put(node, kind, sender, entries)
        except InvalidName as exc:
            raise BadRequest(str(exc)) from None
        except FeedNotFound:
            raise NodeNotFound(node) from None
        if taken is not None:
            raise ItemExists(node, taken)
        return [entry_id for entry_id, _ in entries]

    async def _standing(self, actor: Actor, node: str) -> tuple[NodeKind, bool, bool]:
        """(kind, subscribed, may retract any item) of the actor on a queue node."""
        access = await self.check(actor, node, Action.SUBSCRIBE)
        state = await self.store.state(node)
        affiliation = access.affiliation
        may_retract = self.policy.is_admin(actor) or affiliation in (
            Affiliation.OWNER,
            Affiliation.PUBLISHER,
        )
        return access.config.node_kind, actor.bare in state.subscribers, may_retract

    async def retract_queued(
        self,
        actor: Actor,
        sender: str,
        node: str,
        ids: Sequence[str],
        results: Mapping[str, bytes] | None = None,
    ) -> Retracted:
        """Retract on a queue node, one item or several, all or none: the holder finishes
        its jobs (with their results, if given), a publisher or owner removes them; else
        the XEP-0254 error of the first item refused, and nothing changes."""
        if not ids:
            raise ItemRequired("an item id")
        if len(set(ids)) != len(ids):
            raise BadRequest("an item id appears twice")
        try:
            kind, subscribed, may_retract = await self._standing(actor, node)
        except Forbidden:
            kind, subscribed, may_retract = NodeKind.JOB, False, False
        if not subscribed and not may_retract:
            raise Forbidden("retract items", node)
        results = results or {}
        try:
            done = await self.queues.done(
                node, kind, [(i, results.get(i)) for i in ids], sender, may_retract=may_retract
            )
        except InvalidName as exc:
            raise BadRequest(str(exc)) from None
        except FeedNotFound:
            raise NodeNotFound(node) from None
        if done.refused is not None:
            condition, item_id = done.refused
            self._refused(condition, node, item_id)
            raise ValueError(f"unknown queue_done refusal {condition!r}")
        finished = tuple(i for i, outcome, _ in done.outcomes if outcome == "finished")
        return Retracted(node, finished)

    async def unlock(self, actor: Actor, sender: str, node: str, item_id: str) -> str:
        """The holder gives a job back (XEP-0254 unlock = Thoonk cancel); returns the holder."""
        kind, subscribed, _ = await self._standing(actor, node)
        if kind != NodeKind.JOB:
            raise BadRequest(f"node {node!r} is a queue: its items are not held")
        if not subscribed:
            raise Forbidden("unlock items", node)
        try:
            outcome, holder = await self.queues.unlock(node, item_id, sender)
        except InvalidName as exc:
            raise BadRequest(str(exc)) from None
        except FeedNotFound:
            raise NodeNotFound(node) from None
        self._refused(outcome, node, item_id)
        return holder

    @staticmethod
    def _refused(outcome: str, node: str, item_id: str) -> None:
        match outcome:
            case "item-not-found":
                raise ItemNotFound(node, item_id)
            case "conflict":
                raise ItemHeld(node, item_id)
            case "unexpected-request":
                raise ItemNotHeld(node, item_id)

    async def queued_items(
        self, actor: Actor, node: str, ids: Sequence[str] | None, max_items: int | None
    ) -> ItemsPage:
        """Items of a queue node: those pending (waiting or held), and for a finished job
        asked for by id, its kept result."""
        await self.check(actor, node, Action.RETRIEVE_ITEMS)
        try:
            pending = dict(await self.queues.pending(node, ids))
        except InvalidName as exc:
            raise BadRequest(str(exc)) from None
        if not ids:
            found = [Item(i, p) for i, p in sorted(pending.items())]
            if max_items is not None:
                found = found[:max_items]
            return ItemsPage(found, len(found), 0 if found else None)
        items: list[Item] = []
        for item_id in ids:
            if item_id in pending:
                items.append(Item(item_id, pending[item_id]))
                continue
            result = await self.queues.result(node, item_id)
            if result is not None:
                items.append(Item(item_id, result, finished=True))
        if not items:
            raise ItemNotFound(node, ids[0])
        return ItemsPage(items, len(items), 0)

    async def release_subscriber(
        self, jid: str, node: str | None = None
    ) -> list[tuple[str, list[Released]]]:
        """A subscriber went unavailable (XEP-0254 §Business rules), or a delivery to it
        bounced: give back what it holds and end its subscriptions to queue nodes (its
        own, or its bare JID's), on ``node`` or on all of them."""
        released: list[tuple[str, list[Released]]] = []
        for sub in await self.store.jid_subscriptions(bare(jid)):
            # a full JID's unavailability ends its own subscription and its bare JID's;
            # a bare JID's (a bounce the server sent for the account) all of them
            mine = sub.jid in (jid, bare(jid)) or jid == bare(jid)
            if not mine or node not in (None, sub.node):
                continue
            kind = await self.queue_kind(sub.node)
            if kind is None:
                continue
            try:
                await self.store.unsubscribe(sub.node, [sub])
            except LookupError:
                continue  # gone meanwhile
            given: list[Released] = []
            if kind == NodeKind.JOB:
                try:
                    given = await self.queues.release(sub.node, jids=(sub.jid,))
                except FeedNotFound:
                    continue
            released.append((sub.node, given))
        return released
