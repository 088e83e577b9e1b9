"""``PubSubService``: one method per XEP-0060 operation, access checked first."""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, Feed, FeedType, SortedFeed, keys
from thoonk_xmpp.thoonk import FeedNotFound as ThoonkFeedNotFound

from . import node_config
from .access import NOT_SEEN, OUTSIDERS_REFUSED, Action, may, owners_of
from .archive import ArchiveOps
from .errors import (
    BadRequest,
    Forbidden,
    InvalidNodeConfig,
    NodeIdRequired,
    NodeNotFound,
    TooManyNodes,
    Unsupported,
)
from .expiry import ItemExpiry
from .model import Actor, Affiliation, NodeKind
from .node_config import NodeConfig
from .outcomes import settled
from .policy import ServicePolicy
from .presence import PresenceStore
from .privilege import PrivilegeStore
from .publishing import PublishingOps
from .queue_store import QueueStore
from .queueing import DEFAULT_CLAIM_TIMEOUT, QueueOps
from .retrieval import PageRequest, RetrievalOps
from .roster_access import RosterGate
from .store import NodeStore, bare
from .subscriptions import SubscriptionOps

#: Node metadata fields we keep in the feed config hash (XEP-0060 §5.4).
CREATOR = "pubsub#creator"
CREATION_DATE = "pubsub#creation_date"


@dataclass(frozen=True, slots=True)
class NodeAccess:
    """What a check found: the node's config and the actor's standing."""

    node: str
    config: NodeConfig
    affiliation: Affiliation | None
    subscribed: bool


@dataclass(frozen=True, slots=True)
class NodeMetadata:
    """What disco#info on a node reports (XEP-0128 ``pubsub#meta-data``)."""

    node: str
    config: NodeConfig
    creator: str | None
    creation_date: str | None
    owners: list[str]
    publishers: list[str]
    num_subscribers: int


class PubSubService(SubscriptionOps, RetrievalOps, ArchiveOps, QueueOps, PublishingOps):
    """XEP-0060 operations over Thoonk feeds; every method checks access before acting."""

    def __init__(self, thoonk: AsyncThoonk, policy: ServicePolicy) -> None:
        self.thoonk = thoonk
        self.policy = policy
        self.store = NodeStore(thoonk, self.node_config_of)
        self.queues = QueueStore(thoonk)
        #: Who is online, as the XMPP server tells the component (shared in Redis).
        self.presence = PresenceStore(thoonk.redis)
        #: What the XMPP server granted (XEP-0356), and the rosters read with it.
        self.privileges = PrivilegeStore(thoonk)
        self.rosters = RosterGate(self.privileges)
        self.expiry = ItemExpiry(thoonk)

    # --- helpers -------------------------------------------------------------------

    def node_config_of(self, stored: Mapping[str, str]) -> NodeConfig:
        return node_config.from_stored(stored, self.policy.defaults)

    async def check(self, actor: Actor, node: str, action: Action) -> NodeAccess:
        """Load the node and the actor's standing; raise unless ``action`` is allowed."""
        if not node:
            raise NodeIdRequired()
        state = await self.store.state(node)
        if not state.is_node:
            raise NodeNotFound(node)
        config = state.config
        affiliation = state.affiliations.get(actor.bare)
        subscribed = actor.bare in state.subscribers
        if self.policy.is_admin(actor):
            affiliation = Affiliation.OWNER
        outsider = affiliation in (None, Affiliation.NONE)
        whitelisted_action = action in (Action.SUBSCRIBE, Action.RETRIEVE_ITEMS)
        admitted = (
            outsider
            and whitelisted_action
            and await self.rosters.admits_to(config, owners_of(state.affiliations), actor.bare)
        )
        allowed = may(
            action,
            affiliation,
            access=config.access_model,
            publish_model=config.publish_model,
            subscribed=subscribed,
            admitted=admitted,
        )
        if not allowed:
            if whitelisted_action and outsider and config.access_model in OUTSIDERS_REFUSED:
                raise OUTSIDERS_REFUSED[config.access_model](node)
            raise Forbidden(action.value, node)
        return NodeAccess(node, config, affiliation, subscribed)

    async def _feed(self, node: str) -> Feed[bytes] | SortedFeed[bytes]:
        """The node's feed: a sorted feed for an ordered node (node state is cached)."""
        state = (await self.store.states_of((node,)))[node]
        if state.config.node_kind == NodeKind.SORTED_FEED:
            return SortedFeed(self.thoonk, node, BYTES)
        return Feed(self.thoonk, node, BYTES)

    # --- nodes -----------------------------------------------------------------------

    async def list_nodes(self) -> list[str]:
        """Names of every node (every Thoonk feed but thoonk.py's ``pyqueue``), sorted."""
        names = await self.thoonk.get_feeds()
        if not names:
            return []
        async with self.thoonk.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hget(keys.config(name), "type")
            types = await pipe.execute(raise_on_error=False)
        found: list[str] = []
        for name, kind in zip(names, types, strict=True):
            if isinstance(kind, Exception):  # a JSON-string config of old thoonk.py
                try:
                    stored = await self.store.config(name)
                except NodeNotFound:
                    continue
                kind = stored.get("type", FeedType.FEED.value).encode()
            if kind in (None, b"feed", b"sorted_feed", b"job", b"queue"):
                found.append(name)
        return found

    def default_config(self) -> NodeConfig:
        return self.policy.defaults

    async def create_node(
        self,
        actor: Actor,
        node: str | None,
        changes: Mapping[str, Sequence[str]] | None = None,
    ) -> str:
        """Create a node (an instant node when ``node`` is None); returns its id."""
        if not self.policy.may_create(actor):
            raise Forbidden("create nodes")
        limit = self.policy.max_nodes_per_owner
        if limit is not None and not self.policy.is_admin(actor):
            affiliations = await self.store.jid_affiliations(actor.bare)
            owned = [n for n, a in affiliations.items() if a == Affiliation.OWNER]
            if len(await self.store.existing(owned)) >= limit:
                raise TooManyNodes(actor.bare, limit)
        name = node if node is not None else uuid.uuid4().hex
        if not name or "\x00" in name:
            raise BadRequest(f"invalid node id {name!r}")
        config = node_config.apply(
            self.policy.defaults, changes or {}, cap=self.policy.max_items_cap
        )
        if config.node_kind == NodeKind.JOB and config.claim_timeout is None:
            config = dataclasses.replace(config, claim_timeout=DEFAULT_CLAIM_TIMEOUT)
        await self.rosters.require(config.access_model, [actor.bare])
        fields = {
            k: v
            for k, v in node_config.to_stored(config, cap=self.policy.max_items_cap).items()
            if v is not None
        }
        fields[CREATOR] = actor.bare
        fields[CREATION_DATE] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        await self.store.create_node(name, fields, actor.bare)
        await self.expiry.configured(name, config)
        return name

    async def get_config(self, actor: Actor, node: str) -> NodeConfig:
        return (await self.check(actor, node, Action.CONFIGURE)).config

    async def configure_node(
        self, actor: Actor, node: str, changes: Mapping[str, Sequence[str]]
    ) -> NodeConfig:
        """Apply a submitted configuration form; returns the new config."""
        access = await self.check(actor, node, Action.CONFIGURE)
        current = access.config
        updated = node_config.apply(current, changes, cap=self.policy.max_items_cap)
        if updated.access_model != current.access_model:
            owners = owners_of((await self.store.state(node)).affiliations)
            await self.rosters.require(updated.access_model, owners or [actor.bare])
        if updated.node_kind != current.node_kind:
            raise InvalidNodeConfig("thoonkx#node_kind", "is chosen when the node is created")
        try:
            await self.thoonk.set_config(
                node, node_config.to_stored(updated, cap=self.policy.max_items_cap)
            )
            if updated.node_kind == NodeKind.FEED:  # a lowered max_items holds at once
                await Feed(self.thoonk, node, BYTES).trim()
            await self.expiry.configured(node, updated)
        except ThoonkFeedNotFound:
            raise NodeNotFound(node) from None
        finally:
            self.store.forget(node)
        return updated

    async def delete_node(self, actor: Actor, node: str, redirect: str | None = None) -> None:
        """Delete a node; subscribers are told by the event router (with ``redirect``)."""
        config = (await self.check(actor, node, Action.DELETE)).config
        await self.store.set_tombstone(
            node,
            {
                "redirect": redirect,
                "notify_delete": config.notify_delete and config.deliver_notifications,
                "notification_type": config.notification_type.value,
                "access_model": config.access_model.value,
            },
        )

        async def deleted() -> bool | None:
            return True if not await self.thoonk.feed_exists(node) else None

        try:
            await settled(lambda: self.thoonk.delete_feed(node), deleted)
        except ThoonkFeedNotFound:
            await self.store.redis.delete(keys.node_tombstone(node))
            raise NodeNotFound(node) from None
        finally:
            self.store.forget(node)

    async def purge_node(self, actor: Actor, node: str) -> None:
        """Remove every item; subscribers get one purge event."""
        access = await self.check(actor, node, Action.PURGE)
        if access.config.node_kind.queueing:
            raise Unsupported("purge-nodes", "not on job and queue nodes")
        feed = await self._feed(node)

        async def purged() -> list[str] | None:
            return [] if not await feed.get_ids() else None

        try:
            await settled(feed.purge, purged)
        except ThoonkFeedNotFound:
            raise NodeNotFound(node) from None

    async def may_see(self, actor: Actor, node: str) -> bool:
        """Whether ``actor`` may see what the node holds: its items, its meta-data."""
        try:
            await self.check(actor, node, Action.RETRIEVE_ITEMS)
        except NOT_SEEN:
            return False
        return True

    async def metadata(self, node: str) -> NodeMetadata:
        """Node metadata for disco#info."""
        state = await self.store.state(node)
        if not state.is_node:
            raise NodeNotFound(node)
        affiliations = state.affiliations
        return NodeMetadata(
            node=node,
            config=state.config,
            creator=state.stored.get(CREATOR),
            creation_date=state.stored.get(CREATION_DATE),
            owners=[j for j, a in affiliations.items() if a == Affiliation.OWNER],
            publishers=[j for j, a in affiliations.items() if a == Affiliation.PUBLISHER],
            num_subscribers=len(state.subscriptions),
        )


__all__ = ["NodeAccess", "NodeMetadata", "PageRequest", "PubSubService", "bare"]
