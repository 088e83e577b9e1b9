"""Several instances on one Redis: each slot of nodes is delivered by one live instance.

With ``[delivery] shared = true`` every instance calls :meth:`Leases.renew`
each ``lease_interval``: it says it is alive (while it can deliver: XMPP link
up, notices subscribed) and leases the slots that rendezvous hashing gives it
(``lua/lease.lua``).  A lease lasts ``lease_time``, so the slots of an
instance that died are taken over within about that long; the new holder
catches them up from their watermarks, like after any gap.
"""

from __future__ import annotations

from thoonk_xmpp.thoonk import AsyncThoonk, keys
from thoonk_xmpp.thoonk.scripts import Scripts

from .delivery import SLOTS


class Leases:
    """This instance's heartbeat and slot leases in Redis."""

    def __init__(self, thoonk: AsyncThoonk, lease_time: float) -> None:
        self.thoonk = thoonk
        self.lease_time = lease_time
        self._scripts = Scripts(thoonk.commands, __package__)
        self._keys = (keys.DELIVERY_INSTANCES, *(keys.delivery_lease(s) for s in range(SLOTS)))

    async def renew(self, able: bool) -> frozenset[int]:
        """Renew (or, when not ``able`` to deliver, give up) the leases; the slots held."""
        held = await self._scripts.run(
            "lease",
            "",
            self._keys,
            (self.thoonk.instance, round(self.lease_time * 1000), "1" if able else "0"),
        )
        return frozenset(int(slot) for slot in held)

    async def instances(self) -> list[str]:
        """The live instances, by id."""
        raw = await self.thoonk.redis.zrange(keys.DELIVERY_INSTANCES, 0, -1)
        return sorted(r.decode() if isinstance(r, bytes) else str(r) for r in raw)
