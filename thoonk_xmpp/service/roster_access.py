"""Access models ``presence`` and ``roster`` (XEP-0060 §4.5): the owners' rosters decide.

``presence``: whoever is subscribed to an owner's presence (in the owner's roster with
subscription ``from`` or ``both``).  ``roster``: whoever is in an owner's roster in one of
the node's ``pubsub#roster_groups_allowed`` groups.  Rosters are read through the XMPP
server's XEP-0356 roster privilege (:mod:`.privilege`); where no owner's server grants
it, or reading fails, the models are unavailable: :class:`Unsupported`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Final

from .access import ROSTER_MODELS
from .errors import Unsupported
from .model import AccessModel
from .node_config import NodeConfig
from .privilege import PrivilegeStore, RosterReader, RosterUnavailable

#: The disco feature of each model (XEP-0060 §10).
FEATURES: Final = {AccessModel.PRESENCE: "access-presence", AccessModel.ROSTER: "access-roster"}


def domain_of(jid: str) -> str:
    return jid.partition("/")[0].rpartition("@")[2]


class RosterGate:
    """Whether owners' rosters admit a requester; set :attr:`reader` to read rosters."""

    def __init__(self, privileges: PrivilegeStore) -> None:
        self.privileges = privileges
        #: How rosters are read (the XMPP adapter's); None: the models are unavailable.
        self.reader: RosterReader | None = None

    async def offered(self) -> bool:
        """Whether the models can work at all: some server grants reading rosters."""
        if self.reader is None:
            return False
        return any(grants.reads_rosters for grants in (await self.privileges.all()).values())

    async def _readable(self, owners: Iterable[str]) -> list[str]:
        if self.reader is None:
            return []
        return [
            owner
            for owner in sorted(owners)
            if (await self.privileges.grants(domain_of(owner))).reads_rosters
        ]

    async def require(self, model: AccessModel, owners: Iterable[str]) -> None:
        """For a ``presence`` or ``roster`` node: raise :class:`Unsupported` unless some
        owner's roster can be read."""
        if model in ROSTER_MODELS and not await self._readable(owners):
            raise Unsupported(FEATURES[model], "the XMPP server lets us read no owner's roster")

    async def groups_of(self, owner: str) -> list[str]:
        """The groups of ``owner``'s roster, sorted (none when it cannot be read): the
        choices of ``pubsub#roster_groups_allowed``."""
        if self.reader is None or not await self._readable([owner]):
            return []
        try:
            roster = await self.reader.roster(owner)
        except RosterUnavailable as exc:
            if exc.refused:
                await self.privileges.revoke(domain_of(owner))
            return []
        return sorted({group for item in roster.values() for group in item.groups})

    async def admits_to(self, config: NodeConfig, owners: Iterable[str], requester: str) -> bool:
        """Whether the owners' rosters admit ``requester`` to a node of ``config`` (False
        for nodes whose access model is not decided by rosters)."""
        if config.access_model not in ROSTER_MODELS:
            return False
        return await self.admits(
            config.access_model, owners, requester, config.roster_groups_allowed
        )

    async def admits(
        self,
        model: AccessModel,
        owners: Iterable[str],
        requester: str,
        groups_allowed: Collection[str] = (),
    ) -> bool:
        """Whether an owner's roster lets bare JID ``requester`` in under ``model``."""
        readable = await self._readable(owners)
        if self.reader is None or not readable:
            raise Unsupported(FEATURES[model], "the XMPP server lets us read no owner's roster")
        failures: list[RosterUnavailable] = []
        for owner in readable:
            try:
                roster = await self.reader.roster(owner)
            except RosterUnavailable as exc:
                if exc.refused:  # granted no more: stop offering what depends on it
                    await self.privileges.revoke(domain_of(owner))
                failures.append(exc)
                continue
            item = roster.get(requester)
            if item is None:
                continue
            if model == AccessModel.PRESENCE and item.sees_presence:
                return True
            if model == AccessModel.ROSTER and item.groups.intersection(groups_allowed):
                return True
        if len(failures) == len(readable):  # nothing could be read: no answer either way
            raise Unsupported(FEATURES[model], str(failures[-1]))
        return False
