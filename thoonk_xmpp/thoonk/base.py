"""What every feed type shares: its client, name, codec and key names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import keys
from .codecs import Codec
from .names import decode_id
from .replies import optional_blist, optional_bytes
from .scripts import EncodableT

if TYPE_CHECKING:
    from .client import AsyncThoonk

T = TypeVar("T")


class FeedObject(Generic[T]):
    """Base of Feed, SortedFeed, Queue and Job (all asyncio)."""

    #: The value of the ``type`` config field for this class.
    type_name = "feed"

    def __init__(self, thoonk: AsyncThoonk, name: str, codec: Codec[T]) -> None:
        self.thoonk = thoonk
        self.name = name
        self.codec = codec
        self.redis = thoonk.redis
        self._ids = keys.ids(name)
        self._items = keys.items(name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    async def _run(self, verb: str, keys_: Sequence[bytes], args: Sequence[EncodableT]) -> Any:
        return await self.thoonk.scripts.run(verb, self.name, keys_, (self.name, *args))

    def _decode(self, data: bytes) -> T:
        return self.codec.decode(data)

    async def get_item(self, item_id: str) -> T | None:
        """The item stored under ``item_id``, or None."""
        data = optional_bytes(await self.redis.hget(self._items, keys.encode_name(item_id)))
        return None if data is None else self._decode(data)

    async def get_items(self, item_ids: Sequence[str]) -> list[T | None]:
        """The items stored under ``item_ids`` (None where absent), in one round trip."""
        if not item_ids:
            return []
        raw = optional_blist(
            await self.redis.hmget(self._items, [keys.encode_name(i) for i in item_ids])
        )
        return [None if data is None else self._decode(data) for data in raw]

    async def has_id(self, item_id: str) -> bool:
        """Whether an item with this id is stored."""
        return bool(await self.redis.hexists(self._items, keys.encode_name(item_id)))

    async def exists(self) -> bool:
        """Whether the object is still registered."""
        return await self.thoonk.feed_exists(self.name)

    @staticmethod
    def _ids_text(raw: list[bytes]) -> list[str]:
        return [decode_id(r) for r in raw]
