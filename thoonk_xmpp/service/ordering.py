"""Where a publish to an ordered node puts its new items: the position publish-options.

An ordered node (``thoonkx#node_kind = sorted_feed``) keeps its items in the order
of a Thoonk sorted feed.  A publish appends new items at the end unless its
``pubsub#publish-options`` form holds one of these fields (each single-valued):

- ``thoonkx#position_before``: an item id; the new items go just before it;
- ``thoonkx#position_after``: an item id; the new items go just after it;
- ``thoonkx#position_at``: ``start`` or ``end``.

Several new items keep their order at that place; items whose id is already
stored are edited in place.  The fields are taken out of the form before the
rest is checked as preconditions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from thoonk_xmpp.thoonk import Feed, SortedFeed

from .errors import InvalidPlacement

POSITION_BEFORE: Final = "thoonkx#position_before"
POSITION_AFTER: Final = "thoonkx#position_after"
POSITION_AT: Final = "thoonkx#position_at"
FIELDS: Final = (POSITION_BEFORE, POSITION_AFTER, POSITION_AT)

#: ``thoonkx#position_at`` values → the sorted feed's insert modes.
_AT: Final[Mapping[str, Literal["begin", "end"]]] = {"start": "begin", "end": "end"}


@dataclass(frozen=True, slots=True)
class Placement:
    """A sorted feed insert mode and its pivot item (for ``before``/``after``)."""

    mode: Literal["begin", "end", "before", "after"] = "end"
    pivot: str | None = None


def take_placement(
    options: Mapping[str, Sequence[str]] | None, *, ordered: bool
) -> tuple[Placement | None, dict[str, Sequence[str]]]:
    """(the placement the options ask for or None, the other options).

    ``ordered``: whether the node is an ordered one (no other node takes a position).
    """
    rest = dict(options or {})
    given = [(var, rest.pop(var)) for var in FIELDS if var in rest]
    if not given:
        return None, rest
    if not ordered:
        raise InvalidPlacement(given[0][0], "only ordered nodes take a position")
    if len(given) > 1:
        names = ", ".join(var for var, _ in given)
        raise InvalidPlacement(given[0][0], f"only one position may be given, not {names}")
    var, values = given[0]
    if len(values) != 1 or not values[0]:
        raise InvalidPlacement(var, "takes exactly one non-empty value")
    value = values[0]
    if var == POSITION_AT:
        if value not in _AT:
            raise InvalidPlacement(var, f"{value!r} is not one of start, end")
        return Placement(_AT[value]), rest
    if "\x00" in value:
        raise InvalidPlacement(var, "an item id holds no NUL")
    return Placement("before" if var == POSITION_BEFORE else "after", value), rest


async def publish_entries(
    feed: Feed[bytes] | SortedFeed[bytes],
    entries: Sequence[tuple[bytes, str]],
    placement: Placement | None,
) -> list[str]:
    """Publish ``(payload, id)`` pairs to the node's feed, new items where ``placement`` says."""
    if isinstance(feed, SortedFeed):
        where = placement or Placement()
        return await feed.publish_many(entries, mode=where.mode, pivot=where.pivot)
    return await feed.publish_many(entries)
