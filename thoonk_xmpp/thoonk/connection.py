"""A redis-py connection that packs commands with hiredis.

redis-py 8 packs every asyncio command in pure Python; for a publish that is
about a sixth of our CPU time.  hiredis (already a dependency) does the same
work in C.  Used for plain TCP connections; TLS and Unix sockets keep
redis-py's own classes.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio.connection import Connection


class HiredisPackingConnection(Connection):
    """``Connection`` whose command packing is ``hiredis.pack_command``."""

    def pack_command(self, *args: Any) -> list[bytes]:
        # redis-py lets one argument carry several words ("CONFIG GET"); split them.
        first = args[0]
        if (isinstance(first, str) and " " in first) or (
            isinstance(first, bytes) and b" " in first
        ):
            args = (*first.split(), *args[1:])
        return [hiredis.pack_command(args)]
