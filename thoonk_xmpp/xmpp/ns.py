"""XML namespaces the adapter reads and writes."""

from __future__ import annotations

from typing import Final

#: Stanzas on an XEP-0114 component stream.
STANZA: Final = "jabber:component:accept"
STANZAS: Final = "urn:ietf:params:xml:ns:xmpp-stanzas"
PUBSUB: Final = "http://jabber.org/protocol/pubsub"
PUBSUB_OWNER: Final = "http://jabber.org/protocol/pubsub#owner"
PUBSUB_ERRORS: Final = "http://jabber.org/protocol/pubsub#errors"
DISCO_INFO: Final = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS: Final = "http://jabber.org/protocol/disco#items"
RSM: Final = "http://jabber.org/protocol/rsm"
PING: Final = "urn:xmpp:ping"
DATA: Final = "jabber:x:data"
#: XEP-0050 ad-hoc commands (also the disco node listing them).
COMMANDS: Final = "http://jabber.org/protocol/commands"

#: The position of an item of an ordered node (event element and node feature).
POSITION: Final = "urn:thoonk-xmpp:position:0"
#: XEP-0254 PubSub Queueing: the feature, and the ``<unlock/>`` request and message.
QUEUEING: Final = "urn:xmpp:pubsub:queueing:0"
#: A job's result: inside the retract of the worker that finished it, and of its event.
JOB_RESULT: Final = "urn:thoonk-xmpp:job:0"


def tag(namespace: str, name: str) -> str:
    """ElementTree's ``{namespace}name``."""
    return f"{{{namespace}}}{name}"


def split(qualified: str) -> tuple[str, str]:
    """``{namespace}name`` → ``(namespace, name)``; no namespace gives ``""``."""
    if qualified.startswith("{"):
        namespace, _, name = qualified[1:].partition("}")
        return namespace, name
    return "", qualified
