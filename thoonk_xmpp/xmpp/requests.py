"""The typed vocabulary of IQ requests: one frozen dataclass per verb.

:mod:`thoonk_xmpp.xmpp.parsing` turns an iq into one of these, once; the
handlers in :mod:`thoonk_xmpp.xmpp.handlers` take them and never look at XML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from thoonk_xmpp.service.archive import ArchiveQuery
from thoonk_xmpp.service.model import Actor, Affiliation, SubscriptionState
from thoonk_xmpp.service.service import PageRequest
from thoonk_xmpp.service.store import bare


class IqType(StrEnum):
    """Request iq types (results and errors are never requests)."""

    GET = "get"
    SET = "set"


# --- the requests -------------------------------------------------------------------------


class Request:
    """Base of every typed request; ``verb`` names its kind in logs and metrics.

    A new verb is a subclass, its parser (``@parses`` in :mod:`.parsing`) and its
    handler (``@handles`` in :mod:`.handlers`).
    """

    __slots__ = ()
    verb: ClassVar[str]


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
class Ping(Request):
    verb: ClassVar[str] = "ping"


@dataclass(frozen=True, slots=True)
class DiscoInfo(Request):
    node: str | None
    verb: ClassVar[str] = "disco-info"


@dataclass(frozen=True, slots=True)
class DiscoItems(Request):
    node: str | None
    page: PageRequest | None = None
    verb: ClassVar[str] = "disco-items"


@dataclass(frozen=True, slots=True)
class Create(Request):
    #: None asks for an instant node.
    node: str | None
    config: Mapping[str, list[str]] | None = None
    verb: ClassVar[str] = "create"


@dataclass(frozen=True, slots=True)
class GetConfig(Request):
    node: str
    verb: ClassVar[str] = "get-config"


@dataclass(frozen=True, slots=True)
class SetConfig(Request):
    node: str
    #: None when the owner cancelled (the configuration stays).
    changes: Mapping[str, list[str]] | None
    verb: ClassVar[str] = "set-config"


@dataclass(frozen=True, slots=True)
class GetDefault(Request):
    verb: ClassVar[str] = "get-default"


@dataclass(frozen=True, slots=True)
class Delete(Request):
    node: str
    redirect: str | None = None
    verb: ClassVar[str] = "delete"


@dataclass(frozen=True, slots=True)
class Purge(Request):
    node: str
    verb: ClassVar[str] = "purge"


@dataclass(frozen=True, slots=True)
class PublishedItem:
    """One ``<item/>`` of a publish: its id (None: the service picks) and stored bytes."""

    id: str | None
    payload: bytes | None


@dataclass(frozen=True, slots=True)
class Publish(Request):
    node: str
    items: tuple[PublishedItem, ...]
    options: Mapping[str, list[str]] | None = None
    verb: ClassVar[str] = "publish"


@dataclass(frozen=True, slots=True)
class Retract(Request):
    node: str
    ids: tuple[str, ...]
    notify: bool = False
    #: (id, stored result bytes) of items retracted with a job result (queue nodes).
    results: tuple[tuple[str, bytes], ...] = ()
    verb: ClassVar[str] = "retract"


@dataclass(frozen=True, slots=True)
class GetItems(Request):
    node: str
    ids: tuple[str, ...] = ()
    max_items: int | None = None
    page: PageRequest | None = None
    #: The subscription asked through (§6.5.2); it must be one of the sender's.
    subid: str | None = None
    verb: ClassVar[str] = "get-items"


@dataclass(frozen=True, slots=True)
class Subscribe(Request):
    node: str
    jid: str
    #: The ``<options/>`` form submitted with it (§6.3.7), if any.
    options: Mapping[str, list[str]] | None = None
    verb: ClassVar[str] = "subscribe"


@dataclass(frozen=True, slots=True)
class Unsubscribe(Request):
    node: str
    jid: str
    subid: str | None = None
    verb: ClassVar[str] = "unsubscribe"


@dataclass(frozen=True, slots=True)
class OwnSubscriptions(Request):
    node: str | None = None
    page: PageRequest | None = None
    verb: ClassVar[str] = "own-subscriptions"


@dataclass(frozen=True, slots=True)
class OwnAffiliations(Request):
    node: str | None = None
    page: PageRequest | None = None
    verb: ClassVar[str] = "own-affiliations"


@dataclass(frozen=True, slots=True)
class GetSubscriptions(Request):
    node: str
    page: PageRequest | None = None
    verb: ClassVar[str] = "get-subscriptions"


@dataclass(frozen=True, slots=True)
class SetSubscriptions(Request):
    node: str
    #: (jid, new state, subid or None) per changed subscription.
    changes: tuple[tuple[str, SubscriptionState, str | None], ...]
    verb: ClassVar[str] = "set-subscriptions"


@dataclass(frozen=True, slots=True)
class GetAffiliations(Request):
    node: str
    page: PageRequest | None = None
    verb: ClassVar[str] = "get-affiliations"


@dataclass(frozen=True, slots=True)
class SetAffiliations(Request):
    node: str
    changes: tuple[tuple[str, Affiliation], ...]
    verb: ClassVar[str] = "set-affiliations"


class CommandAction(StrEnum):
    """XEP-0050 actions a requester may ask for."""

    EXECUTE = "execute"
    CANCEL = "cancel"
    PREV = "prev"
    NEXT = "next"
    COMPLETE = "complete"


@dataclass(frozen=True, slots=True)
class Execute(Request):
    """A XEP-0050 ``<command/>``: run a command, or move its session on."""

    node: str
    action: CommandAction = CommandAction.EXECUTE
    sessionid: str | None = None
    #: The submitted form's fields (None: no form sent).
    form: Mapping[str, list[str]] | None = None
    verb: ClassVar[str] = "command"


@dataclass(frozen=True, slots=True)
class GetOptions(Request):
    """A subscription's options form (XEP-0060 §6.3.1)."""

    node: str
    jid: str
    subid: str | None = None
    verb: ClassVar[str] = "get-options"


@dataclass(frozen=True, slots=True)
class SetOptions(Request):
    """A submitted subscription options form (§6.3.5)."""

    node: str
    jid: str
    subid: str | None
    #: None when the subscriber cancelled (nothing changes).
    changes: Mapping[str, list[str]] | None
    verb: ClassVar[str] = "set-options"


@dataclass(frozen=True, slots=True)
class GetSubscribeDefault(Request):
    """The default subscription options of the service or of a node (§6.4)."""

    node: str | None = None
    verb: ClassVar[str] = "get-subscribe-default"


@dataclass(frozen=True, slots=True)
class QueryArchive(Request):
    """XEP-0313 query of a node's archive (XEP-0442)."""

    node: str
    query: ArchiveQuery
    #: Echoed in every result message, to match them to the query.
    queryid: str | None = None
    #: Send the page newest first (``<flip-page/>``).
    flip: bool = False
    verb: ClassVar[str] = "archive-query"


@dataclass(frozen=True, slots=True)
class GetArchiveForm(Request):
    node: str
    verb: ClassVar[str] = "archive-form"


@dataclass(frozen=True, slots=True)
class GetArchiveMetadata(Request):
    node: str
    verb: ClassVar[str] = "archive-metadata"


@dataclass(frozen=True, slots=True)
class Unlock(Request):
    """XEP-0254: the holder of a job gives it back to the queue."""

    node: str
    item_id: str
    verb: ClassVar[str] = "unlock"
