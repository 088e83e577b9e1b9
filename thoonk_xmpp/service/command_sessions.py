"""Running XEP-0050 command sessions, kept in Redis so that any bridge instance can take a
session's next stage (ejabberd may hand each stanza to a different instance).

A session is one string key holding JSON, written whole by one ``SET … EX`` and ended by
one ``DEL``: each is a single atomic command, so no script is needed.  It expires
:data:`LIFETIME` seconds after its last stage; an expired session is simply gone.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field, replace
from typing import Any, Final

from thoonk_xmpp.thoonk import keys

#: Seconds a session waits for its next stage.
LIFETIME: Final = 600


@dataclass(frozen=True, slots=True)
class CommandSession:
    """Where one requester is in one command: the stage shown and what it answered so far."""

    sessionid: str
    command: str
    requester: str
    stage: int = 0
    answers: dict[str, list[str]] = field(default_factory=dict)

    def at(self, stage: int, answers: dict[str, list[str]]) -> CommandSession:
        return replace(self, stage=stage, answers=answers)


def new_sessionid() -> str:
    """A fresh, unguessable session id."""
    return secrets.token_urlsafe(12)


class CommandSessions:
    """Start, read, move on and end sessions."""

    def __init__(self, redis: Any, lifetime: int = LIFETIME) -> None:
        self.redis = redis
        self.lifetime = lifetime

    async def save(self, session: CommandSession) -> None:
        """Store ``session`` (new or moved on) for another :data:`LIFETIME`."""
        record = {
            "command": session.command,
            "requester": session.requester,
            "stage": session.stage,
            "answers": session.answers,
        }
        await self.redis.set(
            keys.command_session(session.sessionid), json.dumps(record), ex=self.lifetime
        )

    async def load(self, sessionid: str) -> CommandSession | None:
        """The running session ``sessionid``; None if it ended, expired or never was."""
        raw = await self.redis.get(keys.command_session(sessionid))
        if raw is None:
            return None
        record = json.loads(raw)
        return CommandSession(
            sessionid, record["command"], record["requester"], record["stage"], record["answers"]
        )

    async def end(self, sessionid: str) -> None:
        await self.redis.delete(keys.command_session(sessionid))
