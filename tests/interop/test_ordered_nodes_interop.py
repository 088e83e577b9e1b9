"""Ordered nodes shared with thoonk.py 1.0.1.0: a thoonk.py app's sorted feed is an
ordered node whose inserts, edits, moves and retracts become the service's events, and
an XMPP publish placed by the position publish-options is an ordinary sorted feed
insert to thoonk.py."""

from __future__ import annotations

from tests.service.conftest import ALICE, make_policy
from tests.service.eventharness import ADMIN, RecordingSink, start_harness
from thoonk_xmpp.service.events import ItemMoved, ItemPublished, ItemRetracted, Recipient
from thoonk_xmpp.service.model import NotificationType
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk

from .conftest import Py2Peer

HEADLINE = NotificationType.HEADLINE


async def test_py2_sorted_feed_is_an_ordered_node(py2: Py2Peer, thoonk: AsyncThoonk) -> None:
    service = PubSubService(thoonk, make_policy())
    harness = await start_harness(service, RecordingSink())
    try:

        async def py(method: str, *args: str) -> str:
            return str(await py2.call("sorted_feed", "ps", method, *args))

        a = await py("append", "a")
        await py2.subscribed("ps")
        sub = await service.subscribe(ALICE, "ps", ALICE.bare)
        to = (Recipient(sub.jid, (sub.subid,)),)
        b = await py("append", "b")
        c = await py("publish_before", b, "c")
        await py("edit", a, "A")
        await py("move_first", b)
        await py("retract", c)
        assert await harness.events() == [
            ItemPublished("ps", to, HEADLINE, b, b"b"),
            ItemPublished("ps", to, HEADLINE, c, b"c"),
            ItemMoved("ps", to, HEADLINE, c, f":{b}"),
            ItemPublished("ps", to, HEADLINE, a, b"A"),
            ItemMoved("ps", to, HEADLINE, b, "begin:"),
            ItemRetracted("ps", to, HEADLINE, c),
        ]
        assert [i.id for i in (await service.get_items(ALICE, "ps")).items] == [b, a]

        await py2.no_more_notices()
        options = {"thoonkx#position_after": [b]}
        (x,) = await service.publish(ADMIN, "ps", [("x", b"<x/>")], options)
        assert await py2.notices(2) == [
            ["publish", "ps", "<x/>", "x"],
            ["position", "ps", "x", f"{b}:"],
        ]
        assert await py2.call("sorted_feed", "ps", "get_ids") == [b, x, a]
    finally:
        await harness.router.aclose()
