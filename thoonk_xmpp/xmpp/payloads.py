"""How item payloads cross between Thoonk bytes and XMPP XML.

XMPP → Thoonk: an ordinary payload element is stored as its XML text (UTF-8,
namespaces as default ``xmlns`` declarations).  Two wrappers are unwrapped so
Thoonk apps see the plain value: XEP-0335 ``<json xmlns='urn:xmpp:json:0'>``
stores its JSON text, and our ``<data xmlns='urn:thoonk-xmpp:data:0'>``
stores its text (or, with ``encoding='base64'``, the decoded bytes).

Thoonk → XMPP: stored bytes that parse as one XML element are sent as that
element; valid JSON goes in the XEP-0335 wrapper; other UTF-8 text in our
``data`` wrapper; anything else in ``data`` with ``encoding='base64'``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import xml.etree.ElementTree as ET
from typing import Final

from slixmpp.xmlstream import tostring

JSON_NS: Final = "urn:xmpp:json:0"
DATA_NS: Final = "urn:thoonk-xmpp:data:0"
JSON_TAG: Final = f"{{{JSON_NS}}}json"
DATA_TAG: Final = f"{{{DATA_NS}}}data"

# Characters XML 1.0 cannot carry, even escaped.
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class PayloadError(ValueError):
    """A payload element that cannot be stored (bad JSON, bad base64)."""


def to_stored(element: ET.Element) -> bytes:
    """The bytes to store in the feed for an XMPP payload element."""
    if element.tag == JSON_TAG:
        text = element.text or ""
        try:
            json.loads(text)
        except ValueError as exc:
            raise PayloadError(f"the json element does not hold JSON: {exc}") from None
        return text.encode("utf-8")
    if element.tag == DATA_TAG:
        text = element.text or ""
        if element.get("encoding") == "base64":
            try:
                return base64.b64decode(text, validate=True)
            except binascii.Error as exc:
                raise PayloadError(f"bad base64 in data element: {exc}") from None
        return text.encode("utf-8")
    return tostring(element).encode("utf-8")


def to_xml(stored: bytes, parent_ns: str) -> str:
    """The payload element for stored bytes as XML text, to go in an element of ``parent_ns``.

    Stored XML that stands on its own inside any parent (UTF-8; no declaration,
    comment, processing instruction or DTD; every element in a namespace the
    text itself declares) is sent as it is: the parse only checks it.
    Anything else is built by :func:`to_element` and serialized.
    """
    body = stored.strip()
    # A NUL means another encoding (expat detects UTF-16 from "<\0"), which the
    # checks below cannot read: such bytes take the rebuilding path.
    if body.startswith(b"<") and not any(mark in body for mark in (b"<?", b"<!", b"\0")):
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            pass
        else:
            if all(element.tag[:1] == "{" for element in root.iter()):
                return body.decode("utf-8")  # expat read it as UTF-8 already
            return tostring(root, xmlns=parent_ns)
    return tostring(to_element(stored), xmlns=parent_ns)


def to_element(stored: bytes) -> ET.Element:
    """The XMPP payload element for bytes stored in a feed."""
    if stored.lstrip().startswith(b"<"):
        try:
            return ET.fromstring(stored)
        except ET.ParseError:
            pass
    try:
        text = stored.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and not _NOT_XML_TEXT.search(text):
        try:
            json.loads(text)
        except ValueError:
            wrapper = ET.Element(DATA_TAG)
        else:
            wrapper = ET.Element(JSON_TAG)
        wrapper.text = text
        return wrapper
    wrapper = ET.Element(DATA_TAG, {"encoding": "base64"})
    wrapper.text = base64.b64encode(stored).decode("ascii")
    return wrapper
