"""Plain feed: items ordered by publish time, optionally bounded by ``max_length``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from . import keys
from .base import FeedObject
from .names import decode_id, item_id, new_ids
from .replies import bdict, blist, integer

T = TypeVar("T")


class Feed(FeedObject[T]):
    """A Thoonk feed (``type=feed``). Obtain one with ``await thoonk.feed(name)``."""

    type_name = "feed"

    async def publish(self, item: T, id: str | None = None) -> str:
        """Publish ``item``; republishing an existing ``id`` edits it. Returns the id."""
        (published,) = await self.publish_many([(item, id)])
        return published

    async def publish_many(self, entries: Iterable[T | tuple[T, str | None]]) -> list[str]:
        """Publish several items in one atomic round trip. Returns their ids in order.

        Each entry is an item (a new id is generated) or an ``(item, id)`` pair.
        """
        pairs = [entry if isinstance(entry, tuple) else (entry, None) for entry in entries]
        fresh = iter(new_ids(sum(1 for _, given in pairs if given is None)))
        args: list[bytes] = []
        ids: list[str] = []
        for item, given in pairs:
            raw_id = item_id(given) if given is not None else next(fresh)
            args += (raw_id, self.codec.encode(item))
            ids.append(decode_id(raw_id))
        if not ids:
            return []
        name = self.name
        await self._run(
            "feed/publish",
            (keys.FEEDS, self._ids, keys.config(name), self._items, keys.publishes(name)),
            (
                keys.publish_channel(name),
                keys.edit_channel(name),
                keys.retract_channel(name),
                keys.trim_channel(name),
                *args,
            ),
        )
        return ids

    async def retract(self, id: str) -> None:
        """Remove an item. Raises ItemNotFound (and changes nothing) if absent."""
        await self.retract_many([id])

    async def retract_many(self, ids: Iterable[str], *, announce: bool = False) -> None:
        """Remove several items atomically; all must exist or nothing changes.

        With ``announce``, a notify notice (:attr:`~.notices.NoticeKind.NOTIFY`)
        says ahead of the retract notices that their retraction is to be announced
        (an XMPP retract with ``notify="true"``): every listener learns it from
        the notices themselves.
        """
        raw = [item_id(i) for i in ids]
        if raw:
            notify = keys.notify_channel(self.name) if announce else b""
            await self._run(
                "feed/retract",
                (keys.FEEDS, self._ids, self._items),
                (keys.retract_channel(self.name), notify, *raw),
            )

    async def purge(self) -> list[str]:
        """Retract every item (a retract notice each). Returns the ids removed."""
        gone = await self._run(
            "feed/purge",
            (keys.FEEDS, self._ids, self._items),
            (keys.retract_channel(self.name), keys.purge_channel(self.name)),
        )
        return self._ids_text(gone)

    async def trim(self) -> list[str]:
        """Drop the oldest items beyond ``max_length`` now, as a publish would (a retract
        notice each, after a trim notice). Returns the ids removed."""
        name = self.name
        gone = await self._run(
            "feed/trim",
            (keys.FEEDS, self._ids, keys.config(name), self._items),
            (keys.retract_channel(name), keys.trim_channel(name)),
        )
        return self._ids_text(gone)

    async def get_ids(self) -> list[str]:
        """Item ids, oldest first."""
        return self._ids_text(blist(await self.redis.zrange(self._ids, 0, -1)))

    async def get_all(self) -> dict[str, T]:
        """Every item keyed by id, in feed order (oldest first)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrange(self._ids, 0, -1)
            pipe.hgetall(self._items)
            order, raw = await pipe.execute()
        stored = bdict(raw)
        return {decode_id(i): self._decode(stored[i]) for i in order if i in stored}

    async def count(self) -> int:
        """Number of items."""
        return integer(await self.redis.zcard(self._ids))

    async def get_range(self, start: int, stop: int) -> list[tuple[str, T]]:
        """Items with rank ``start``..``stop`` inclusive (negative counts from newest)."""
        ranked = blist(await self.redis.zrange(self._ids, start, stop))
        if not ranked:
            return []
        values = blist(await self.redis.hmget(self._items, ranked))
        return [
            (decode_id(i), self._decode(v))
            for i, v in zip(ranked, values, strict=True)
            if v is not None
        ]

    async def published_ms(self, id: str) -> int | None:
        """When ``id`` was last published or edited (epoch ms; the feed score), or None.

        Items written by thoonk.py carry seconds, not ms; their score is returned as stored.
        """
        score = await self.redis.zscore(self._ids, keys.encode_name(id))
        return None if score is None else int(float(score))

    async def rank(self, id: str) -> int | None:
        """Position of ``id`` from the oldest (0), or None."""
        found = await self.redis.zrank(self._ids, keys.encode_name(id))
        return None if found is None else integer(found)
