"""A PubSubService on the real test Redis, with a few actors."""

from __future__ import annotations

import pytest

from thoonk_xmpp.service.model import Actor, NodeCreation
from thoonk_xmpp.service.policy import ServicePolicy
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.thoonk import AsyncThoonk

OWNER = Actor("owner@example.org")
ALICE = Actor("alice@example.org")
BOB = Actor("bob@example.org")
REMOTE = Actor("eve@remote.example")
ADMIN = Actor("admin@example.org")


def make_policy(**changes: object) -> ServicePolicy:
    base: dict[str, object] = {
        "admins": frozenset({ADMIN.bare}),
        "node_creation": NodeCreation.LOCAL,
        "local_domains": frozenset({"example.org"}),
    }
    base.update(changes)
    return ServicePolicy(**base)  # type: ignore[arg-type]


@pytest.fixture
def service(thoonk: AsyncThoonk) -> PubSubService:
    return PubSubService(thoonk, make_policy())
