"""The component's outbox: notifications queued in one loop turn share a write, an IQ
answer takes the queued ones along behind it (answer first, one write), and text that
cannot be encoded never blocks what is queued."""

from __future__ import annotations

import asyncio

import pytest

from thoonk_xmpp.service.policy import ServicePolicy
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk
from thoonk_xmpp.xmpp.component import PubSubComponent


def unconnected() -> PubSubComponent:
    """A component that never connects (its service never reaches Redis: only its
    outbox is used)."""
    service = PubSubService(AsyncThoonk.from_url("redis://127.0.0.1:1"), ServicePolicy())
    return PubSubComponent(
        "pubsub.example",
        "secret",
        "127.0.0.1",
        1,
        service=service,
        router=None,  # type: ignore[arg-type]
    )


@pytest.fixture
async def writes() -> tuple[PubSubComponent, list[str]]:
    component = unconnected()
    written: list[str] = []
    component._write = written.append  # type: ignore[method-assign,assignment]
    return component, written


async def test_notifications_of_one_turn_share_a_write(
    writes: tuple[PubSubComponent, list[str]],
) -> None:
    component, written = writes
    component.send_soon("<message id='1'/>")
    component.send_soon("<message id='2'/>")
    assert written == []
    await asyncio.sleep(0)
    assert written == ["<message id='1'/><message id='2'/>"]


async def test_an_answer_takes_queued_notifications_along_behind_it(
    writes: tuple[PubSubComponent, list[str]],
) -> None:
    component, written = writes
    component.send_soon("<message id='n'/>")
    component.send_text("<iq id='a'/>")
    assert written == ["<iq id='a'/><message id='n'/>"]
    await asyncio.sleep(0)  # the flush finds nothing left
    component.send_text("<iq id='b'/>")
    assert written == ["<iq id='a'/><message id='n'/>", "<iq id='b'/>"]


async def test_text_that_is_not_utf8_does_not_block_the_outbox() -> None:
    component = unconnected()
    sent: list[bytes] = []

    class Transport:
        def write(self, data: bytes) -> None:
            sent.append(data)

    component.xmpp.transport = Transport()  # type: ignore[assignment]
    component.send_soon("<message id='caf\udce9'/>")  # an id a Thoonk app wrote in Latin-1
    await asyncio.sleep(0)
    component.send_soon("<message id='next'/>")
    component.send_text("<iq id='a'/>")
    assert sent == [b"<message id='caf?'/>", b"<iq id='a'/><message id='next'/>"]
