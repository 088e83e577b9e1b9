"""Running the ``thoonk-xmpp`` admin commands in tests: a settings file naming the test
Redis and the service admin, and :meth:`AdminCli.refused` — a refused command exits with
the given status, names the culprit, and changes no key and publishes no notice."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.dbstate import Tap, snapshot
from thoonk_xmpp.cli import main

from .eventharness import ADMIN


def write_settings(path: Path, redis_url: str, admins: tuple[str, ...] = (ADMIN.bare,)) -> Path:
    """A settings file like an operator's, with the policy the ``service`` fixture uses."""
    listed = ", ".join(f'"{admin}"' for admin in admins)
    path.write_text(
        "[component]\n"
        'jid = "pubsub.example.org"\n'
        'secret = "test-secret"\n'
        "[redis]\n"
        f'url = "{redis_url}"\n'
        "[pubsub]\n"
        f"admins = [{listed}]\n"
        'local_domains = ["example.org"]\n'
    )
    return path


@dataclass
class Outcome:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class AdminCli:
    """``await cli("nodes", "list")`` runs the command with ``--config`` in a thread."""

    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self.capsys = capsys

    async def __call__(self, *argv: str, config: bool = True) -> Outcome:
        args = [*argv, "--config", str(self.config)] if config else list(argv)
        self.capsys.readouterr()
        status = await asyncio.to_thread(main, args)
        captured = self.capsys.readouterr()
        return Outcome(status, captured.out, captured.err)

    async def ok(self, *argv: str) -> Outcome:
        outcome = await self(*argv)
        assert outcome.status == 0, outcome.err
        assert outcome.err == ""
        return outcome

    async def refused(
        self, redis_client: aioredis.Redis, status: int, named: str, *argv: str
    ) -> Outcome:
        async with Tap(redis_client) as tap:
            before = await snapshot(redis_client)
            outcome = await self(*argv)
            after = await snapshot(redis_client)
            published = await tap.rest()
        assert outcome.status == status, (outcome.out, outcome.err)
        assert named in outcome.err
        assert outcome.out == ""
        assert after == before
        assert published == []
        return outcome
