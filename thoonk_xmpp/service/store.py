"""Subscriptions and affiliations of nodes, in Redis beside the Thoonk keys."""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from thoonk_xmpp.thoonk import AsyncThoonk, FeedExists, FeedNotFound, ItemNotFound, keys
from thoonk_xmpp.thoonk.feed_config import decode as decode_config
from thoonk_xmpp.thoonk.replies import bdict, optional_bytes
from thoonk_xmpp.thoonk.scripts import Scripts

from .errors import InvalidSubId, NodeExists, NodeNotFound
from .jid_index import JidIndexOps
from .jid_index import bare as bare
from .model import Affiliation, Subscription, SubscriptionState
from .node_config import NodeConfig
from .node_states import NodeState, NodeStates
from .pending import APPROVED, REMOVED, PendingOps
from .sub_options import DEFAULT, SubscriptionOptions, decode, encode

SUBSCRIBED, UNSUBSCRIBED = SubscriptionState.SUBSCRIBED.value, SubscriptionState.NONE.value

_SEP = "\x00"


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _subscriptions(
    node: str,
    raw: object,
    raw_options: object,
    state: SubscriptionState = SubscriptionState.SUBSCRIBED,
) -> list[Subscription]:
    """A node's subscriptions (or pending requests) hash (subid → JID) with their options
    hash (subid → options), sorted by JID then subid."""
    options = bdict(raw_options)
    return sorted(
        (
            Subscription(node, _text(jid), _text(subid), state, decode(options.get(subid)))
            for subid, jid in bdict(raw).items()
        ),
        key=lambda s: (s.jid, s.subid),
    )


def _lease(sub: Subscription, options: SubscriptionOptions) -> tuple[bytes, str]:
    """ARGV of a script writing options: the lease member and its end ('' for none)."""
    end = options.expire_ms
    return keys.subscription_lease(sub.node, sub.subid), "" if end is None else str(end)


def _affiliations(raw: object) -> dict[str, Affiliation]:
    """A node's affiliations hash (bare JID → affiliation), in JID order."""
    return {_text(j): Affiliation(_text(a)) for j, a in sorted(bdict(raw).items())}


class NodeStore(PendingOps, JidIndexOps):
    """Node registry queries plus subscription and affiliation storage.

    ``config_of`` turns a stored Thoonk config into a :class:`NodeConfig`
    (the service fills in its defaults).  Node states are cached
    (:mod:`.node_states`); every change made here forgets the node's entry.
    """

    def __init__(
        self, thoonk: AsyncThoonk, config_of: Callable[[Mapping[str, str]], NodeConfig]
    ) -> None:
        self.thoonk = thoonk
        self.redis = thoonk.redis
        self._config_of = config_of
        self._scripts = Scripts(thoonk.commands, __package__)
        self.states = NodeStates(self._read_states, thoonk.listener)

    def _state_notice(self, node: str) -> tuple[bytes, str]:
        """ARGV of a script's state notice: the channel and our instance id."""
        return keys.state_channel(node), self.thoonk.instance

    def _state_facts(self, node: str, *facts: tuple[str, str, str]) -> tuple[bytes, bytes]:
        """ARGV of a script's state notice telling what changed: the channel and payload
        (facts: what happened, JID, subid; routed by :mod:`.subscription_events`)."""
        return keys.state_channel(node), keys.state_payload(self.thoonk.instance, facts)

    # --- nodes -----------------------------------------------------------------

    async def create_node(self, node: str, fields: Mapping[str, str], creator: str) -> None:
        """Create the feed with ``fields`` and ``creator`` as owner. Raises NodeExists."""
        args: list[str] = []
        for field, value in fields.items():
            args += (field, value)
        notice = keys.join(keys.encode_name(node), self.thoonk.instance.encode())
        try:
            await self._scripts.run(
                "create_node",
                node,
                (
                    keys.FEEDS,
                    keys.config(node),
                    keys.node_affiliations(node),
                    keys.jid_affiliations(creator),
                    keys.node_subscriptions(node),
                    keys.node_pending(node),
                ),
                (node, keys.NEWFEED, keys.CONFFEED, notice, creator, *args),
            )
        except FeedExists:
            raise NodeExists(node) from None
        finally:
            self.forget(node)

    async def state(self, node: str) -> NodeState:
        """The node's config, affiliations and subscriptions. Raises NodeNotFound.

        Any Thoonk object is found here; callers check :attr:`NodeState.is_feed`.
        """
        found = (await self.states.get_many((node,)))[node]
        if not found.exists:
            raise NodeNotFound(node)
        return found

    async def states_of(self, nodes: Collection[str]) -> dict[str, NodeState]:
        """The states of several nodes, existing or not, in one round trip at most."""
        return await self.states.get_many(nodes)

    def forget(self, node: str) -> None:
        """Say that ``node`` changed other than through this store (config, deletion)."""
        self.states.forget(node)

    async def totals(self, page: int = 500) -> tuple[int, int]:
        """(nodes, subscriptions) in Redis, for monitoring.

        SSCAN walks the node registry a page at a time, with one pipelined HLEN
        per node, so Redis never blocks on a long command; a node added or
        removed meanwhile may be counted or missed once.
        """
        nodes = int(await self.redis.scard(keys.FEEDS))
        subscriptions, cursor = 0, 0
        while True:
            cursor, names = await self.redis.sscan(keys.FEEDS, cursor, count=page)
            if names:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for name in names:
                        pipe.hlen(keys.node_subscriptions(name))
                    subscriptions += sum(await pipe.execute())
            if cursor == 0:
                return nodes, subscriptions

    async def _read_states(self, nodes: list[str]) -> dict[str, NodeState]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.sismember(keys.FEEDS, node)
                pipe.type(keys.config(node))
                pipe.hgetall(keys.config(node))
                pipe.hgetall(keys.node_affiliations(node))
                pipe.hgetall(keys.node_subscriptions(node))
                pipe.hgetall(keys.node_subscription_options(node))
                pipe.hgetall(keys.node_pending(node))
            replies = await pipe.execute(raise_on_error=False)
        states: dict[str, NodeState] = {}
        for at, node in enumerate(nodes):
            exists, kind, raw_config, raw_affs, raw_subs, raw_opts, raw_pending = replies[
                7 * at : 7 * at + 7
            ]
            for reply in (raw_affs, raw_subs, raw_opts, raw_pending):
                if isinstance(reply, Exception):
                    raise reply
            if kind == b"string":  # a JSON config of pre-2011-11 thoonk.py (contract 15.8)
                stored = decode_config(optional_bytes(await self.redis.get(keys.config(node))))
            else:
                stored = decode_config(bdict(raw_config))
            subscriptions = tuple(_subscriptions(node, raw_subs, raw_opts))
            states[node] = NodeState(
                node=node,
                exists=bool(exists),
                stored=stored,
                config=self._config_of(stored),
                affiliations=_affiliations(raw_affs),
                subscriptions=subscriptions,
                subscribers=frozenset(bare(s.jid) for s in subscriptions),
                pending=tuple(_subscriptions(node, raw_pending, {}, SubscriptionState.PENDING)),
            )
        return states

    async def config(self, node: str) -> dict[str, str]:
        """The stored Thoonk config of a node. Raises NodeNotFound."""
        try:
            return await self.thoonk.get_config(node)
        except FeedNotFound:
            raise NodeNotFound(node) from None

    # --- subscriptions -----------------------------------------------------------

    async def subscriptions(self, node: str) -> list[Subscription]:
        """Every subscription of a node, with its options."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.node_subscriptions(node))
            pipe.hgetall(keys.node_subscription_options(node))
            raw_subs, raw_opts = await pipe.execute()
        return _subscriptions(node, raw_subs, raw_opts)

    async def subscribe(
        self, node: str, jid: str, options: SubscriptionOptions = DEFAULT, *, told: bool = False
    ) -> Subscription:
        """Add a subscription of ``jid`` (bare or full) to ``node``, with ``options``
        (``told``: made by an owner, the subscriber hears of it)."""
        sub = Subscription(node, jid, secrets.token_hex(8), options=options)
        who = bare(jid)
        try:
            await self._scripts.run(
                "subscribe",
                node,
                (
                    keys.FEEDS,
                    keys.node_subscriptions(node),
                    keys.jid_subscriptions(who),
                    keys.node_subscription_options(node),
                    keys.SUBSCRIPTION_LEASES,
                ),
                (
                    node,
                    *self._state_facts(node, (APPROVED if told else SUBSCRIBED, jid, sub.subid)),
                    sub.subid,
                    jid,
                    keys.jid_subscription(who, node, sub.subid),
                    encode(options),
                    *_lease(sub, options),
                ),
            )
        except FeedNotFound:
            raise NodeNotFound(node) from None
        finally:
            self.forget(node)
        return sub

    async def set_options(self, sub: Subscription, options: SubscriptionOptions) -> Subscription:
        """Replace the options of ``sub`` (which must still exist). Raises InvalidSubId."""
        try:
            await self._scripts.run(
                "set_options",
                sub.node,
                (
                    keys.node_subscriptions(sub.node),
                    keys.node_subscription_options(sub.node),
                    keys.SUBSCRIPTION_LEASES,
                ),
                (
                    sub.node,
                    *self._state_notice(sub.node),
                    sub.subid,
                    sub.jid,
                    encode(options),
                    *_lease(sub, options),
                ),
            )
        except ItemNotFound:
            raise InvalidSubId(sub.node, sub.subid) from None
        finally:
            self.forget(sub.node)
        return dataclasses.replace(sub, options=options)

    async def unsubscribe(
        self, node: str, subscriptions: Iterable[Subscription], *, told: bool = False
    ) -> None:
        """Remove subscriptions (each must still exist; ``told``: by an owner, the subscribers
        hear of it). Raises InvalidSubId."""
        subs = list(subscriptions)
        args: list[str | bytes] = []
        for sub in subs:
            args += (
                sub.subid,
                sub.jid,
                keys.jid_subscription(bare(sub.jid), node, sub.subid),
                keys.subscription_lease(node, sub.subid),
            )
        index_keys = [keys.jid_subscriptions(bare(sub.jid)) for sub in subs]
        facts = [(REMOVED if told else UNSUBSCRIBED, sub.jid, sub.subid) for sub in subs]
        try:
            await self._scripts.run(
                "unsubscribe",
                node,
                (
                    keys.node_subscriptions(node),
                    keys.node_subscription_options(node),
                    keys.SUBSCRIPTION_LEASES,
                    *index_keys,
                ),
                (node, *self._state_facts(node, *facts), *args),
            )
        except ItemNotFound as exc:
            raise InvalidSubId(node, str(exc.item_id)) from None
        finally:
            self.forget(node)

    # --- affiliations -------------------------------------------------------------

    async def affiliations(self, node: str) -> dict[str, Affiliation]:
        """Stored affiliations of a node (bare JID → affiliation)."""
        return _affiliations(await self.redis.hgetall(keys.node_affiliations(node)))

    async def set_affiliations(
        self,
        node: str,
        changes: Mapping[str, Affiliation],
        removed: Iterable[Subscription] = (),
    ) -> None:
        """Apply affiliation changes atomically (``none`` removes one); ``removed``: the
        subscriptions of new outcasts, which the script drops (their subscribers hear of it)."""
        facts = [(REMOVED, sub.jid, sub.subid) for sub in removed]
        key_args: list[bytes] = []
        args: list[str] = []
        for jid, aff in changes.items():
            key_args += (keys.jid_affiliations(jid), keys.jid_subscriptions(jid))
            args += (jid, aff.value)
        try:
            await self._scripts.run(
                "set_affiliations",
                node,
                (
                    keys.FEEDS,
                    keys.node_affiliations(node),
                    keys.node_subscriptions(node),
                    *key_args,
                    keys.node_subscription_options(node),
                    keys.SUBSCRIPTION_LEASES,
                ),
                (node, *self._state_facts(node, *facts), *args),
            )
        except FeedNotFound:
            raise NodeNotFound(node) from None
        finally:
            self.forget(node)

    # --- deletion ------------------------------------------------------------------

    async def set_tombstone(self, node: str, facts: Mapping[str, Any], ttl: int = 300) -> None:
        """Leave what the delete notice handler needs once the feed is gone."""
        await self.redis.set(keys.node_tombstone(node), json.dumps(dict(facts)), ex=ttl)

    async def tombstone(self, node: str) -> dict[str, Any]:
        raw = optional_bytes(await self.redis.get(keys.node_tombstone(node)))
        loaded = json.loads(raw) if raw else {}
        return loaded if isinstance(loaded, dict) else {}

    async def drop_node(self, node: str) -> None:
        """Forget subscriptions, affiliations and tombstone of a deleted node."""
        index_keys: list[bytes] = []
        members: list[str | bytes] = []
        subscriptions = [*await self.subscriptions(node), *await self.pending(node)]
        for sub in subscriptions:
            index_keys.append(keys.jid_subscriptions(bare(sub.jid)))
            members.append(keys.jid_subscription(bare(sub.jid), node, sub.subid))
        for jid in await self.affiliations(node):
            index_keys.append(keys.jid_affiliations(jid))
            members.append(node)
        leases = [keys.subscription_lease(node, sub.subid) for sub in subscriptions]
        await self._scripts.run(
            "drop_node",
            node,
            (
                keys.node_subscriptions(node),
                keys.node_affiliations(node),
                keys.node_tombstone(node),
                keys.node_subscription_options(node),
                keys.SUBSCRIPTION_LEASES,
                keys.node_pending(node),
                *index_keys,
            ),
            (node, *self._state_notice(node), len(subscriptions), *members, *leases),
        )
        self.forget(node)
