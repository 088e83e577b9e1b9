"""What the XMPP server lets the component do (XEP-0356), and rosters read with it.

The server says what it grants in a message when the component connects; the XMPP
adapter records it here, per server domain, in Redis (:data:`keys.PRIVILEGES`), so
that every instance knows.  Reading a roster is the adapter's job too (an iq to the
owner's bare JID): the service sees it through :class:`RosterReader`.  A roster is
read afresh for each check, never cached: mod_privilege sends no roster pushes, so a
cached roster could not be kept true.  The answer may reach any instance sharing the
component's address; it is handed to the asking one through Redis
(:class:`RosterReplies`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Final, Protocol

from thoonk_xmpp.thoonk import AsyncThoonk, keys
from thoonk_xmpp.thoonk.replies import bdict
from thoonk_xmpp.thoonk.scripts import Scripts

#: Roster permission values that allow reading rosters (XEP-0356 §5).
READS_ROSTERS: Final = frozenset({"get", "both"})
#: How long an answer nobody waits for any more stays in Redis, in ms.
REPLY_KEPT_MS: Final = 60_000


@dataclass(frozen=True, slots=True)
class Grants:
    """The privileges one server domain granted: the ``type`` of each ``perm``."""

    roster: str | None = None
    presence: str | None = None
    message: str | None = None

    @property
    def reads_rosters(self) -> bool:
        return self.roster in READS_ROSTERS

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None})

    @classmethod
    def from_json(cls, text: str | bytes) -> Grants:
        try:
            raw = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(raw, dict):
            return cls()
        return cls(**{k: str(raw[k]) for k in ("roster", "presence", "message") if k in raw})


@dataclass(frozen=True, slots=True)
class RosterItem:
    """One contact in a user's roster (RFC 6121 §2.1.2)."""

    jid: str
    subscription: str = "none"
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def sees_presence(self) -> bool:
        """Whether the contact is subscribed to the user's presence (``from`` or ``both``)."""
        return self.subscription in ("from", "both")


#: A roster: bare contact JID → item.
Roster = Mapping[str, RosterItem]


class RosterUnavailable(Exception):
    """The roster could not be read (refused, no answer, or the link is down).

    ``refused`` when the server answered ``forbidden``: it no longer grants the privilege.
    """

    def __init__(self, owner: str, reason: str, *, refused: bool = False) -> None:
        self.owner = owner
        self.refused = refused
        super().__init__(f"cannot read the roster of {owner}: {reason}")


class RosterReader(Protocol):
    """Reads a user's roster through the XMPP server (the adapter implements it)."""

    async def roster(self, owner: str) -> Roster:
        """The roster of bare JID ``owner``; raises :class:`RosterUnavailable`."""
        ...


class PrivilegeStore:
    """The privileges each server domain granted, in Redis (shared by every instance)."""

    def __init__(self, thoonk: AsyncThoonk) -> None:
        self.redis = thoonk.redis

    async def record(self, domain: str, grants: Grants) -> None:
        """What ``domain`` advertised last (it replaces what it said before)."""
        await self.redis.hset(keys.PRIVILEGES, domain, grants.to_json())

    async def revoke(self, domain: str) -> None:
        """``domain`` refused what it had granted: forget its privileges."""
        await self.redis.hdel(keys.PRIVILEGES, domain)

    async def clear(self) -> None:
        """Forget every grant: a new link to the server is about to hear them again."""
        await self.redis.delete(keys.PRIVILEGES)

    async def grants(self, domain: str) -> Grants:
        raw = await self.redis.hget(keys.PRIVILEGES, domain)
        return Grants() if raw is None else Grants.from_json(raw)

    async def all(self) -> dict[str, Grants]:
        raw = bdict(await self.redis.hgetall(keys.PRIVILEGES))
        return {domain.decode(): Grants.from_json(text) for domain, text in raw.items()}


class RosterReplies:
    """Answers to roster queries, handed through Redis to the instance that asked."""

    def __init__(self, thoonk: AsyncThoonk) -> None:
        self.redis = thoonk.redis
        self._scripts = Scripts(thoonk.commands, __package__)

    async def post(self, query_id: str, answer: str) -> None:
        await self._scripts.run(
            "roster_reply", "", (keys.roster_reply(query_id),), (answer, REPLY_KEPT_MS)
        )

    async def wait(self, query_id: str, timeout: float) -> str | None:
        """The answer to ``query_id``, or None after ``timeout`` seconds without one."""
        found = await self.redis.blpop([keys.roster_reply(query_id)], timeout=timeout)
        if found is None:
            return None
        answer = found[1]
        return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
