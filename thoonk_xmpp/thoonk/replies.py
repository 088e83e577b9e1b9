"""Typed views of raw Redis replies.

Our clients never decode responses, so every string reply is ``bytes``;
redis-py's annotations allow ``str`` too.  These casts state what we know.
"""

from __future__ import annotations

from typing import Any, cast


def blist(reply: Any) -> list[bytes]:
    """A list of bulk strings."""
    return cast(list[bytes], reply)


def optional_blist(reply: Any) -> list[bytes | None]:
    """A list of bulk strings or nils (HMGET)."""
    return cast(list[bytes | None], reply)


def optional_bytes(reply: Any) -> bytes | None:
    """One bulk string or nil."""
    return cast(bytes | None, reply)


def bdict(reply: Any) -> dict[bytes, bytes]:
    """A hash as returned by HGETALL."""
    return cast(dict[bytes, bytes], reply)


def integer(reply: Any) -> int:
    """An integer reply (nil counts as 0)."""
    return 0 if reply is None else int(reply)
