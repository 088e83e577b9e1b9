"""A node's archive (XEP-0313 through XEP-0442): its items paged by time and by id.

The archive of a plain node is what its Thoonk feed holds: the items stored now,
in publication order, each with the time of its last publication (the feed's
score).  An edit (a publish with an id already stored) moves the item to the
newest place with its new time; retracted, purged and trimmed items are gone.
Ordered nodes keep no publication times and their order is not chronological:
they have no archive (:class:`NoArchive`).

One read-only script (``lua/archive_page.lua``) reads a whole page at once, so
a publish or trim in between cannot shift it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from thoonk_xmpp.thoonk import ItemNotFound as ThoonkItemNotFound
from thoonk_xmpp.thoonk import keys
from thoonk_xmpp.thoonk.names import decode_id
from thoonk_xmpp.thoonk.scripts import Scripts

from .access import Action
from .errors import BadRequest, ItemNotFound, NoArchive
from .model import Actor, Item, NodeKind
from .retrieval import PageRequest

if TYPE_CHECKING:
    from thoonk_xmpp.thoonk import AsyncThoonk

    from .policy import ServicePolicy
    from .service import NodeAccess

#: Scores below this are thoonk.py's epoch seconds, not milliseconds.
_SECONDS_BELOW: Final = 10**11


def score_ms(score: bytes | str | float) -> int:
    """A feed score as epoch milliseconds (thoonk.py stored seconds)."""
    value = float(score)
    return round(value * 1000) if value < _SECONDS_BELOW else int(value)


@dataclass(frozen=True, slots=True)
class ArchiveQuery:
    """What a client asked of a node's archive; every filter is optional.

    ``start_ms``/``end_ms`` bound publication times (inclusive), ``after_id``/``before_id``
    bound positions (exclusive), ``ids`` names items; ``page`` is the XEP-0059 paging.
    """

    start_ms: int | None = None
    end_ms: int | None = None
    after_id: str | None = None
    before_id: str | None = None
    ids: tuple[str, ...] = ()
    page: PageRequest | None = None


@dataclass(frozen=True, slots=True)
class ArchivePage:
    """One page of a result set: its items oldest first (each with ``published_ms``).

    ``first_index`` places the first of them in the result set of ``count`` items;
    ``complete`` says the page reaches the set's end in the direction paged (its
    start when paging back with ``before``).
    """

    items: list[Item]
    first_index: int | None
    count: int
    complete: bool
    backwards: bool


class ArchiveOps:
    """Mixed into PubSubService: XEP-0313 queries and metadata of plain nodes."""

    thoonk: AsyncThoonk
    policy: ServicePolicy

    if TYPE_CHECKING:

        async def check(self, actor: Actor, node: str, action: Action) -> NodeAccess: ...

    @functools.cached_property
    def _archive_scripts(self) -> Scripts:
        return Scripts(self.thoonk.commands, __package__)

    async def check_archive(self, actor: Actor, node: str) -> NodeAccess:
        """The node's archive may be read by ``actor``: exactly who may retrieve its items."""
        access = await self.check(actor, node, Action.RETRIEVE_ITEMS)
        if access.config.node_kind != NodeKind.FEED:
            raise NoArchive(node, access.config.node_kind.value)
        return access

    async def archive_page(self, actor: Actor, node: str, query: ArchiveQuery) -> ArchivePage:
        """One page of the node's items matching ``query``, at most ``max_archive_page``."""
        await self.check_archive(actor, node)
        start, end = query.start_ms, query.end_ms
        if start is not None and end is not None and end < start:
            raise BadRequest("the archive query's 'end' is before its 'start'")
        page = query.page or PageRequest()
        if page.after is not None and page.before is not None:
            raise BadRequest(
                "RSM <after/> and <before/> together are undefined; use after-id and before-id"
            )
        if (page.max is not None and page.max < 0) or (page.index is not None and page.index < 0):
            raise BadRequest("RSM max and index must not be negative")
        limit = self.policy.max_archive_page
        most = limit if page.max is None else min(page.max, limit)
        mode, value = "first", ""
        if page.before is not None:
            mode, value = "before", page.before
        elif page.after is not None:
            mode, value = "after", page.after
        elif page.index is not None:
            mode, value = "index", str(page.index)
        try:
            reply = await self._archive_scripts.run(
                "archive_page",
                node,
                (keys.ids(node), keys.items(node)),
                (
                    "" if query.start_ms is None else query.start_ms,
                    "" if query.end_ms is None else query.end_ms,
                    _id_arg(query.after_id),
                    _id_arg(query.before_id),
                    mode,
                    value if mode == "index" else _id_arg(value),
                    most,
                    *(keys.encode_name(i) for i in query.ids),
                ),
            )
        except ThoonkItemNotFound as exc:
            item_id = exc.item_id
            text = decode_id(item_id) if isinstance(item_id, bytes) else item_id
            raise ItemNotFound(node, text) from None
        count, first = int(reply[0]), int(reply[1])
        found = reply[2:]
        items = [
            Item(decode_id(found[i]), found[i + 2], score_ms(found[i + 1]))
            for i in range(0, len(found), 3)
        ]
        backwards = mode == "before"
        if first < 0:  # nothing left that way; or max 0, asking only for the count
            return ArchivePage([], None, count, most > 0 or count == 0, backwards)
        complete = first == 0 if backwards else first + len(items) >= count
        return ArchivePage(items, first, count, complete, backwards)

    async def archive_ends(self, actor: Actor, node: str) -> tuple[Item, Item] | None:
        """The oldest and newest items of the archive (without payloads); None if empty."""
        await self.check_archive(actor, node)
        async with self.thoonk.redis.pipeline(transaction=True) as pipe:
            pipe.zrange(keys.ids(node), 0, 0, withscores=True)
            pipe.zrange(keys.ids(node), -1, -1, withscores=True)
            oldest, newest = await pipe.execute()
        if not oldest or not newest:
            return None
        (first_id, first_score), (last_id, last_score) = oldest[0], newest[0]
        return (
            Item(decode_id(first_id), b"", score_ms(first_score)),
            Item(decode_id(last_id), b"", score_ms(last_score)),
        )


def _id_arg(item_id: str | None) -> bytes:
    """An id as the script's argument; '' stands for none (ids are never empty)."""
    return b"" if item_id is None else keys.encode_name(item_id)
