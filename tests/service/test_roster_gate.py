"""Access models presence and roster decided from owners' rosters (service/roster_access.py),
the grants recorded per server domain and roster answers handed between instances
(service/privilege.py), on the real test Redis. Rosters come from a reader of our own
that answers from a table, as the XMPP adapter answers from the server."""

from __future__ import annotations

import asyncio

import pytest

from thoonk_xmpp.service.errors import Unsupported
from thoonk_xmpp.service.model import AccessModel
from thoonk_xmpp.service.privilege import (
    Grants,
    PrivilegeStore,
    Roster,
    RosterItem,
    RosterReplies,
    RosterUnavailable,
)
from thoonk_xmpp.service.roster_access import RosterGate
from thoonk_xmpp.thoonk import AsyncThoonk, keys

PRESENCE, ROSTER = AccessModel.PRESENCE, AccessModel.ROSTER


class TableReader:
    """Rosters from a table; an owner in ``refusing`` gets forbidden, in ``silent`` no answer."""

    def __init__(self, rosters: dict[str, list[RosterItem]]) -> None:
        self.rosters = rosters
        self.refusing: set[str] = set()
        self.silent: set[str] = set()
        self.asked: list[str] = []

    async def roster(self, owner: str) -> Roster:
        self.asked.append(owner)
        if owner in self.refusing:
            raise RosterUnavailable(owner, "forbidden", refused=True)
        if owner in self.silent:
            raise RosterUnavailable(owner, "no answer")
        return {item.jid: item for item in self.rosters.get(owner, [])}


@pytest.fixture
async def gate(thoonk: AsyncThoonk) -> RosterGate:
    privileges = PrivilegeStore(thoonk)
    await privileges.record("example.org", Grants(roster="get", presence="roster"))
    gate = RosterGate(privileges)
    gate.reader = TableReader(
        {
            "owner@example.org": [
                RosterItem("both@example.org", "both", frozenset({"friends"})),
                RosterItem("from@example.org", "from"),
                RosterItem("to@example.org", "to", frozenset({"family"})),
                RosterItem("none@example.org", "none", frozenset({"friends", "work"})),
            ]
        }
    )
    return gate


def reader(gate: RosterGate) -> TableReader:
    assert isinstance(gate.reader, TableReader)
    return gate.reader


@pytest.mark.parametrize(
    ("requester", "admitted"),
    [
        ("both@example.org", True),
        ("from@example.org", True),
        ("to@example.org", False),  # the owner sees theirs; they do not see the owner's
        ("none@example.org", False),
        ("stranger@example.org", False),
    ],
)
async def test_presence_admits_those_who_see_the_owners_presence(
    gate: RosterGate, requester: str, admitted: bool
) -> None:
    assert await gate.admits(PRESENCE, ["owner@example.org"], requester) is admitted


@pytest.mark.parametrize(
    ("requester", "admitted"),
    [
        ("both@example.org", True),
        ("none@example.org", True),  # the group counts, not the presence subscription
        ("to@example.org", False),
        ("from@example.org", False),  # in no group
        ("stranger@example.org", False),
    ],
)
async def test_roster_admits_the_allowed_groups(
    gate: RosterGate, requester: str, admitted: bool
) -> None:
    got = await gate.admits(ROSTER, ["owner@example.org"], requester, ("friends", "colleagues"))
    assert got is admitted


async def test_owners_of_servers_granting_nothing_are_not_asked(gate: RosterGate) -> None:
    with pytest.raises(Unsupported) as caught:
        await gate.admits(PRESENCE, ["owner@elsewhere.example"], "both@example.org")
    assert caught.value.feature == "access-presence"
    with pytest.raises(Unsupported):
        await gate.require(ROSTER, ["owner@elsewhere.example"])
    assert reader(gate).asked == []
    await gate.require(ROSTER, ["owner@elsewhere.example", "owner@example.org"])
    assert await gate.admits(
        PRESENCE, ["owner@elsewhere.example", "owner@example.org"], "from@example.org"
    )


async def test_without_a_reader_nothing_is_offered(thoonk: AsyncThoonk) -> None:
    privileges = PrivilegeStore(thoonk)
    await privileges.record("example.org", Grants(roster="both"))
    gate = RosterGate(privileges)
    assert not await gate.offered()
    with pytest.raises(Unsupported):
        await gate.require(PRESENCE, ["owner@example.org"])


async def test_offered_only_while_some_server_grants_reading_rosters(
    gate: RosterGate,
) -> None:
    assert await gate.offered()
    await gate.privileges.record("example.org", Grants(presence="managed_entity"))
    assert not await gate.offered()
    await gate.privileges.record("other.example", Grants(roster="both"))
    assert await gate.offered()
    await gate.privileges.clear()
    assert not await gate.offered()


async def test_a_refused_roster_read_withdraws_the_grant(gate: RosterGate) -> None:
    reader(gate).refusing.add("owner@example.org")
    with pytest.raises(Unsupported):
        await gate.admits(PRESENCE, ["owner@example.org"], "both@example.org")
    assert await gate.privileges.grants("example.org") == Grants()
    assert not await gate.offered()


async def test_an_unanswered_roster_read_is_unsupported_and_keeps_the_grant(
    gate: RosterGate,
) -> None:
    reader(gate).silent.add("owner@example.org")
    with pytest.raises(Unsupported):
        await gate.admits(ROSTER, ["owner@example.org"], "both@example.org", ("friends",))
    assert (await gate.privileges.grants("example.org")).reads_rosters


async def test_one_readable_owner_is_enough(gate: RosterGate) -> None:
    reader(gate).silent.add("second@example.org")
    owners = ["owner@example.org", "second@example.org"]
    assert await gate.admits(PRESENCE, owners, "from@example.org")
    assert not await gate.admits(PRESENCE, owners, "stranger@example.org")


async def test_grants_survive_the_round_trip(thoonk: AsyncThoonk) -> None:
    privileges = PrivilegeStore(thoonk)
    grants = Grants(roster="get", presence="roster", message="outgoing")
    await privileges.record("example.org", grants)
    assert await privileges.all() == {"example.org": grants}
    await privileges.revoke("example.org")
    assert await privileges.all() == {}
    assert Grants.from_json("not json") == Grants()


async def test_an_answer_reaches_the_instance_that_waits_for_it(thoonk: AsyncThoonk) -> None:
    asking, answering = RosterReplies(thoonk), RosterReplies(thoonk)
    waiting = asyncio.ensure_future(asking.wait("q1", timeout=5))
    await answering.post("q1", "<iq type='result'/>")
    assert await waiting == "<iq type='result'/>"
    await answering.post("q2", "<iq type='result' id='q2'/>")  # came before anyone waited
    assert await asking.wait("q2", timeout=5) == "<iq type='result' id='q2'/>"
    assert await thoonk.redis.keys(keys.roster_reply("*")) == []


async def test_an_unanswered_query_ends_with_none(thoonk: AsyncThoonk) -> None:
    assert await RosterReplies(thoonk).wait("never", timeout=0.1) is None
