"""Item retrieval of the service (XEP-0060 §6.5, XEP-0059 paging, disco#items on a node)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from thoonk_xmpp.thoonk import Feed, SortedFeed

from .access import Action
from .errors import BadRequest, InvalidSubId, ItemNotFound
from .model import Actor, Item, ItemsPage
from .store import bare

if TYPE_CHECKING:
    from .service import NodeAccess
    from .store import NodeStore


@dataclass(frozen=True, slots=True)
class PageRequest:
    """XEP-0059 paging of a retrieval, already parsed."""

    max: int | None = None
    after: str | None = None
    before: str | None = None
    index: int | None = None


class RetrievalOps:
    """Mixed into PubSubService: items by id, newest, paged; ids; the last item."""

    store: NodeStore

    if TYPE_CHECKING:

        async def check(self, actor: Actor, node: str, action: Action) -> NodeAccess: ...

        async def _feed(self, node: str) -> Feed[bytes] | SortedFeed[bytes]: ...

        async def queued_items(
            self, actor: Actor, node: str, ids: Sequence[str] | None, max_items: int | None
        ) -> ItemsPage: ...

    async def get_items(
        self,
        actor: Actor,
        node: str,
        ids: Sequence[str] | None = None,
        max_items: int | None = None,
        page: PageRequest | None = None,
        *,
        subid: str | None = None,
    ) -> ItemsPage:
        """Items by id, the newest ``max_items``, or a XEP-0059 page (feed order, oldest first).

        ``subid`` must name one of the actor's subscriptions to the node (§6.5.9.2)."""
        access = await self.check(actor, node, Action.RETRIEVE_ITEMS)
        if access.config.node_kind.queueing:
            return await self.queued_items(actor, node, ids, max_items)
        if subid is not None:
            subs = await self.store.subscriptions(node)
            if not any(s.subid == subid and bare(s.jid) == actor.bare for s in subs):
                raise InvalidSubId(node, subid)
        if max_items is not None and max_items < 1:
            raise BadRequest("max_items must be a positive integer")
        feed = await self._feed(node)
        if ids:
            payloads = await feed.get_items(ids)
            found = [Item(i, p) for i, p in zip(ids, payloads, strict=True) if p is not None]
            if not found:
                raise ItemNotFound(node, ids[0])
            return ItemsPage(found, len(found), 0)
        total = await feed.count()
        # The result set is the whole node, or its newest max_items; a page is a slice
        # of it, and XEP-0059 counts and indexes within that set.
        base = 0 if max_items is None else max(0, total - max_items)
        start, stop = base, total
        if page is not None:
            start, stop = await self._page_bounds(feed, node, base, total, page)
        if stop <= start:
            return ItemsPage([], total - base, None)
        entries = await feed.get_range(start, stop - 1)
        return ItemsPage([Item(i, p) for i, p in entries], total - base, start - base)

    @staticmethod
    async def _page_bounds(
        feed: Feed[bytes] | SortedFeed[bytes], node: str, base: int, total: int, page: PageRequest
    ) -> tuple[int, int]:
        """Absolute ranks [start, stop) of a page within ranks [base, total)."""
        if (page.max is not None and page.max < 0) or (page.index is not None and page.index < 0):
            raise BadRequest("RSM max and index must not be negative")
        start, stop = base, total
        if page.after is not None:
            rank = await feed.rank(page.after)
            if rank is None:
                raise ItemNotFound(node, page.after)
            start = max(start, rank + 1)
        if page.before is not None:
            if page.before != "":
                rank = await feed.rank(page.before)
                if rank is None:
                    raise ItemNotFound(node, page.before)
                stop = rank
            if page.max is not None:
                start = max(start, stop - page.max)
            return start, stop
        if page.index is not None:
            start = base + page.index
        if page.max is not None:
            stop = min(stop, start + page.max)
        return start, stop

    async def item_ids(self, actor: Actor, node: str) -> list[str]:
        """Ids of the node's items (disco#items on a node)."""
        access = await self.check(actor, node, Action.RETRIEVE_ITEMS)
        if access.config.node_kind.queueing:
            return [item.id for item in (await self.queued_items(actor, node, None, None)).items]
        return await (await self._feed(node)).get_ids()

    async def last_item(self, node: str) -> Item | None:
        """The newest item of a node, if any, with its publication time."""
        feed = await self._feed(node)
        entries = await feed.get_range(-1, -1)
        if not entries:
            return None
        item_id, payload = entries[0]
        return Item(item_id, payload, await feed.published_ms(item_id))
