"""What the admin commands (nodes, affiliations, subscriptions, jobs) share.

They act through the same :class:`PubSubService` as the bridge, as a service
admin (one of ``[pubsub] admins``), with the bridge's own settings file: its
policy (admins, node defaults, the ``max_items`` cap) and its Redis, unless
``--redis`` names another. Every write the service makes is announced (Thoonk
registry notices, ``thoonkx.state:<node>``), so a running bridge sees it at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from thoonk_xmpp.service.errors import PubSubError
from thoonk_xmpp.service.model import Actor, Affiliation
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.settings import Settings
from thoonk_xmpp.thoonk.client import AsyncThoonk

from .common import EXIT_FAILED, EXIT_USAGE, config_option, emit, fail, json_option, load_settings


@dataclass(frozen=True, slots=True)
class Admin:
    """One admin command's service, the admin it acts as, and how it prints."""

    service: PubSubService
    actor: Actor
    as_json: bool

    def show(self, report: Any, lines: list[str]) -> None:
        """Print ``report`` as one JSON document, or ``lines`` as text."""
        if self.as_json:
            emit(json.dumps(report, ensure_ascii=False))
        else:
            for line in lines:
                emit(line)


AdminWork = Callable[[Admin, argparse.Namespace], Awaitable[int]]


# --- argument types: a bad value is a usage error (exit 2) naming it ------------------


def jid_arg(text: str) -> str:
    """A JID in the normal form the XMPP side stores (full if it has a resource)."""
    # Imported here: slixmpp takes longer to load than every other command needs.
    from thoonk_xmpp.xmpp.parsing import normalise_jid

    try:
        return normalise_jid(text)
    except PubSubError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid JID") from None


def bare_jid_arg(text: str) -> str:
    jid = jid_arg(text)
    if "/" in jid:
        raise argparse.ArgumentTypeError(f"{text!r} is not a bare JID (no /resource)")
    return jid


def affiliation_arg(text: str) -> Affiliation:
    try:
        return Affiliation(text)
    except ValueError:
        allowed = ", ".join(a.value for a in Affiliation)
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {allowed}") from None


def admin_options(parser: argparse.ArgumentParser, *, needs_admin: bool = True) -> None:
    """``--config``, ``--redis``, ``--json`` (and ``--admin`` for pubsub commands)."""
    config_option(parser)
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="Redis URL (default: the settings file's [redis] url)",
    )
    if needs_admin:
        parser.add_argument(
            "--admin",
            metavar="JID",
            type=bare_jid_arg,
            help="the [pubsub] admin to act as (default: the first, in sorted order)",
        )
    json_option(parser)


def _actor(settings: Settings, wanted: str | None) -> Actor | None:
    admins = sorted(settings.pubsub.admins)
    if wanted is None and admins:
        return Actor(admins[0])
    if wanted is not None and wanted in admins:
        return Actor(wanted)
    if wanted is None:
        fail("no [pubsub] admins in the settings: admin commands act as a service admin")
    else:
        fail(f"{wanted!r} is not one of the [pubsub] admins")
    return None


def run_admin(args: argparse.Namespace, work: AdminWork) -> int:
    """Load the settings, connect, and run ``work`` as a service admin; the exit status."""
    settings = load_settings(args.config, secret_needed=False)
    if settings is None:
        return EXIT_USAGE
    actor = _actor(settings, args.admin)
    if actor is None:
        return EXIT_USAGE
    url = args.redis or settings.redis.url

    async def connected() -> int:
        async with AsyncThoonk.from_url(url) as thoonk:
            service = PubSubService(thoonk, settings.pubsub)
            return await work(Admin(service, actor, args.json), args)

    try:
        return asyncio.run(connected())
    except PubSubError as exc:
        fail(str(exc))
        return EXIT_FAILED


def handler(work: AdminWork) -> Callable[[argparse.Namespace], int]:
    """An argparse ``handler`` that runs ``work`` as a service admin."""
    return lambda args: run_admin(args, work)
