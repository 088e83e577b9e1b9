"""What the XMPP server tells the component beside requests: people's presence, and
XEP-0356 (the privileges it grants, the answers to our roster queries)."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable

from thoonk_xmpp.service.privilege import RosterReplies
from thoonk_xmpp.service.service import PubSubService

from .presence import CameOnline, PresenceIntake, read_presence
from .privilege import Privileges, is_advertisement, read_grants, server_domains

log = logging.getLogger(__name__)


class ServerNews:
    """Presence into the service's presence store; the service's roster reader."""

    def __init__(
        self,
        jid: str,
        service: PubSubService,
        send: Callable[[ET.Element], None],
        linked: Callable[[], bool],
        came_online: CameOnline,
    ) -> None:
        #: Presence stanzas → the service's presence store (shared by every instance).
        self.presence = PresenceIntake(service.presence, came_online)
        #: XEP-0356: what the server grants; rosters read with it (for the service).
        self.privileges = Privileges(jid, service.privileges, RosterReplies(service.thoonk), send)
        self.privileges.linked = linked
        service.rosters.reader = self.privileges
        #: Whose privilege advertisements are believed (anyone may send one).
        self.servers = server_domains(jid, service.policy.local_domains)

    def note(self, element: ET.Element) -> tuple[Awaitable[None] | None, bool]:
        """The work ``element`` asks for (None: none), and whether it is ours alone (False:
        slixmpp sees it too, as it sees presence)."""
        news = read_presence(element)
        if news is not None:
            return self.presence.record(news), False
        granted = read_grants(element, self.servers)
        if granted is not None:
            return _logged(self.privileges.record(*granted), "recording privileges"), True
        if is_advertisement(element):
            return None, True  # forged (read_grants logged it): dropped, never answered
        if self.privileges.is_answer(element):
            return _logged(self.privileges.hand_over(element), "handing a roster over"), True
        return None, False


async def _logged(work: Awaitable[None], what: str) -> None:
    try:
        await work
    except Exception as exc:  # Redis away: logged, the next stanza may do better
        log.warning("%s failed: %s", what, exc)
