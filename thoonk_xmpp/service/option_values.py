"""Value parsers of the node options added beside the first ones
(``pubsub#item_expire``, ``pubsub#contact``, ``pubsub#language``), used by their
declarations in :mod:`.node_config`."""

from __future__ import annotations

from typing import Final

#: The form text of "no limit" (XEP-0060 §16.4 integer-or-max).
MAX: Final = "max"


def positive(value: str) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"{value!r} is not a positive integer")
    return int(text)


def seconds_or_max(value: str) -> int | None:
    # XEP-0060 §16.4: "max" is no limit other than the service's (we have none)
    return None if value.strip() in ("", MAX) else positive(value)


def language_tag(value: str) -> str:
    """A BCP 47 language tag's shape (``en``, ``pt-BR``, ``zh-Hant-TW``), or empty."""
    tag = value.strip()
    subtags = tag.split("-")
    if tag and not all(0 < len(t) <= 8 and t.isascii() and t.isalnum() for t in subtags):
        raise ValueError(f"{value!r} is not a language tag (such as en or pt-BR)")
    return tag


def jid(value: str) -> str:
    """A JID's shape: [local@]domain[/resource], no space or control in local or domain.
    (Stringprep is the XMPP layer's; the service keeps the text as given.)"""
    text = value.strip()
    bare, _, _resource = text.partition("/")
    local, at, domain = bare.rpartition("@")
    if (
        not domain
        or (at and not local)
        or "@" in local
        or any(c.isspace() for c in bare)
        or not text.isprintable()  # stored one per line
        or len(text) > 3071
    ):
        raise ValueError(f"{value!r} is not a JID")
    return text
