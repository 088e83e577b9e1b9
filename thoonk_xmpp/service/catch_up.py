"""Reading what a catch-up must send, and moving the watermarks (see :mod:`.delivery`).

What a catch-up sends, per node of the slots it covers: every item stored now
whose score is above the slot's watermark (published or edited since), oldest
first, at most ``catch_up_items`` of the newest and none older than
``catch_up_age`` (a log line says when a node's catch-up was cut).  Items are
compared by score, so thoonk.py's second scores are read beside millisecond
ones.  Retractions, purges, deletions and configuration changes are not
replayed from Redis: the notices that announce them are the only record.
Those the listener heard while the XMPP link was down are held (up to
``held_events``) and sent before the catch-up; those nobody heard (Redis
unreachable, no instance running) are gone, and a subscriber sees the node's
current items on its next retrieval.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass

from thoonk_xmpp.thoonk import AsyncThoonk, keys
from thoonk_xmpp.thoonk.scripts import Scripts

from .delivery import DeliveryPolicy, slot_of

log = logging.getLogger(__name__)

#: Nodes read by one catch-up script call at most ...
_NODES_PER_CALL = 200
#: ... and items, past which it reads no further node (so no call blocks Redis for long).
_ITEMS_PER_CALL = 2_000


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item a catch-up sends: its id, score (epoch ms) and content."""

    id: str
    published_ms: int
    item: bytes


class Watermarks:
    """The watermarks of slots in Redis, and the mark script that commits them."""

    def __init__(self, thoonk: AsyncThoonk) -> None:
        self.thoonk = thoonk
        self._scripts = Scripts(thoonk.commands, __package__)

    async def mark(self, commit: int | None, slots: Collection[int]) -> int:
        """Commit ``commit`` for ``slots`` (if given), publish a new mark; its time in ms."""
        at = await self._scripts.run(
            "mark",
            "",
            (keys.DELIVERY_WATERMARKS,),
            (
                keys.mark_channel(self.thoonk.instance),
                "" if commit is None else str(commit),
                *sorted(slots),
            ),
        )
        return int(at)

    async def of(self, slots: Collection[int]) -> dict[int, int]:
        """The committed watermark of each slot; a slot never delivered starts now."""
        ordered = sorted(slots)
        if not ordered:
            return {}
        raw = await self.thoonk.redis.hmget(keys.DELIVERY_WATERMARKS, [str(s) for s in ordered])
        found = {s: int(v) for s, v in zip(ordered, raw, strict=True) if v is not None}
        fresh = [s for s in ordered if s not in found]
        if fresh:
            # Nothing was ever delivered for these: start from now, not from all history
            # (through the mark script, which never moves a watermark another instance
            # may have just committed back).
            now = await self.mark(None, ())
            await self.mark(now, fresh)
            raw = await self.thoonk.redis.hmget(keys.DELIVERY_WATERMARKS, [str(s) for s in fresh])
            found |= {s: int(v) for s, v in zip(fresh, raw, strict=True) if v is not None}
        return found


class StoredSince:
    """Reads, per node, the items stored above its slot's watermark."""

    def __init__(self, thoonk: AsyncThoonk, policy: DeliveryPolicy) -> None:
        self.thoonk = thoonk
        self.policy = policy
        self._scripts = Scripts(thoonk.commands, __package__)

    async def items(
        self, watermarks: dict[int, int], read: Callable[[], int]
    ) -> AsyncIterator[tuple[str, list[StoredItem], int]]:
        """(node, its items above the watermark oldest first, what ``read`` said as the
        read came back) for the nodes of these slots."""
        if not watermarks:
            return
        slots = {n: slot_of(n) for n in await self.thoonk.get_feeds()}
        nodes = sorted(n for n, slot in slots.items() if slot in watermarks)
        start = 0
        while start < len(nodes):
            batch = nodes[start : start + _NODES_PER_CALL]
            node_keys: list[bytes] = []
            for node in batch:
                node_keys += (
                    keys.config(node),
                    keys.ids(node),
                    keys.items(node),
                    keys.node_subscriptions(node),
                )
            replies = await self._scripts.run(
                "catch_up",
                "",
                node_keys,
                (
                    self.policy.catch_up_items,
                    round(self.policy.catch_up_age * 1000),
                    _ITEMS_PER_CALL,
                    *(watermarks[slots[n]] for n in batch),
                ),
            )
            at_read = read()
            start += len(replies)  # the script stops early once it read enough items
            for node, reply in zip(batch, replies, strict=False):
                cut, found = int(reply[0]), reply[2:]
                if cut:
                    self._log_cut(node, cut)
                stored = [
                    StoredItem(
                        found[i].decode("utf-8", "surrogateescape"), int(found[i + 1]), found[i + 2]
                    )
                    for i in range(0, len(found), 3)
                ]
                if stored:
                    yield node, stored, at_read

    def _log_cut(self, node: str, cut: int) -> None:
        if cut < 0:
            log.warning(
                "catch-up of node %r cut to the last %.0f s (catch_up_age)",
                node,
                self.policy.catch_up_age,
            )
        else:
            log.warning(
                "catch-up of node %r cut to its newest %d items: %d older ones not sent"
                " (catch_up_items)",
                node,
                self.policy.catch_up_items,
                cut,
            )
