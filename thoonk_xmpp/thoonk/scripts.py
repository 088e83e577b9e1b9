"""The Lua scripts, one verb per file under ``lua/<type>/<verb>.lua``.

Sources are read and hashed once per process; every call is one EVALSHA on
the client's :class:`~.command_link.CommandLink` (redis-py's layers cost more
per call than the scripts themselves), and a NOSCRIPT reply loads the script
and retries once.
A script signals a refused operation with an error reply
``THOONK <Code> <argument>``; :func:`translate` turns it into the matching
:class:`~thoonk_xmpp.thoonk.errors.ThoonkError`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from . import errors

if TYPE_CHECKING:
    from .command_link import CommandLink

EncodableT = bytes | str | int | float

_ERROR_PREFIX = "THOONK "


@functools.cache
def source(verb: str, package: str = __package__) -> str:
    """The full text of script ``verb`` (e.g. ``"feed/publish"``), prelude included.

    ``package`` is the Python package whose ``lua/`` folder holds the verb; the
    prelude always comes from this one.
    """
    prelude = (resources.files(__package__) / "lua" / "_prelude.lua").read_text("utf-8")
    body = (resources.files(package) / "lua" / f"{verb}.lua").read_text("utf-8")
    return prelude + "\n" + body


def translate(exc: ResponseError, feed: str) -> errors.ThoonkError | ResponseError:
    """Map a script's error reply to a typed Thoonk error about ``feed``."""
    message = str(exc)
    if not message.startswith(_ERROR_PREFIX):
        # Redis may prefix the script error with its own text; find ours.
        at = message.find(_ERROR_PREFIX)
        if at < 0:
            return exc
        message = message[at:]
    code, _, arg = message[len(_ERROR_PREFIX) :].partition(" ")
    # Redis appends " script: <sha>, on @user_script:<line>." to raised errors.
    arg = arg.split(" script: ", 1)[0]
    match code:
        case "FeedNotFound":
            return errors.FeedNotFound(feed)
        case "FeedExists":
            return errors.FeedExists(feed)
        case "WrongType":
            return errors.WrongFeedType(feed, "compatible feed", f"Redis {arg}")
        case "WrongFeedType":
            expected, _, actual = arg.partition(" ")
            return errors.WrongFeedType(feed, expected, actual)
        case "ItemNotFound":
            return errors.ItemNotFound(feed, arg)
        case "NotClaimed":
            return errors.JobNotClaimed(feed, arg)
        case "NotStalled":
            return errors.JobNotStalled(feed, arg)
        case "InvalidPosition":
            return errors.InvalidPosition(feed, arg, "cannot move an item relative to itself")
        case _:
            return exc


class Scripts:
    """The scripts of one package, loaded once, run by verb with EVALSHA on ``link``."""

    def __init__(self, link: CommandLink, package: str = __package__) -> None:
        self._link = link
        self._package = package
        #: verb -> (sha1, source); the sha is computed once per process.
        self._loaded: dict[str, tuple[str, str]] = {}

    def _script(self, verb: str) -> tuple[str, str]:
        found = self._loaded.get(verb)
        if found is None:
            text = source(verb, self._package)
            found = (hashlib.sha1(text.encode("utf-8")).hexdigest(), text)
            self._loaded[verb] = found
        return found

    async def run(
        self,
        verb: str,
        feed: str,
        keys: Sequence[bytes],
        args: Sequence[EncodableT],
    ) -> Any:
        """Run script ``verb`` for ``feed``; refused operations raise typed errors."""
        sha, text = self._script(verb)
        words = ("EVALSHA", sha, len(keys), *keys, *args)
        try:
            try:
                return await self._link.call(*words)
            except NoScriptError:
                # First use on this server (or after SCRIPT FLUSH / a restart).
                await self._link.call("SCRIPT", "LOAD", text)
                return await self._link.call(*words)
        except ResponseError as exc:
            translated = translate(exc, feed)
            if translated is exc:
                raise
            raise translated from None
        except RedisConnectionError as exc:
            raise errors.ConnectionLost(str(exc)) from exc
