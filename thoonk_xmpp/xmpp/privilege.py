"""XEP-0356 (Privileged Entity) on the component's side: what the server grants, rosters.

When the component connects, the server sends a message per host saying what it may do
(``urn:xmpp:privilege:2``, mod_privilege of Prosody; ``urn:xmpp:privilege:1``,
ejabberd 23.01)::

    <message from='example.org' to='pubsub.example.org'>
      <privilege xmlns='urn:xmpp:privilege:2'>
        <perm access='roster' type='get'/>
        <perm access='presence' type='roster'/>
      </privilege>
    </message>

:class:`Privileges` records it through the service (in Redis, for every instance) and
reads rosters with it: an iq get of ``jabber:iq:roster`` addressed to the owner's bare
JID.  The answer comes to whichever instance the server picks; that one hands it to the
asking one through Redis (:class:`thoonk_xmpp.service.privilege.RosterReplies`).

Anyone can send the component such a message (a user, a remote server), so only the
server's own domains are believed: the component's parent domain and the configured
local domains (:func:`server_domains`); the server stamps ``from`` on what its users and
peers send, so such a sender cannot be forged.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection
from typing import Final

from thoonk_xmpp.service.privilege import (
    Grants,
    PrivilegeStore,
    Roster,
    RosterItem,
    RosterReplies,
    RosterUnavailable,
)

from . import ns

log = logging.getLogger(__name__)

NAMESPACES: Final = ("urn:xmpp:privilege:2", "urn:xmpp:privilege:1")
ROSTER: Final = "jabber:iq:roster"
_MESSAGE: Final = ns.tag(ns.STANZA, "message")
_IQ: Final = ns.tag(ns.STANZA, "iq")
#: The id of our roster queries starts so: any instance knows the answer is one.
QUERY_PREFIX: Final = "thoonkx-roster-"
#: Seconds to wait for the server's answer to a roster query.
QUERY_TIMEOUT: Final = 10.0


def server_domains(jid: str, local_domains: Collection[str]) -> frozenset[str]:
    """The domains whose privilege advertisements the component at ``jid`` believes: its
    parent (``example.org`` for ``pubsub.example.org``) and the local domains."""
    parent = jid.partition(".")[2]
    return frozenset(d.lower() for d in (*local_domains, parent) if d)


def _privilege(element: ET.Element) -> tuple[str, ET.Element] | None:
    if element.tag != _MESSAGE:
        return None
    for namespace in NAMESPACES:
        privilege = element.find(ns.tag(namespace, "privilege"))
        if privilege is not None:
            return namespace, privilege
    return None


def is_advertisement(element: ET.Element) -> bool:
    """Whether ``element`` is a message carrying a privilege advertisement, whoever sent it."""
    return _privilege(element) is not None


def read_grants(element: ET.Element, servers: Collection[str]) -> tuple[str, Grants] | None:
    """The server domain and what it grants, if ``element`` is a privilege advertisement
    from one of ``servers`` (bare domains); None otherwise (a forged one is logged)."""
    found = _privilege(element)
    if found is None:
        return None
    namespace, privilege = found
    sender = element.get("from", "")
    if sender.lower() not in servers:
        log.warning("ignored a privilege advertisement from %r: not our server", sender)
        return None
    perms = {
        perm.get("access", ""): perm.get("type", "")
        for perm in privilege.findall(ns.tag(namespace, "perm"))
    }
    grants = Grants(
        roster=_granted(perms.get("roster")),
        presence=_granted(perms.get("presence")),
        message=_granted(perms.get("message")),
    )
    return sender.lower(), grants


def _granted(value: str | None) -> str | None:
    return None if value in (None, "", "none") else value


def read_roster(owner: str, answer: ET.Element) -> Roster:
    """The roster in a ``result`` iq; :class:`RosterUnavailable` for an ``error`` one."""
    if answer.get("type") != "result":
        error = answer.find(ns.tag(ns.STANZA, "error"))
        condition = "" if error is None or not len(error) else ns.split(error[0].tag)[1]
        raise RosterUnavailable(
            owner,
            f"the server answered {condition or 'an error'}",
            refused=condition == "forbidden",
        )
    items: dict[str, RosterItem] = {}
    for item in answer.iter(ns.tag(ROSTER, "item")):
        jid = item.get("jid")
        if not jid:
            continue
        groups = frozenset(g.text for g in item.findall(ns.tag(ROSTER, "group")) if g.text)
        items[jid] = RosterItem(jid, item.get("subscription", "none"), groups)
    return items


class Privileges:
    """Records the server's advertisements; reads rosters (a service ``RosterReader``)."""

    def __init__(
        self,
        jid: str,
        store: PrivilegeStore,
        replies: RosterReplies,
        send: Callable[[ET.Element], None],
        timeout: float = QUERY_TIMEOUT,
    ) -> None:
        self.jid = jid
        self.store = store
        self.replies = replies
        self.send = send
        self.timeout = timeout
        #: Set by the component: whether its link to the server is up.
        self.linked: Callable[[], bool] = lambda: True
        self._cleared: asyncio.Future[None] | None = None

    def new_link(self) -> None:
        """A connection is starting: forget the grants (the server says them again).

        In the background, so that connecting never waits for Redis; the grants of
        the new connection are recorded after it.
        """
        self._cleared = asyncio.ensure_future(self.store.clear())
        self._cleared.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def record(self, domain: str, grants: Grants) -> None:
        if self._cleared is not None:
            await asyncio.gather(self._cleared, return_exceptions=True)
        log.info("%s grants %s", domain or "the server", grants.to_json())
        await self.store.record(domain, grants)

    def is_answer(self, element: ET.Element) -> bool:
        """Whether ``element`` answers one of our roster queries (from any instance)."""
        return (
            element.tag == _IQ
            and element.get("type") in ("result", "error")
            and element.get("id", "").startswith(QUERY_PREFIX)
        )

    async def hand_over(self, element: ET.Element) -> None:
        """Pass an answer on to the instance that asked (this one, or another)."""
        text = ET.tostring(element, encoding="unicode")
        await self.replies.post(element.get("id", ""), text)

    async def roster(self, owner: str) -> Roster:
        if not self.linked():
            raise RosterUnavailable(owner, "no link to the XMPP server")
        query_id = QUERY_PREFIX + uuid.uuid4().hex
        iq = ET.Element(_IQ, {"type": "get", "id": query_id, "from": self.jid, "to": owner})
        ET.SubElement(iq, ns.tag(ROSTER, "query"))
        self.send(iq)
        text = await self.replies.wait(query_id, self.timeout)  # kept if it came first
        if text is None:
            raise RosterUnavailable(owner, f"no answer within {self.timeout:g} s")
        return read_roster(owner, ET.fromstring(text))
