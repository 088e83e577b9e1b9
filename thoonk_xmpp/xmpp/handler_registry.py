"""What a handler is given (:class:`Context`) and gives back (:class:`Reply`).

:data:`HANDLERS` maps a request class to its handler, filled by :func:`handles` in the
handler modules that :mod:`.handlers` imports (:mod:`.owner_handlers`,
:mod:`.subscriber_handlers`, :mod:`.queue_handlers` and :mod:`.handlers` itself).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from thoonk_xmpp.service.dispatch import QueueDispatcher
from thoonk_xmpp.service.model import Actor
from thoonk_xmpp.service.policy import DEFAULT_MAX_STANZA_SIZE
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.service.service import PubSubService

from .fitting import Listing
from .requests import Request


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may use: the service, the event router and who is asking."""

    service: PubSubService
    router: EventRouter
    service_jid: str
    sender: str
    actor: Actor
    #: No stanza sent may be bigger, in bytes (``[component] max_stanza_size``).
    max_stanza_size: int = DEFAULT_MAX_STANZA_SIZE
    #: Hands out the items of job and queue nodes (None: no XEP-0254 delivery).
    queues: QueueDispatcher | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """The iq result's payload (None: empty result) and work to do once it is sent.

    ``listing`` is the list in it that may be cut to fit the stanza limit (:mod:`.fitting`);
    ``messages`` are stanza texts written just before the result, in the same write.
    """

    payload: ET.Element | None = None
    after: Callable[[], Awaitable[None]] | None = None
    listing: Listing | None = None
    messages: tuple[str, ...] = ()


R = TypeVar("R", bound=Request)
Handler = Callable[[Context, R], Awaitable[Reply]]

#: Request class → handler; filled by :func:`handles`.
HANDLERS: Final[dict[type, Callable[[Context, Any], Awaitable[Reply]]]] = {}


def handles(kind: type[R]) -> Callable[[Handler[R]], Handler[R]]:
    def register(handler: Handler[R]) -> Handler[R]:
        HANDLERS[kind] = handler
        return handler

    return register


async def handle(ctx: Context, request: Request) -> Reply:
    """Run the handler for ``request``."""
    return await HANDLERS[type(request)](ctx, request)
