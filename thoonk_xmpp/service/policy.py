"""Service-wide policy: admins, who may create nodes, limits and node defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from .model import Actor, NodeCreation
from .node_config import NodeConfig

#: Largest stanza the XMPP server takes from a component by default (Prosody's
#: component_stanza_size_limit; the ejabberd listener we ship allows 1 MiB).
DEFAULT_MAX_STANZA_SIZE: Final = 512 * 1024

#: Bytes of an event message beside its payload that the payload limit must leave free.
PAYLOAD_ROOM: Final = 8192


@dataclass(frozen=True, slots=True)
class ServicePolicy:
    """What the operator configured (``[pubsub]`` in thoonk_xmpp.toml)."""

    admins: frozenset[str] = frozenset()
    node_creation: NodeCreation = NodeCreation.LOCAL
    #: Domains whose users count as local for ``node_creation = "local"``.
    local_domains: frozenset[str] = frozenset()
    #: Bare JIDs allowed to create nodes for ``node_creation = "list"``.
    creators: frozenset[str] = frozenset()
    #: Largest ``pubsub#max_items``; ``max`` means this (None: unbounded).
    max_items_cap: int | None = None
    #: Most nodes one bare JID may own (admins excepted; None: no limit).
    max_nodes_per_owner: int | None = None
    #: Largest payload accepted (bytes as stored), whatever a node allows: half the
    #: default stanza limit, so that the event carrying it can be sent.
    max_payload_size: int = DEFAULT_MAX_STANZA_SIZE // 2
    #: Most items on one page of an archive query (XEP-0313), whatever the client asks.
    max_archive_page: int = 50
    defaults: NodeConfig = field(default_factory=NodeConfig)

    def is_admin(self, actor: Actor) -> bool:
        return actor.bare in self.admins

    def may_create(self, actor: Actor) -> bool:
        """Whether ``actor`` may create nodes."""
        if self.is_admin(actor):
            return True
        match self.node_creation:
            case NodeCreation.ANYONE:
                return True
            case NodeCreation.LOCAL:
                return actor.domain in self.local_domains
            case NodeCreation.LIST:
                return actor.bare in self.creators


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """How many requests may wait, and how fast one sender may send (``[limits]``)."""

    #: Requests of one sender (full JID) taken but not yet answered.
    pending_per_sender: int = 100
    #: Requests of everybody taken but not yet answered.
    pending: int = 10_000
    #: Requests per second one sender may make on average (0: no limit) ...
    rate: float = 0.0
    #: ... and at once after being idle.
    burst: int = 100
