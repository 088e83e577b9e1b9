"""What the service knows of a node at one moment, and a cache of it kept coherent by notices.

Every publish checks the publisher's standing and every notice is routed to
the node's subscribers, so both would read the node's config, affiliations
and subscriptions from Redis each time.  :class:`NodeStates` keeps them
instead, and drops a node's entry on every notice that says it changed:
the Thoonk registry notices (create, delete, config) and our own state
notice, which every script changing subscriptions or affiliations sends.
Changes made through this process also drop the entry at once, so a client
reads its own writes.

The cache trusts an entry only while the notice subscription that could
invalidate it lasts (:attr:`~thoonk_xmpp.thoonk.notices.Listener.epoch`):
with no listener running it reads through to Redis every time, and when the
listener reconnects (notices may have been lost) it starts empty.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

from thoonk_xmpp.thoonk import FeedType, Notice, NoticeKind
from thoonk_xmpp.thoonk.notices import Listener

from .model import Affiliation, Subscription
from .node_config import NodeConfig


@dataclass(frozen=True, slots=True)
class NodeState:
    """A node's stored config, affiliations and subscriptions, read together."""

    node: str
    #: Whether the registry lists it (its subscriptions can outlive it until the delete
    #: notice is routed).
    exists: bool
    #: The Thoonk config as stored (``type`` tells feeds from other objects).
    stored: Mapping[str, str]
    #: ``stored`` with the service defaults filled in.
    config: NodeConfig
    #: Bare JID → affiliation, as stored.
    affiliations: Mapping[str, Affiliation]
    subscriptions: tuple[Subscription, ...]
    #: Bare JIDs holding at least one subscription.
    subscribers: frozenset[str]
    #: Subscriptions waiting for an owner's approval (authorize nodes): no events, no items.
    pending: tuple[Subscription, ...] = ()

    @property
    def is_node(self) -> bool:
        """Every Thoonk feed type is a node: plain feeds, sorted feeds (ordered nodes), and
        jobs and queues (XEP-0254 queue nodes); thoonk.py's pickled ``pyqueue`` is not."""
        return self.stored.get("type", FeedType.FEED.value) in _NODE_TYPES


#: The Thoonk ``type`` of the objects that are nodes.
_NODE_TYPES = frozenset(
    {FeedType.FEED.value, FeedType.SORTED_FEED.value, FeedType.JOB.value, FeedType.QUEUE.value}
)

#: Reads the states of nodes.
Loader = Callable[[list[str]], Awaitable[dict[str, NodeState]]]

#: Notices after which a node's state must be read again.
_CHANGES = frozenset({NoticeKind.CREATE, NoticeKind.DELETE, NoticeKind.CONFIG, NoticeKind.STATE})


class NodeStates:
    """A bounded cache of :class:`NodeState` in front of ``load``."""

    def __init__(self, load: Loader, listener: Listener, *, size: int = 4096) -> None:
        self._load = load
        self._listener = listener
        self._size = size
        self._entries: OrderedDict[str, NodeState] = OrderedDict()
        #: The listener epoch the entries were learned in.
        self._epoch: int | None = None
        #: Node → loads in flight; and the nodes changed while one was.
        self._loading: dict[str, int] = {}
        self._changed: set[str] = set()
        listener.add_sink(self.on_notice)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, node: object) -> bool:
        return node in self._entries

    def on_notice(self, notice: Notice) -> None:
        """Listener sink: forget the node a change notice is about."""
        if notice.kind in _CHANGES:
            self.forget(notice.feed)

    def forget(self, node: str) -> None:
        """Drop what is known of ``node`` (it changed, or is about to)."""
        self._entries.pop(node, None)
        if node in self._loading:
            # a read issued before this change may answer after it: never keep it
            self._changed.add(node)

    def cached(self, node: str) -> NodeState | None:
        """The node's state if the cache holds a trustworthy one, without reading Redis."""
        if self._listener.epoch != self._epoch:
            return None
        return self._entries.get(node)

    async def get_many(self, nodes: Collection[str]) -> dict[str, NodeState]:
        """The state of each node, from the cache or read in one round trip."""
        epoch = self._listener.epoch
        if epoch != self._epoch:
            self._entries.clear()
            self._epoch = epoch
        found: dict[str, NodeState] = {}
        missing: list[str] = []
        for node in nodes:
            entry = self._entries.get(node)
            if entry is None:
                missing.append(node)
            else:
                self._entries.move_to_end(node)
                found[node] = entry
        if missing:
            found |= await self._read(missing, epoch)
        return found

    async def _read(self, nodes: list[str], epoch: int | None) -> dict[str, NodeState]:
        for node in nodes:
            self._loading[node] = self._loading.get(node, 0) + 1
        try:
            loaded = await self._load(nodes)
            keep = epoch is not None and self._listener.epoch == epoch == self._epoch
            for node, state in loaded.items():
                if keep and node not in self._changed:
                    self._put(node, state)
            return loaded
        finally:
            for node in nodes:
                left = self._loading[node] - 1
                if left:
                    self._loading[node] = left
                else:
                    del self._loading[node]
                    self._changed.discard(node)

    def _put(self, node: str, state: NodeState) -> None:
        self._entries[node] = state
        self._entries.move_to_end(node)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
