"""The ``thoonk-xmpp`` command.

::

    thoonk-xmpp --version
    thoonk-xmpp run [--config FILE]
    thoonk-xmpp check-config [--config FILE] [--connect]
    thoonk-xmpp thoonk feeds|info FEED|tail FEED [--redis URL] [--json]
    thoonk-xmpp nodes list|info NODE|create NODE [--set OPTION=VALUE]...|delete NODE|purge NODE
    thoonk-xmpp affiliations get NODE|--jid JID
    thoonk-xmpp affiliations set NODE JID AFFILIATION
    thoonk-xmpp subscriptions list [NODE|--jid JID]
    thoonk-xmpp subscriptions remove NODE JID [--subid SUBID]
    thoonk-xmpp jobs stats [FEED]

The admin commands (nodes, affiliations, subscriptions, jobs) take ``--config FILE``,
``--redis URL`` and ``--json``; see :mod:`.admin`.

Each subcommand is one ``add_<name>(subparsers)`` function that declares its
arguments and sets ``handler`` to a function ``(args) -> int`` (the exit
status, see :mod:`.common`); :func:`build_parser` calls them all.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from thoonk_xmpp import __version__
from thoonk_xmpp.thoonk.errors import ThoonkError

from .admin_jobs import add_jobs
from .admin_members import add_affiliations, add_subscriptions
from .admin_nodes import add_nodes
from .common import EXIT_FAILED, PROG, Handler, fail
from .server_cmds import add_check_config, add_run
from .thoonk_cmds import add_thoonk, format_notice

#: Top-level subcommands; each adds its parser and sets ``handler``.
COMMANDS: list[Callable[[Any], None]] = [
    add_thoonk,
    add_run,
    add_check_config,
    add_nodes,
    add_affiliations,
    add_subscriptions,
    add_jobs,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Thoonk feeds on Redis, served over XMPP publish-subscribe."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors
        return exit_.code if isinstance(exit_.code, int) else 1
    handler: Handler = args.handler
    try:
        return handler(args)
    except ThoonkError as exc:
        fail(str(exc))
        return EXIT_FAILED


__all__ = ["build_parser", "format_notice", "main"]
