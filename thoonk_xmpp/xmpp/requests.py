"""The typed vocabulary of IQ requests: one frozen dataclass per verb.

:mod:`thoonk_xmpp.xmpp.parsing` turns an iq into one of these, once; the
handlers in :mod:`thoonk_xmpp.xmpp.handlers` take them and never look at XML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from thoonk_xmpp.service.model import Actor, Affiliation, SubscriptionState
from thoonk_xmpp.service.service import PageRequest
from thoonk_xmpp.service.store import bare


class IqType(StrEnum):
    """Request iq types (results and errors are never requests)."""

    GET = "get"
    SET = "set"


class Verb(StrEnum):
    """Everything this service answers."""

    PING = "ping"
    DISCO_INFO = "disco-info"
    DISCO_ITEMS = "disco-items"
    CREATE = "create"
    GET_CONFIG = "get-config"
    SET_CONFIG = "set-config"
    GET_DEFAULT = "get-default"
    DELETE = "delete"
    PURGE = "purge"
    PUBLISH = "publish"
    RETRACT = "retract"
    GET_ITEMS = "get-items"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    OWN_SUBSCRIPTIONS = "own-subscriptions"
    OWN_AFFILIATIONS = "own-affiliations"
    GET_SUBSCRIPTIONS = "get-subscriptions"
    SET_SUBSCRIPTIONS = "set-subscriptions"
    GET_AFFILIATIONS = "get-affiliations"
    SET_AFFILIATIONS = "set-affiliations"


# --- the requests -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who asked what: the iq's id, type and normalised addresses."""

    id: str
    type: IqType
    sender: str
    to: str

    @property
    def actor(self) -> Actor:
        return Actor(bare(self.sender))  # sender is already prepared


@dataclass(frozen=True, slots=True)
class Ping:
    verb: ClassVar[Verb] = Verb.PING


@dataclass(frozen=True, slots=True)
class DiscoInfo:
    node: str | None
    verb: ClassVar[Verb] = Verb.DISCO_INFO


@dataclass(frozen=True, slots=True)
class DiscoItems:
    node: str | None
    page: PageRequest | None = None
    verb: ClassVar[Verb] = Verb.DISCO_ITEMS


@dataclass(frozen=True, slots=True)
class Create:
    #: None asks for an instant node.
    node: str | None
    config: Mapping[str, list[str]] | None = None
    verb: ClassVar[Verb] = Verb.CREATE


@dataclass(frozen=True, slots=True)
class GetConfig:
    node: str
    verb: ClassVar[Verb] = Verb.GET_CONFIG


@dataclass(frozen=True, slots=True)
class SetConfig:
    node: str
    #: None when the owner cancelled (the configuration stays).
    changes: Mapping[str, list[str]] | None
    verb: ClassVar[Verb] = Verb.SET_CONFIG


@dataclass(frozen=True, slots=True)
class GetDefault:
    verb: ClassVar[Verb] = Verb.GET_DEFAULT


@dataclass(frozen=True, slots=True)
class Delete:
    node: str
    redirect: str | None = None
    verb: ClassVar[Verb] = Verb.DELETE


@dataclass(frozen=True, slots=True)
class Purge:
    node: str
    verb: ClassVar[Verb] = Verb.PURGE


@dataclass(frozen=True, slots=True)
class PublishedItem:
    """One ``<item/>`` of a publish: its id (None: the service picks) and stored bytes."""

    id: str | None
    payload: bytes | None


@dataclass(frozen=True, slots=True)
class Publish:
    node: str
    items: tuple[PublishedItem, ...]
    options: Mapping[str, list[str]] | None = None
    verb: ClassVar[Verb] = Verb.PUBLISH


@dataclass(frozen=True, slots=True)
class Retract:
    node: str
    ids: tuple[str, ...]
    notify: bool = False
    verb: ClassVar[Verb] = Verb.RETRACT


@dataclass(frozen=True, slots=True)
class GetItems:
    node: str
    ids: tuple[str, ...] = ()
    max_items: int | None = None
    page: PageRequest | None = None
    #: The subscription asked through (§6.5.2); it must be one of the sender's.
    subid: str | None = None
    verb: ClassVar[Verb] = Verb.GET_ITEMS


@dataclass(frozen=True, slots=True)
class Subscribe:
    node: str
    jid: str
    verb: ClassVar[Verb] = Verb.SUBSCRIBE


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    node: str
    jid: str
    subid: str | None = None
    verb: ClassVar[Verb] = Verb.UNSUBSCRIBE


@dataclass(frozen=True, slots=True)
class OwnSubscriptions:
    node: str | None = None
    page: PageRequest | None = None
    verb: ClassVar[Verb] = Verb.OWN_SUBSCRIPTIONS


@dataclass(frozen=True, slots=True)
class OwnAffiliations:
    node: str | None = None
    page: PageRequest | None = None
    verb: ClassVar[Verb] = Verb.OWN_AFFILIATIONS


@dataclass(frozen=True, slots=True)
class GetSubscriptions:
    node: str
    page: PageRequest | None = None
    verb: ClassVar[Verb] = Verb.GET_SUBSCRIPTIONS


@dataclass(frozen=True, slots=True)
class SetSubscriptions:
    node: str
    #: (jid, new state, subid or None) per changed subscription.
    changes: tuple[tuple[str, SubscriptionState, str | None], ...]
    verb: ClassVar[Verb] = Verb.SET_SUBSCRIPTIONS


@dataclass(frozen=True, slots=True)
class GetAffiliations:
    node: str
    page: PageRequest | None = None
    verb: ClassVar[Verb] = Verb.GET_AFFILIATIONS


@dataclass(frozen=True, slots=True)
class SetAffiliations:
    node: str
    changes: tuple[tuple[str, Affiliation], ...]
    verb: ClassVar[Verb] = Verb.SET_AFFILIATIONS


Request = (
    Ping
    | DiscoInfo
    | DiscoItems
    | Create
    | GetConfig
    | SetConfig
    | GetDefault
    | Delete
    | Purge
    | Publish
    | Retract
    | GetItems
    | Subscribe
    | Unsubscribe
    | OwnSubscriptions
    | OwnAffiliations
    | GetSubscriptions
    | SetSubscriptions
    | GetAffiliations
    | SetAffiliations
)
