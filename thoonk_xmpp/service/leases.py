"""Several instances on one Redis: each slot of nodes is delivered by one live instance.

With ``[delivery] shared = true`` every instance calls :meth:`Leases.renew`
each ``lease_interval``: it says it is alive (while it can deliver: XMPP link
up, notices subscribed) and leases the slots that rendezvous hashing gives it
(``lua/lease.lua``).  A lease lasts ``lease_time``, so the slots of an
instance that died are taken over within about that long; the new holder
catches them up from their watermarks, like after any gap.

A live instance that is to let a slot go (another joined, or it stops) hands
it over instead: it records what it sent of the slot above the watermark
(``lua/hand_over.lua``), and the next holder's catch-up skips that
(:meth:`Leases.take_handed`), so a hand-over sends nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from thoonk_xmpp.thoonk import AsyncThoonk, keys
from thoonk_xmpp.thoonk.scripts import Scripts

from .delivery import SLOTS, slot_of

#: What a hand-over record holds: (node, item id, CRC-32 of the item) sent.
Sent = list[tuple[str, str, int]]
#: Milliseconds a hand-over record waits for the next holder.
RECORD_MS = 60_000


class Leases:
    """This instance's heartbeat and slot leases in Redis."""

    def __init__(self, thoonk: AsyncThoonk, lease_time: float) -> None:
        self.thoonk = thoonk
        self.lease_time = lease_time
        self._scripts = Scripts(thoonk.commands, __package__)
        self._keys = (keys.DELIVERY_INSTANCES, *(keys.delivery_lease(s) for s in range(SLOTS)))

    async def renew(self, able: bool) -> tuple[frozenset[int], frozenset[int]]:
        """Renew the leases of this instance's slots (none when not ``able`` to deliver):
        (the slots held, the slots to hand over)."""
        held, handing = await self._scripts.run(
            "lease",
            "",
            self._keys,
            (self.thoonk.instance, round(self.lease_time * 1000), "1" if able else "0"),
        )
        return frozenset(int(s) for s in held), frozenset(int(s) for s in handing)

    async def hand_over(self, slots: Iterable[int], sent: Sent) -> frozenset[int]:
        """Record what was ``sent`` of each slot for its next holder and release its
        lease; the slots released (not one whose lease was no longer this instance's)."""
        released: set[int] = set()
        for slot in sorted(slots):
            record = [s for s in sent if slot_of(s[0]) == slot]
            if await self._scripts.run(
                "hand_over",
                "",
                (keys.delivery_lease(slot), keys.delivery_handed(slot)),
                (self.thoonk.instance, json.dumps(record) if record else "", RECORD_MS),
            ):
                released.add(slot)
        return frozenset(released)

    async def take_handed(self, slots: Iterable[int]) -> Sent:
        """What the instances that handed these slots over had sent (each record once)."""
        found: Sent = []
        for slot in sorted(slots):
            raw = await self.thoonk.redis.getdel(keys.delivery_handed(slot))
            if raw:
                found += [(str(n), str(i), int(c)) for n, i, c in json.loads(raw)]
        return found

    async def instances(self) -> list[str]:
        """The live instances, by id."""
        raw = await self.thoonk.redis.zrange(keys.DELIVERY_INSTANCES, 0, -1)
        return sorted(r.decode() if isinstance(r, bytes) else str(r) for r in raw)
