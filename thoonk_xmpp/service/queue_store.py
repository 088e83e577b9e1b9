"""Job and queue nodes in Redis: the Thoonk job/queue keys plus the holds beside them.

Each method is one script of ``lua/queue_*.lua``; the keys are the Thoonk job
feed's own (so a Thoonk worker's claim, finish or cancel sees exactly what ours
made) and three hashes of ours: who holds each job, who published it, and who
gave it back last (see :mod:`thoonk_xmpp.thoonk.keys`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, Job, JobNotClaimed, keys
from thoonk_xmpp.thoonk.names import decode_id, item_id
from thoonk_xmpp.thoonk.replies import bdict, blist, optional_blist
from thoonk_xmpp.thoonk.scripts import Scripts

from .model import NodeKind

#: Milliseconds a job's result is kept for retrieval after an XMPP worker finished it.
RESULT_KEEP_MS: Final = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class Handed:
    """An item handed to one subscriber."""

    id: str
    payload: bytes
    #: The subscription JID it went to.
    jid: str
    #: Earlier claims of the job that ended without a finish.
    failures: int


@dataclass(frozen=True, slots=True)
class Released:
    """A job given back to the line: its id and who held it ('' for a Thoonk worker)."""

    id: str
    holder: str


@dataclass(frozen=True, slots=True)
class Done:
    """What a retract of queue items did: refused as a whole, or done to each item."""

    #: (error condition, item id) of the first item refused; then nothing changed.
    refused: tuple[str, str] | None
    #: (item id, "finished" or "retracted", its former holder or ""), in request order.
    outcomes: tuple[tuple[str, str, str], ...]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class QueueStore:
    """The scripts of job and queue nodes."""

    def __init__(self, thoonk: AsyncThoonk) -> None:
        self.thoonk = thoonk
        self.redis = thoonk.redis
        self._scripts = Scripts(thoonk.commands, __package__)

    async def put(
        self, node: str, kind: NodeKind, publisher: str, entries: Sequence[tuple[str, bytes]]
    ) -> str | None:
        """Put (id, payload) entries; returns None, or the id of an entry already stored."""
        args: list[bytes | str] = []
        for entry_id, payload in entries:
            args += (item_id(entry_id), payload)
        channel = keys.job_put_channel(node) if kind == NodeKind.JOB else keys.ready_channel(node)
        reply = await self._scripts.run(
            "queue_put",
            node,
            (
                keys.FEEDS,
                keys.ids(node),
                keys.config(node),
                keys.items(node),
                keys.published(node),
                keys.publishes(node),
                keys.queue_publishers(node),
            ),
            (node, kind.value, channel, publisher, *args),
        )
        if isinstance(reply, list):
            return _text(blist(reply)[1])
        return None

    async def hand(
        self, node: str, kind: NodeKind, capacities: Sequence[tuple[str, int]], most: int
    ) -> list[Handed]:
        """Hand up to ``most`` waiting items to the subscribers (JID, queue_requests)."""
        args: list[str | int] = []
        for jid, capacity in capacities:
            args += (jid, capacity)
        reply = blist(
            await self._scripts.run(
                "queue_hand",
                node,
                (
                    keys.FEEDS,
                    keys.ids(node),
                    keys.config(node),
                    keys.items(node),
                    keys.claimed(node),
                    keys.cancelled(node),
                    keys.stalled(node),
                    keys.queue_holders(node),
                    keys.queue_unlocked(node),
                    keys.queue_turn(node),
                ),
                (
                    node,
                    kind.value,
                    keys.job_claim_channel(node),
                    keys.ready_channel(node),
                    most,
                    *args,
                ),
            )
        )
        return [
            Handed(decode_id(reply[at]), reply[at + 1], _text(reply[at + 2]), int(reply[at + 3]))
            for at in range(0, len(reply), 4)
        ]

    async def hold_of(self, node: str, handed: Sequence[Handed]) -> list[bytes | None]:
        """The hold records of handed jobs (to give them back exactly)."""
        if not handed:
            return []
        found = await self.redis.hmget(keys.queue_holders(node), [h.id for h in handed])
        return optional_blist(found)

    async def give_back(self, node: str, kind: NodeKind, handed: Sequence[Handed]) -> int:
        """Put items that could not be sent back at the front, no failure counted."""
        args: list[bytes | str] = []
        holds = await self.hold_of(node, handed) if kind == NodeKind.JOB else []
        for at, item in enumerate(handed):
            if kind == NodeKind.QUEUE:
                args += (item.id, item.payload)
            elif holds[at] is not None:
                args += (item.id, holds[at] or b"")
        if not args:
            return 0
        return int(
            await self._scripts.run(
                "queue_give_back",
                node,
                (
                    keys.FEEDS,
                    keys.ids(node),
                    keys.config(node),
                    keys.items(node),
                    keys.claimed(node),
                    keys.queue_holders(node),
                ),
                (node, kind.value, *args),
            )
        )

    async def stall(self, node: str, job_id: str) -> None:
        """Set a handed job aside (Thoonk ``stall``: out of line until a ``retry``)."""
        # its claim may have ended meanwhile (reaped, retracted): nothing to set aside
        with contextlib.suppress(JobNotClaimed):
            await Job(self.thoonk, node, BYTES).stall(job_id)

    async def done(
        self,
        node: str,
        kind: NodeKind,
        items: Sequence[tuple[str, bytes | None]],
        sender: str,
        *,
        may_retract: bool,
    ) -> Done:
        """Retract the (id, result or None) ``items``, all or none (``lua/queue_done.lua``)."""
        args: list[bytes | str | int] = []
        for job_id, result in items:
            args += (item_id(job_id), "0" if result is None else "1", result or b"")
        reply = blist(
            await self._scripts.run(
                "queue_done",
                node,
                (
                    keys.FEEDS,
                    keys.ids(node),
                    keys.config(node),
                    keys.items(node),
                    keys.published(node),
                    keys.claimed(node),
                    keys.cancelled(node),
                    keys.stalled(node),
                    keys.finishes(node),
                    keys.queue_holders(node),
                    keys.queue_unlocked(node),
                    keys.job_results(node),
                ),
                (
                    node,
                    kind.value,
                    keys.finish_channel(node),
                    keys.ready_channel(node),
                    sender,
                    sender.partition("/")[0],
                    "1" if may_retract else "0",
                    RESULT_KEEP_MS,
                    keys.job_result(node, b""),
                    *args,
                ),
            )
        )
        if reply[0] != b"ok":
            return Done((_text(reply[0]), decode_id(reply[1])), ())
        outcomes = tuple(
            (job_id, _text(reply[at]), _text(reply[at + 1]))
            for (job_id, _), at in zip(items, range(1, len(reply), 2), strict=True)
        )
        return Done(None, outcomes)

    def _hold_keys(self, node: str) -> tuple[bytes, ...]:
        return (
            keys.FEEDS,
            keys.ids(node),
            keys.config(node),
            keys.items(node),
            keys.claimed(node),
            keys.cancelled(node),
            keys.queue_holders(node),
            keys.queue_unlocked(node),
        )

    async def unlock(self, node: str, job_id: str, sender: str) -> tuple[str, str]:
        """Give a held job back (a Thoonk cancel): (outcome, holder)."""
        reply = blist(
            await self._scripts.run(
                "queue_unlock",
                node,
                self._hold_keys(node),
                (
                    node,
                    keys.ready_channel(node),
                    item_id(job_id),
                    sender,
                    sender.partition("/")[0],
                ),
            )
        )
        return _text(reply[0]), _text(reply[1]) if len(reply) > 1 else ""

    async def release(
        self,
        node: str,
        *,
        reap: bool = False,
        jids: Sequence[str] = (),
    ) -> list[Released]:
        """Give back overdue claims (``reap``) and the holds of ``jids``."""
        reply = blist(
            await self._scripts.run(
                "queue_release",
                node,
                self._hold_keys(node),
                (
                    node,
                    keys.ready_channel(node),
                    "1" if reap else "0",
                    *jids,
                ),
            )
        )
        return [
            Released(decode_id(reply[at]), _text(reply[at + 1])) for at in range(0, len(reply), 2)
        ]

    async def finished(
        self, node: str, jobs: Sequence[tuple[str, bytes | None]]
    ) -> list[str | None]:
        """After finish notices, (job id, result) each, in one script call: each job's XMPP
        publisher (forgotten now), or None when it had none (a Thoonk app's put)."""
        if not jobs:
            return []
        args: list[bytes | str | int] = [RESULT_KEEP_MS, keys.job_result(node, b"")]
        for job_id, result in jobs:
            args += (item_id(job_id), "0" if result is None else "1", result or b"")
        reply = blist(
            await self._scripts.run(
                "queue_finished",
                node,
                (
                    keys.queue_publishers(node),
                    keys.queue_holders(node),
                    keys.queue_unlocked(node),
                    keys.job_results(node),
                    keys.items(node),
                    keys.published(node),
                ),
                tuple(args),
            )
        )
        return [_text(publisher) or None for publisher in reply]

    async def result(self, node: str, job_id: str) -> bytes | None:
        """A finished job's kept result, if any."""
        stored = blist(await self.redis.lrange(keys.job_result(node, item_id(job_id)), 0, 1))
        return stored[1] if len(stored) == 2 else None

    async def pending(self, node: str, ids: Sequence[str] | None) -> list[tuple[str, bytes]]:
        """Items still stored (waiting or held): those of ``ids``, or all (unordered)."""
        if ids is None:
            raw = bdict(await self.redis.hgetall(keys.items(node)))
            return [(decode_id(k), v) for k, v in raw.items()]
        if not ids:
            return []
        found = optional_blist(await self.redis.hmget(keys.items(node), [item_id(i) for i in ids]))
        return [(i, p) for i, p in zip(ids, found, strict=True) if p is not None]

    async def count(self, node: str) -> int:
        """How many items are pending (waiting or held)."""
        return int(await self.redis.hlen(keys.items(node)))

    async def holders(self, node: str) -> dict[str, str]:
        """Job id → holding subscriber, as recorded (a hold may have ended since)."""
        raw = bdict(await self.redis.hgetall(keys.queue_holders(node)))
        return {decode_id(k): _text(v.partition(b"\x00")[2]) for k, v in raw.items()}
