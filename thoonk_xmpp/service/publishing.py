"""Publishing and retracting items (XEP-0060 §7.1, §7.2), mixed into the service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from thoonk_xmpp.thoonk import Feed, InvalidName, SortedFeed
from thoonk_xmpp.thoonk import FeedNotFound as ThoonkFeedNotFound
from thoonk_xmpp.thoonk import ItemNotFound as ThoonkItemNotFound
from thoonk_xmpp.thoonk.names import decode_id, new_ids

from . import node_config
from .access import Action
from .errors import (
    BadRequest,
    ItemForbidden,
    ItemNotFound,
    ItemRequired,
    NodeNotFound,
    PayloadRequired,
    PayloadTooBig,
    PreconditionNotMet,
)
from .model import Actor, NodeKind
from .node_config import NodeConfig
from .ordering import publish_entries, take_placement
from .outcomes import settled
from .policy import ServicePolicy

if TYPE_CHECKING:
    from .queueing import Retracted
    from .service import NodeAccess


class PublishingOps:
    """Mixed into PubSubService: publish and retract (queue nodes go to QueueOps)."""

    policy: ServicePolicy

    if TYPE_CHECKING:

        async def check(self, actor: Actor, node: str, action: Action) -> NodeAccess: ...

        async def _feed(self, node: str) -> Feed[bytes] | SortedFeed[bytes]: ...

        async def put_queued(
            self,
            actor: Actor,
            sender: str,
            node: str,
            items: Sequence[tuple[str | None, bytes | None]],
            preconditions: Mapping[str, Sequence[str]] | None = None,
        ) -> list[str]: ...

        async def retract_queued(
            self,
            actor: Actor,
            sender: str,
            node: str,
            ids: Sequence[str],
            results: Mapping[str, bytes] | None = None,
        ) -> Retracted: ...

    async def publish(
        self,
        actor: Actor,
        node: str,
        items: Sequence[tuple[str | None, bytes | None]],
        preconditions: Mapping[str, Sequence[str]] | None = None,
    ) -> list[str]:
        """Publish items (id or None, payload or None); returns the ids used."""
        access = await self.check(actor, node, Action.PUBLISH)
        config = access.config
        if config.node_kind.queueing:
            return await self.put_queued(actor, actor.bare, node, items, preconditions)
        placement, preconditions = take_placement(
            preconditions, ordered=config.node_kind == NodeKind.SORTED_FEED
        )
        if preconditions:
            self._check_preconditions(config, preconditions, self.policy.max_items_cap)
        self._check_items(node, config, items)
        feed = await self._feed(node)
        # ids made here, not by the feed: after a lost connection they tell whether it ran
        fresh = iter(new_ids(sum(1 for item_id, _ in items if item_id is None) or 1))
        entries = [
            (payload or b"", decode_id(next(fresh)) if item_id is None else item_id)
            for item_id, payload in items
        ]
        if not entries:
            entries = [(b"", decode_id(next(fresh)))]

        async def stored() -> list[str] | None:
            ids = [item_id for _, item_id in entries]
            found = await feed.get_items(ids)
            same = all(got == payload for got, (payload, _) in zip(found, entries, strict=True))
            return ids if same else None

        try:
            return await settled(lambda: publish_entries(feed, entries, placement), stored)
        except ThoonkItemNotFound as exc:  # the position's pivot
            raise ItemNotFound(node, str(exc.item_id)) from None
        except InvalidName as exc:
            raise BadRequest(str(exc)) from None
        except ThoonkFeedNotFound:
            raise NodeNotFound(node) from None

    def _check_items(
        self, node: str, config: NodeConfig, items: Sequence[tuple[str | None, bytes | None]]
    ) -> None:
        # XEP-0060 §4.3 table and §7.1.3.6: persistent or payload nodes need an item,
        # payload nodes a payload; a transient notification-only node takes no item.
        needs_item = config.persist_items or config.deliver_payloads
        if not items and needs_item:
            raise ItemRequired()
        if items and not needs_item:
            raise ItemForbidden(node)
        limit = self.policy.max_payload_size  # the event must fit in one stanza
        if config.max_payload_size is not None:
            limit = min(limit, config.max_payload_size)
        for _, payload in items:
            if payload is None and config.deliver_payloads:
                raise PayloadRequired(node)
            size = len(payload or b"")
            if size > limit:
                raise PayloadTooBig(size, limit)

    @staticmethod
    def _check_preconditions(
        config: NodeConfig, wanted: Mapping[str, Sequence[str]], cap: int | None
    ) -> None:
        for var, values in wanted.items():
            if var == "FORM_TYPE":
                continue
            spec = node_config.BY_VAR.get(var)
            if spec is None:
                raise PreconditionNotMet(var, "not a node configuration field")
            try:
                if spec.multi:
                    expected = node_config.parse_values(spec, values)
                else:
                    expected = spec.parse(values[0] if values else "")
            except ValueError as exc:
                raise PreconditionNotMet(var, str(exc)) from None
            if spec.capped and expected is None:
                expected = cap  # "max" is stored as the service cap
            if getattr(config, spec.attr) != expected:
                actual = node_config.render(config, spec)
                raise PreconditionNotMet(var, f"node has {actual!r}")

    async def retract(
        self, actor: Actor, node: str, ids: Sequence[str], notify: bool = False
    ) -> None:
        """Retract items; all must exist or nothing changes."""
        if not ids:
            raise ItemRequired("an item id")
        access = await self.check(actor, node, Action.RETRACT_ANY)
        if access.config.node_kind.queueing:
            await self.retract_queued(actor, actor.bare, node, ids)
            return
        feed = await self._feed(node)

        async def retracted() -> bool | None:
            gone = all(item is None for item in await feed.get_items(ids))
            return True if gone else None

        try:
            await settled(lambda: feed.retract_many(ids, announce=notify), retracted)
        except ThoonkItemNotFound as exc:
            raise ItemNotFound(node, str(exc.item_id)) from None
        except InvalidName as exc:
            raise BadRequest(str(exc)) from None
        except ThoonkFeedNotFound:
            raise NodeNotFound(node) from None
