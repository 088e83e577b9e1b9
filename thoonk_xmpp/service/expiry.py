"""``pubsub#item_expire``: items removed once they are that many seconds old.

Everything lives in Redis, so expiry survives restarts and needs no instance to remember
anything: each item's score is its publication (or last edit) time in ms, and the set
``thoonkx.pubsub.expiring`` lists the nodes configured with an ``item_expire`` (the
service adds a node when its configuration is written; a start-up scan adds those a
Thoonk app configured directly; ``lua/expire_items.lua`` drops those that no longer
expire).  Every ``mark_interval`` the instance that delivers a node's events (all nodes
when delivery is not shared) runs the script for it, while it can deliver: its XMPP
link up and its notice subscription on, so the retract notices the script publishes are
heard and routed like any retract (retract events when ``pubsub#notify_retract`` is on).
Two instances sweeping the same node at once is harmless: the script is atomic, so an
item is removed, and announced, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from thoonk_xmpp.thoonk import AsyncThoonk, keys
from thoonk_xmpp.thoonk.scripts import Scripts

from .node_config import NodeConfig

if TYPE_CHECKING:
    from .service import PubSubService

log = logging.getLogger(__name__)

#: Items one script call removes at most (the next sweep goes on).
BATCH: Final = 1000


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw


class ItemExpiry:
    """The index of expiring nodes and the sweep that removes their old items."""

    def __init__(self, thoonk: AsyncThoonk) -> None:
        self.thoonk = thoonk
        self._scripts = Scripts(thoonk.commands, __package__)

    async def configured(self, node: str, config: NodeConfig) -> None:
        """A node's configuration was written: index it if its items expire."""
        if config.item_expire is not None:
            await self.thoonk.redis.sadd(keys.EXPIRING_NODES, node)

    async def index_all(self, service: PubSubService) -> None:
        """Index every node whose stored configuration has an ``item_expire`` (a Thoonk
        app may have written one without the service)."""
        nodes = await service.list_nodes()
        states = await service.store.states_of(nodes)
        expiring = [node for node in nodes if states[node].config.item_expire is not None]
        if expiring:
            await self.thoonk.redis.sadd(keys.EXPIRING_NODES, *expiring)

    async def sweep(self, delivers: Callable[[str], bool]) -> dict[str, list[str]]:
        """Remove the expired items of the indexed nodes ``delivers`` says are ours;
        the removed ids by node."""
        members = await self.thoonk.redis.smembers(keys.EXPIRING_NODES)
        removed: dict[str, list[str]] = {}
        for node in sorted(_text(member) for member in members):
            if not delivers(node):
                continue
            ids = await self._scripts.run(
                "expire_items",
                node,
                (
                    keys.FEEDS,
                    keys.ids(node),
                    keys.config(node),
                    keys.items(node),
                    keys.EXPIRING_NODES,
                ),
                (node, keys.retract_channel(node), BATCH),
            )
            if ids:
                removed[node] = [_text(item_id) for item_id in ids]
        return removed

    async def run(
        self,
        service: PubSubService,
        able: Callable[[], bool],
        delivers: Callable[[str], bool],
        interval: float,
    ) -> None:
        """Index the nodes once, then sweep every ``interval`` while ``able()`` (forever)."""
        indexed = False
        while True:
            await asyncio.sleep(interval)
            if not able():
                continue
            try:
                if not indexed:
                    await self.index_all(service)
                    indexed = True
                await self.sweep(delivers)
            except Exception as exc:
                log.warning("expiring items failed: %s", exc)
