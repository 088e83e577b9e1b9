"""Validation of feed names and item ids, shared by every feed type."""

from __future__ import annotations

import os

from .errors import InvalidName
from .keys import encode_name


def feed_name(name: str | bytes) -> str:
    """Check a feed name: non-empty, no NUL (it would break notice payloads)."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    if not isinstance(name, str):
        raise TypeError(f"a feed name is a str, not {type(name).__name__}")
    if not name:
        raise InvalidName("feed name", name, "must not be empty")
    if "\x00" in name:
        raise InvalidName("feed name", name, "must not contain NUL")
    return name


def item_id(value: str | bytes) -> bytes:
    """Check an item id and return its wire bytes: non-empty, no NUL."""
    if not isinstance(value, str | bytes):
        raise TypeError(f"an item id is a str, not {type(value).__name__}")
    raw = encode_name(value) if isinstance(value, str) else value
    if not raw:
        raise InvalidName("item id", value, "must not be empty")
    if b"\x00" in raw:
        raise InvalidName("item id", value, "must not contain NUL")
    return raw


def decode_id(raw: bytes) -> str:
    """An id read from Redis, as text."""
    return raw.decode("utf-8", "surrogateescape")


def new_ids(count: int) -> list[bytes]:
    """``count`` fresh random ids: UUID4 as 32 hex digits, as thoonk.py makes them.

    One ``os.urandom`` call for the lot (``uuid.uuid4()`` costs a system call each).
    """
    raw = bytearray(os.urandom(16 * count))
    ids: list[bytes] = []
    for start in range(0, 16 * count, 16):
        raw[start + 6] = (raw[start + 6] & 0x0F) | 0x40  # version 4
        raw[start + 8] = (raw[start + 8] & 0x3F) | 0x80  # RFC 4122 variant
        ids.append(raw[start : start + 16].hex().encode())
    return ids
