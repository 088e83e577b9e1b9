"""The subscription and affiliation indexes by JID: what a JID holds across nodes.

Mixed into :class:`~.store.NodeStore`.  A JID's subscriptions are found through the
bucketed index (:func:`keys.jid_subscriptions`; waiting requests of ``authorize`` nodes
have entries there too), its affiliations through its per-JID set of nodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thoonk_xmpp.thoonk import keys
from thoonk_xmpp.thoonk.replies import blist, optional_blist

from .model import Affiliation, Subscription, SubscriptionState
from .sub_options import decode

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from thoonk_xmpp.thoonk.scripts import Scripts

_SEP = "\x00"


def bare(jid: str) -> str:
    """The bare form of a JID (no resource)."""
    return jid.partition("/")[0]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class JidIndexOps:
    """A JID's subscriptions and affiliations on every node; the index's migration."""

    redis: aioredis.Redis
    _scripts: Scripts

    async def jid_subscriptions(self, jid: str) -> list[Subscription]:
        """Every subscription of a bare JID, across nodes (two round trips in all)."""
        who = bare(jid)
        prefix = keys.encode_name(who) + keys.SEP
        fields = blist(list(await self.redis.hkeys(keys.jid_subscriptions(who))))
        mine = sorted(f[len(prefix) :] for f in fields if f.startswith(prefix))
        pairs = [_text(m).partition(_SEP)[::2] for m in mine]
        found = await self._hget_each(
            [
                (key(node), subid)
                for node, subid in pairs
                for key in (keys.node_subscriptions, keys.node_subscription_options)
            ]
        )
        owners, options = found[::2], found[1::2]
        subscriptions = [
            Subscription(node, _text(owner), subid, options=decode(raw_options))
            for (node, subid), owner, raw_options in zip(pairs, owners, options, strict=True)
            if owner is not None
        ]
        # the other entries are requests waiting for approval (or left by a deleted node)
        others = [pair for pair, owner in zip(pairs, owners, strict=True) if owner is None]
        waiting = await self._hget_each(
            [(keys.node_pending(node), subid) for node, subid in others]
        )
        subscriptions += [
            Subscription(node, _text(jid), subid, SubscriptionState.PENDING)
            for (node, subid), jid in zip(others, waiting, strict=True)
            if jid is not None
        ]
        return sorted(subscriptions, key=lambda s: (s.node, s.subid))

    async def _hget_each(self, lookups: list[tuple[bytes, str]]) -> list[bytes | None]:
        """HGET of each (key, field), pipelined in one round trip."""
        if not lookups:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, field in lookups:
                pipe.hget(key, field)
            return optional_blist(await pipe.execute())

    async def jid_affiliations(self, jid: str) -> dict[str, Affiliation]:
        """Affiliations of a bare JID, across nodes (two round trips in all)."""
        who = bare(jid)
        raw_nodes = sorted(blist(list(await self.redis.smembers(keys.jid_affiliations(who)))))
        nodes = [_text(n) for n in raw_nodes]
        affs = await self._hget_each([(keys.node_affiliations(node), who) for node in nodes])
        return {
            node: Affiliation(_text(aff))
            for node, aff in zip(nodes, affs, strict=True)
            if aff is not None
        }

    async def existing(self, nodes: list[str]) -> list[str]:
        """Those of ``nodes`` that exist (a deleted node's affiliations outlive it briefly)."""
        if not nodes:
            return []
        found = await self.redis.smismember(keys.FEEDS, nodes)
        return [node for node, there in zip(nodes, found, strict=True) if there]

    async def migrate_jid_index(self) -> int:
        """Move subscription indexes kept one set per JID (earlier versions) into the
        buckets; returns how many entries moved (0 once done)."""
        moved = 0
        async for raw in self.redis.scan_iter(match=keys.LEGACY_JID_SUBSCRIPTIONS + b"*"):
            old = bytes(raw)
            jid = old[len(keys.LEGACY_JID_SUBSCRIPTIONS) :]
            moved += int(
                await self._scripts.run(
                    "migrate_jid_index", "", (old, keys.jid_subscriptions(jid)), (jid,)
                )
            )
        return moved
