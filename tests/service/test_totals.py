"""NodeStore.totals: the node and subscription counts monitoring samples."""

from __future__ import annotations

from thoonk_xmpp.service.service import PubSubService

from .conftest import ALICE, BOB, OWNER


async def test_totals_count_nodes_and_subscriptions_across_pages(service: PubSubService) -> None:
    assert await service.store.totals() == (0, 0)
    for number in range(5):
        await service.create_node(OWNER, f"n{number}")
    await service.subscribe(ALICE, "n0", ALICE.bare)
    await service.subscribe(BOB, "n0", BOB.bare)
    await service.subscribe(ALICE, "n3", ALICE.bare + "/phone")
    await service.subscribe(ALICE, "n4", ALICE.bare)

    assert await service.store.totals(page=2) == (5, 4)
    assert await service.store.totals() == (5, 4)

    await service.delete_node(OWNER, "n0")
    assert await service.store.totals(page=1) == (4, 2)
