"""Sorted feed: items in an order chosen by the publisher, with integer ids."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, TypeVar, cast

from . import keys
from .base import FeedObject
from .errors import InvalidPosition
from .names import decode_id, item_id
from .replies import bdict, blist, integer, optional_blist

T = TypeVar("T")

#: Where an insert or a move puts an item (the Lua scripts' ``mode`` argument).
Mode = Literal["begin", "end", "before", "after"]


def _placement(mode: Mode, pivot: bytes = b"") -> tuple[Mode, bytes, bytes]:
    """``(mode, pivot, position text)`` as the scripts take them."""
    match mode:
        case "begin":
            return mode, b"", keys.BEGIN
        case "end":
            return mode, b"", keys.END
        case "before":
            return mode, pivot, keys.before(pivot)
        case "after":
            return mode, pivot, keys.after(pivot)


class SortedFeed(FeedObject[T]):
    """A Thoonk sorted feed (``type=sorted_feed``). Open with ``await thoonk.sorted_feed(name)``.

    Ids are handed out by a per-feed counter (``"1"``, ``"2"``, ...); the order
    of the feed is set by where items are inserted and moved.
    """

    type_name = "sorted_feed"

    # --- inserting ------------------------------------------------------------

    async def _insert(self, placement: tuple[Mode, bytes, bytes], items: list[bytes]) -> list[str]:
        if not items:
            return []
        mode, pivot, position = placement
        name = self.name
        ids = await self._run(
            "sorted_feed/insert",
            (keys.FEEDS, self._ids, self._items, keys.publishes(name), keys.idincr(name)),
            (
                keys.publish_channel(name),
                keys.position_channel(name),
                mode,
                pivot,
                position,
                *items,
            ),
        )
        return self._ids_text(blist(ids))

    async def append(self, item: T) -> str:
        """Add ``item`` at the end. Returns its new id."""
        (new_id,) = await self._insert(_placement("end"), [self.codec.encode(item)])
        return new_id

    async def publish(self, item: T) -> str:
        """Same as :meth:`append`."""
        return await self.append(item)

    async def append_many(self, items: Iterable[T]) -> list[str]:
        """Append several items, in order, in one atomic call. Returns their ids."""
        return await self._insert(_placement("end"), [self.codec.encode(i) for i in items])

    async def prepend(self, item: T) -> str:
        """Add ``item`` at the beginning. Returns its new id."""
        (new_id,) = await self._insert(_placement("begin"), [self.codec.encode(item)])
        return new_id

    async def publish_before(self, before_id: str, item: T) -> str:
        """Insert ``item`` just before ``before_id`` (ItemNotFound if absent). Returns its id."""
        placement = _placement("before", item_id(before_id))
        (new_id,) = await self._insert(placement, [self.codec.encode(item)])
        return new_id

    async def publish_after(self, after_id: str, item: T) -> str:
        """Insert ``item`` just after ``after_id`` (ItemNotFound if absent). Returns its id."""
        placement = _placement("after", item_id(after_id))
        (new_id,) = await self._insert(placement, [self.codec.encode(item)])
        return new_id

    async def publish_many(
        self,
        entries: Iterable[tuple[T, str | None]],
        *,
        mode: Mode = "end",
        pivot: str | None = None,
    ) -> list[str]:
        """Publish ``(item, id)`` pairs atomically; returns the ids in order.

        An id already stored is edited in place. New ids, and items without one
        (which get the next counter id), go where ``mode`` says: ``"end"``,
        ``"begin"``, or ``"before"``/``"after"`` the item ``pivot`` (ItemNotFound if
        absent); several new items keep their order there.
        """
        args: list[bytes] = []
        for item, given in entries:
            args += (b"" if given is None else item_id(given), self.codec.encode(item))
        if not args:
            return []
        if (pivot is None) != (mode in ("begin", "end")):
            raise InvalidPosition(self.name, mode, "a pivot goes with 'before' or 'after' only")
        name = self.name
        ids = await self._run(
            "sorted_feed/publish",
            (keys.FEEDS, self._ids, self._items, keys.publishes(name), keys.idincr(name)),
            (
                keys.publish_channel(name),
                keys.position_channel(name),
                mode,
                b"" if pivot is None else item_id(pivot),
                *args,
            ),
        )
        return self._ids_text(blist(ids))

    # --- changing existing items ------------------------------------------------

    async def edit(self, id: str, item: T) -> None:
        """Replace the item ``id`` in place. Raises ItemNotFound if absent."""
        await self._run(
            "sorted_feed/edit",
            (keys.FEEDS, self._ids, self._items, keys.publishes(self.name)),
            (keys.publish_channel(self.name), item_id(id), self.codec.encode(item)),
        )

    async def _move(self, id: str, placement: tuple[Mode, bytes, bytes]) -> None:
        mode, pivot, position = placement
        await self._run(
            "sorted_feed/move",
            (keys.FEEDS, self._ids, self._items),
            (keys.position_channel(self.name), item_id(id), mode, pivot, position),
        )

    async def move(self, rel_position: str, id: str) -> None:
        """Move item ``id`` to a relative position.

        ``"begin:"`` first, ``":end"`` last, ``":<rel>"`` just before ``<rel>``,
        ``"<rel>:"`` just after it. Raises InvalidPosition for any other text
        or a position relative to ``id`` itself, ItemNotFound if ``id`` or
        ``<rel>`` is absent.
        """
        await self._move(id, self._parse_position(rel_position))

    async def move_first(self, id: str) -> None:
        """Move item ``id`` to the beginning."""
        await self._move(id, _placement("begin"))

    async def move_last(self, id: str) -> None:
        """Move item ``id`` to the end."""
        await self._move(id, _placement("end"))

    async def move_before(self, rel_id: str, id: str) -> None:
        """Move item ``id`` just before ``rel_id``."""
        await self._move(id, _placement("before", item_id(rel_id)))

    async def move_after(self, rel_id: str, id: str) -> None:
        """Move item ``id`` just after ``rel_id``."""
        await self._move(id, _placement("after", item_id(rel_id)))

    def _parse_position(self, text: str) -> tuple[Mode, bytes, bytes]:
        if not isinstance(text, str):
            raise TypeError(f"a position is a str, not {type(text).__name__}")
        if text == "begin:":
            return _placement("begin")
        if text == ":end":
            return _placement("end")
        # A leading colon wins over a trailing one, as in thoonk.py's move.
        if len(text) > 1 and "\x00" not in text:
            if text.startswith(":"):
                return _placement("before", item_id(text[1:]))
            if text.endswith(":"):
                return _placement("after", item_id(text[:-1]))
        raise InvalidPosition(self.name, text, "expected 'begin:', ':end', ':<id>' or '<id>:'")

    async def retract(self, id: str) -> None:
        """Remove item ``id``. Raises ItemNotFound (and changes nothing) if absent."""
        await self.retract_many([id])

    async def retract_many(self, ids: Iterable[str], *, announce: bool = False) -> None:
        """Remove several items atomically; all must exist or nothing changes.

        ``announce`` as in :meth:`.Feed.retract_many`.
        """
        raw = [item_id(i) for i in ids]
        if raw:
            notify = keys.notify_channel(self.name) if announce else b""
            await self._run(
                "sorted_feed/retract",
                (keys.FEEDS, self._ids, self._items),
                (keys.retract_channel(self.name), notify, *raw),
            )

    async def purge(self) -> list[str]:
        """Retract every item (a purge notice, then a retract notice each). Returns the ids."""
        gone = await self._run(
            "sorted_feed/purge",
            (keys.FEEDS, self._ids, self._items),
            (keys.retract_channel(self.name), keys.purge_channel(self.name)),
        )
        return self._ids_text(blist(gone))

    # --- reading -------------------------------------------------------------------

    async def get_ids(self) -> list[str]:
        """Item ids in feed order."""
        return self._ids_text(blist(await self.redis.lrange(self._ids, 0, -1)))

    async def get_all(self) -> dict[str, T]:
        """Every item keyed by id, in feed order."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(self._ids, 0, -1)
            pipe.hgetall(self._items)
            order, raw = await pipe.execute()
        stored = bdict(raw)
        return {decode_id(i): self._decode(stored[i]) for i in blist(order) if i in stored}

    async def count(self) -> int:
        """Number of items."""
        return integer(await self.redis.llen(self._ids))

    async def get_range(self, start: int, stop: int) -> list[tuple[str, T]]:
        """Items at places ``start``..``stop`` inclusive in feed order (negative from the end)."""
        ranked = blist(await self.redis.lrange(self._ids, start, stop))
        if not ranked:
            return []
        values = optional_blist(await self.redis.hmget(self._items, ranked))
        return [
            (decode_id(i), self._decode(v))
            for i, v in zip(ranked, values, strict=True)
            if v is not None
        ]

    async def rank(self, id: str) -> int | None:
        """Place of ``id`` in feed order (0 is first), or None."""
        # redis-py's annotation says str; it sends bytes as they are
        found = await self.redis.lpos(self._ids, cast(str, keys.encode_name(id)))
        return None if found is None else integer(found)

    async def published_ms(self, id: str) -> int | None:
        """Always None: a sorted feed keeps no publication times."""
        return None
