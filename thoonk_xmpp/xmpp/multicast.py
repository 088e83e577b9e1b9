"""XEP-0033 multicast: one event message for many recipients, where the server offers it.

ejabberd's ``mod_multicast`` is such a service (Prosody has none): the component
sends one ``<message/>`` with the recipients in ``<addresses/>`` (``bcc``, so the
service strips them) and the service copies it to each.  That saves the server
parsing one stanza per recipient from the component link, its costliest work when
fanning out.  Only local recipients holding one subscription go this way: remote
ones, and those whose message carries SHIM SubID headers, get a message each.
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Final

from slixmpp import ComponentXMPP
from slixmpp.exceptions import IqError, IqTimeout

log = logging.getLogger(__name__)

ADDRESS_NS: Final = "http://jabber.org/protocol/address"
_DISCO_ITEMS: Final = "http://jabber.org/protocol/disco#items"
_DISCO_INFO: Final = "http://jabber.org/protocol/disco#info"
#: Bytes of addresses one message carries at most (well inside the room left for them).
ADDRESS_BYTES: Final = 6000


@dataclass(frozen=True, slots=True)
class Multicast:
    """The service to send through, for recipients of ``domain``, ``limit`` at a time."""

    jid: str
    domain: str
    limit: int

    def takes(self, jid: str) -> bool:
        """Whether a recipient goes through it: a user of the server's own domain."""
        return jid.partition("/")[0].rpartition("@")[2] == self.domain


async def find(stream: ComponentXMPP, sender: str, domain: str, timeout: float = 5.0) -> str | None:
    """The JID of ``domain``'s XEP-0033 service (disco#items, then disco#info), or None.

    The listed items are asked at once and the first that offers XEP-0033 is taken:
    an item that answers with an error or not at all (another component that ignores
    disco, one gone meanwhile) is skipped, never ending the search.
    """
    try:
        items = await _query(stream, sender, domain, _DISCO_ITEMS, timeout)
    except (IqError, IqTimeout) as exc:
        log.info("no multicast service found at %s: %s", domain, exc)
        return None
    jids = [
        jid
        for item in items.iter(f"{{{_DISCO_ITEMS}}}item")
        if (jid := item.get("jid", "")) and not item.get("node")
    ]
    asked = [asyncio.ensure_future(_offers(stream, sender, jid, timeout)) for jid in jids]
    try:
        for answer in asyncio.as_completed(asked):
            found = await answer
            if found is not None:
                return found
    finally:
        for question in asked:
            question.cancel()
    log.info("no multicast service found at %s among %d items", domain, len(jids))
    return None


async def _offers(stream: ComponentXMPP, sender: str, jid: str, timeout: float) -> str | None:
    """``jid`` if its disco#info lists XEP-0033; None if not, or if it does not answer."""
    try:
        info = await _query(stream, sender, jid, _DISCO_INFO, timeout)
    except (IqError, IqTimeout) as exc:
        log.debug("%s did not say whether it offers multicast: %s", jid, exc)
        return None
    features = {f.get("var") for f in info.iter(f"{{{_DISCO_INFO}}}feature")}
    return jid if ADDRESS_NS in features else None


async def _query(
    stream: ComponentXMPP, sender: str, to: str, namespace: str, timeout: float
) -> ET.Element:
    iq = stream.Iq()
    iq["type"] = "get"
    iq["from"] = sender
    iq["to"] = to
    iq.append(ET.Element(f"{{{namespace}}}query"))
    reply = await iq.send(timeout=timeout)  # type: ignore[no-untyped-call]
    element: ET.Element = reply.xml
    return element
