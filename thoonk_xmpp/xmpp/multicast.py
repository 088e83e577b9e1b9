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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape

from slixmpp import ComponentXMPP
from slixmpp.exceptions import IqError, IqTimeout

from thoonk_xmpp.service.events import Recipient

from . import ns

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
    #: Told of the copies handed to the service (paces publishers), if any.
    flow: MulticastFlow | None = None

    def takes(self, jid: str) -> bool:
        """Whether a recipient goes through it: a user of the server's own domain."""
        return jid.partition("/")[0].rpartition("@")[2] == self.domain


@dataclass(frozen=True, slots=True)
class Split:
    """``<address/>`` blocks with how many recipients each holds, and the recipients
    that get a message of their own."""

    groups: tuple[tuple[str, int], ...]
    others: tuple[Recipient, ...]


def split(recipients: tuple[Recipient, ...], multicast: Multicast) -> Split:
    """Which recipients go through ``multicast`` (local, one subscription, no body), in
    groups of at most ``limit`` and ADDRESS_BYTES, when there are at least two of them."""
    grouped = [
        r for r in recipients if len(r.subids) == 1 and not r.body and multicast.takes(r.jid)
    ]
    if len(grouped) < 2:
        return Split((), recipients)
    taken = set(map(id, grouped))
    others = tuple(r for r in recipients if id(r) not in taken)
    return Split(tuple(_address_groups(grouped, multicast.limit)), others)


def _address_groups(recipients: Sequence[Recipient], limit: int) -> list[tuple[str, int]]:
    groups: list[tuple[str, int]] = []
    group: list[str] = []
    size = 0
    for recipient in recipients:
        address = f'<address type="bcc" jid="{escape(recipient.jid, _ATTR_ENTITIES)}"/>'
        if group and (len(group) == limit or size + len(address) > ADDRESS_BYTES):
            groups.append(("".join(group), len(group)))
            group, size = [], 0
        group.append(address)
        size += len(address)
    if group:
        groups.append(("".join(group), len(group)))
    return groups


_ATTR_ENTITIES: Final = {'"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}


class SplitCache:
    """The last :func:`split` of each node's recipients, reused while the router hands
    the very same recipients tuple (it makes a new one when the node's subscriptions
    change) through the very same service: most publishes then do no per-recipient work."""

    def __init__(self, nodes: int = 1024) -> None:
        self._nodes = nodes
        self._kept: dict[str, tuple[tuple[Recipient, ...], Multicast, Split]] = {}

    def of(self, node: str, recipients: tuple[Recipient, ...], multicast: Multicast) -> Split:
        known = self._kept.get(node)
        if known is not None and known[0] is recipients and known[1] is multicast:
            return known[2]
        made = split(recipients, multicast)
        self._kept.pop(node, None)
        self._kept[node] = (recipients, multicast, made)
        if len(self._kept) > self._nodes:
            del self._kept[next(iter(self._kept))]
        return made


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


def stanza_error(stanza: ET.Element) -> tuple[str, str]:
    """The condition and text of ``stanza``'s ``<error/>`` (read from the XML: slixmpp's
    ``message["error"]`` looks in jabber:client, not a component stream's namespace)."""
    condition = text = ""
    for error in stanza:
        if error.tag.rpartition("}")[2] != "error":
            continue
        for child in error:
            namespace, _, name = child.tag[1:].partition("}")
            if namespace != ns.STANZAS:
                continue
            if name == "text":
                text = child.text or ""
            elif not condition:
                condition = name
        break
    return condition or "undefined-condition", text


#: Copies handed to the multicast service, not yet known routed, above which publishes wait.
UNCONFIRMED_COPIES: Final = 2000


class MulticastFlow:
    """Paces publishers to the multicast service's speed.

    A message to the service leaves the component link at once: the server
    parses one stanza for all its recipients, so publishes would be answered
    far faster than the service (one Erlang process in ejabberd) makes the
    copies, and its backlog would grow without end while the work of taking
    ever more publishes starves it of CPU.  Sent one recipient at a time,
    the notifications themselves hold the publish answers back on the link.

    The service handles what it receives in order, so the answer to a disco#info
    query sent after some messages says they are routed.  While more than
    ``limit`` copies are not known routed, :meth:`room` waits.
    """

    def __init__(self, stream: ComponentXMPP, sender: str, limit: int = UNCONFIRMED_COPIES) -> None:
        self.stream = stream
        self.sender = sender
        self.limit = limit
        #: Copies handed to the service so far, and how many of them are known routed.
        self.sent = self.routed = 0
        self._asking: asyncio.Task[None] | None = None
        self._room = asyncio.Event()
        self._room.set()

    @property
    def unconfirmed(self) -> int:
        return self.sent - self.routed

    def handed(self, copies: int) -> None:
        """A message to the service for ``copies`` recipients is about to be written."""
        self.sent += copies
        if self.unconfirmed > self.limit:
            self._room.clear()

    def written(self, service: str) -> None:
        """What :meth:`handed` counted is written: ask ``service`` to confirm it (once the
        question asked before is answered), when that is a fair share of the limit (a
        question for every message would cost the service more than small events do)."""
        if self._asking_due() and (self._asking is None or self._asking.done()):
            self._asking = asyncio.ensure_future(self._confirm(service))

    def _asking_due(self) -> bool:
        return self.unconfirmed > self.limit // 4

    async def room(self) -> None:
        """Return once the service's backlog is within the limit."""
        await self._room.wait()

    def reset(self) -> None:
        """The link is gone: nothing is waited for any more."""
        if self._asking is not None:
            self._asking.cancel()
        self.routed = self.sent
        self._room.set()

    async def _confirm(self, service: str) -> None:
        while self._asking_due():
            covered = self.sent
            try:
                await _query(self.stream, self.sender, service, _DISCO_INFO, 30.0)
            except (IqError, IqTimeout) as exc:
                log.info("%s did not confirm its copies: %s", service, exc)
            # an error or no answer: not waited for longer (publishes must not stall)
            self.routed = max(self.routed, covered)
            if self.unconfirmed <= self.limit:
                self._room.set()
