"""Bridges (:class:`thoonk_xmpp.xmpp.runner.Bridge`) as ``thoonk-xmpp run`` builds them,
for tests that need one of their own settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from tests.integration.streams import TIMEOUT
from thoonk_xmpp.settings import Settings
from thoonk_xmpp.xmpp.runner import Bridge


@contextlib.asynccontextmanager
async def started(settings: Settings, first_retry_delay: float = 0.1) -> AsyncIterator[Bridge]:
    """Started (its session up, or standing by); closed at the end."""
    bridge = Bridge(settings, timeout=TIMEOUT, first_retry_delay=first_retry_delay)
    await bridge.start()
    try:
        yield bridge
    finally:
        await bridge.aclose()


@contextlib.asynccontextmanager
async def serving(settings: Settings, first_retry_delay: float = 0.1) -> AsyncIterator[Bridge]:
    """Started and serving (reconnecting after losing the server) until the end."""
    async with started(settings, first_retry_delay) as bridge:
        stop = asyncio.Event()
        task = asyncio.create_task(bridge.serve(stop))
        try:
            yield bridge
        finally:
            stop.set()
            await task
