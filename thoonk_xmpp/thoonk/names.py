"""Validation of feed names and item ids, shared by every feed type."""

from __future__ import annotations

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
