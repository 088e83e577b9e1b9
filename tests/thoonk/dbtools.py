"""Helpers of the Thoonk tests: a recorder of handler calls and the payload of our own
registry notices. Snapshots and the raw pub/sub tap live in :mod:`tests.dbstate`."""

from __future__ import annotations

import asyncio
from typing import Any

from thoonk_xmpp.thoonk import AsyncThoonk


def registry_notice(thoonk: AsyncThoonk, name: bytes) -> bytes:
    """The payload of a registry notice (newfeed, conffeed, delfeed) sent by ``thoonk``."""
    return name + b"\x00" + thoonk.instance.encode()


class Recorder:
    """Collects handler calls as tuples ``(kind, *args)``; waits for a count."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._changed = asyncio.Event()

    def handler(self, kind: str) -> Any:
        def record(*args: Any) -> None:
            self.calls.append((kind, *args))
            self._changed.set()

        return record

    async def wait_for(self, count: int, timeout: float = 10) -> list[tuple[Any, ...]]:
        async def wait() -> None:
            while len(self.calls) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)
        return self.calls
