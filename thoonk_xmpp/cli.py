"""The ``thoonk-xmpp`` command.

::

    thoonk-xmpp --version
    thoonk-xmpp run [--config FILE]
    thoonk-xmpp check-config [--config FILE] [--connect]
    thoonk-xmpp thoonk feeds [--redis URL] [--json]
    thoonk-xmpp thoonk info FEED [--redis URL] [--json]
    thoonk-xmpp thoonk tail FEED [--redis URL] [--count N] [--json]

Each subcommand is one ``add_<name>(subparsers)`` function that declares its
arguments and sets ``handler`` to a function ``(args) -> int`` (the exit
status); :func:`build_parser` calls them all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__
from .settings import Settings, SettingsError
from .thoonk import keys
from .thoonk.client import AsyncThoonk
from .thoonk.codecs import BYTES
from .thoonk.errors import ThoonkError
from .thoonk.feed import Feed
from .thoonk.feed_config import FeedType
from .thoonk.job import Job
from .thoonk.notices import Notice
from .thoonk.queue import Queue
from .thoonk.replies import integer
from .thoonk.sorted_feed import SortedFeed

PROG = "thoonk-xmpp"
#: Where ``--redis`` defaults to when the environment does not say.
DEFAULT_REDIS = "redis://localhost:6379/0"
REDIS_ENV = "THOONK_REDIS_URL"

Handler = Callable[[argparse.Namespace], int]


def _redis_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get(REDIS_ENV, DEFAULT_REDIS),
        help=f"Redis URL (default: ${REDIS_ENV} or {DEFAULT_REDIS})",
    )


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _print(line: str) -> None:
    print(line, flush=True)


# --- thoonk feeds ------------------------------------------------------------------


async def _feeds(args: argparse.Namespace) -> int:
    async with AsyncThoonk.from_url(args.redis) as thoonk:
        listing: list[tuple[str, str]] = []
        for name in await thoonk.get_feeds():
            try:
                listing.append((name, (await thoonk.feed_type(name)).value))
            except ThoonkError:
                continue  # deleted while we listed
    if args.json:
        _print(json.dumps([{"name": n, "type": t} for n, t in listing]))
    else:
        for name, kind in listing:
            _print(f"{name}\t{kind}")
    return 0


def add_feeds(subparsers: Any) -> None:
    parser = subparsers.add_parser("feeds", help="list every feed with its type")
    _redis_option(parser)
    _json_option(parser)
    parser.set_defaults(handler=lambda args: asyncio.run(_feeds(args)))


# --- thoonk info --------------------------------------------------------------------


async def _counts(thoonk: AsyncThoonk, name: str, kind: FeedType) -> dict[str, int]:
    """Item counts by state, plus the publish/finish counters."""
    counts: dict[str, int]
    match kind:
        case FeedType.SORTED_FEED:
            counts = {"items": await SortedFeed(thoonk, name, BYTES).count()}
        case FeedType.QUEUE | FeedType.PYQUEUE:
            counts = {"waiting": await Queue(thoonk, name, BYTES).count()}
        case FeedType.JOB:
            jobs = await Job(thoonk, name, BYTES).counts()
            counts = {
                "available": jobs.available,
                "claimed": jobs.claimed,
                "stalled": jobs.stalled,
                "total": jobs.total,
                "finishes": integer(await thoonk.redis.get(keys.finishes(name))),
            }
        case _:
            counts = {"items": await Feed(thoonk, name, BYTES).count()}
    counts["publishes"] = integer(await thoonk.redis.get(keys.publishes(name)))
    return counts


async def _info(args: argparse.Namespace) -> int:
    async with AsyncThoonk.from_url(args.redis) as thoonk:
        config = await thoonk.get_config(args.feed)
        kind = await thoonk.feed_type(args.feed)
        counts = await _counts(thoonk, args.feed, kind)
    if args.json:
        report = {"name": args.feed, "type": kind.value, "config": config, "counts": counts}
        _print(json.dumps(report))
        return 0
    _print(f"name: {args.feed}")
    _print(f"type: {kind.value}")
    _print("config:")
    for field in sorted(config):
        _print(f"  {field}: {config[field]}")
    for what, number in counts.items():
        _print(f"{what}: {number}")
    return 0


def add_info(subparsers: Any) -> None:
    parser = subparsers.add_parser("info", help="show a feed's configuration and item counts")
    parser.add_argument("feed", metavar="FEED")
    _redis_option(parser)
    _json_option(parser)
    parser.set_defaults(handler=lambda args: asyncio.run(_info(args)))


# --- thoonk tail --------------------------------------------------------------------


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def format_notice(notice: Notice, as_json: bool = False) -> str:
    """One notice as a line: ``publish news id=1 item='hello'`` (or a JSON object)."""
    fields: dict[str, Any] = {"kind": notice.kind.value, "feed": notice.feed}
    if notice.item_id is not None:
        fields["id"] = notice.item_id
    if notice.item is not None:
        fields["item"] = _text(notice.item)
    if notice.position is not None:
        fields["position"] = notice.position
    if notice.result is not None:
        fields["result"] = _text(notice.result)
    if notice.count is not None:
        fields["count"] = notice.count
    if notice.instance is not None:
        fields["instance"] = notice.instance
    if as_json:
        return json.dumps(fields, ensure_ascii=False)
    rest = " ".join(
        f"{k}={v!r}" if k in ("item", "result") else f"{k}={v}"
        for k, v in fields.items()
        if k not in ("kind", "feed")
    )
    return f"{notice.kind.value} {notice.feed} {rest}".rstrip()


async def _tail(args: argparse.Namespace) -> int:
    done = asyncio.Event()
    seen = 0

    def show(notice: Notice) -> None:
        nonlocal seen
        if notice.feed != args.feed or done.is_set():
            return
        _print(format_notice(notice, args.json))
        seen += 1
        if args.count is not None and seen >= args.count:
            done.set()

    async with AsyncThoonk.from_url(args.redis) as thoonk:
        # Look before listening: the note then always precedes the feed's own notices.
        if not await thoonk.feed_exists(args.feed):
            print(f"{PROG}: note: no feed {args.feed!r} (yet); waiting", file=sys.stderr)
        thoonk.listener.add_sink(show)
        await thoonk.listener.start()
        await done.wait()
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _run_tail(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_tail(args))
    except KeyboardInterrupt:
        return 0


def add_tail(subparsers: Any) -> None:
    parser = subparsers.add_parser("tail", help="print a feed's notices as they happen")
    parser.add_argument("feed", metavar="FEED")
    parser.add_argument(
        "--count", "-n", type=_positive, metavar="N", help="stop after N notices (default: Ctrl-C)"
    )
    _redis_option(parser)
    _json_option(parser)
    parser.set_defaults(handler=_run_tail)


# --- run and check-config ---------------------------------------------------------------

#: Where ``--config`` defaults to when the environment does not say.
DEFAULT_CONFIG = "thoonk_xmpp.toml"
CONFIG_ENV = "THOONK_XMPP_CONFIG"
#: Exit status for a settings file that cannot be used.
EXIT_BAD_CONFIG = 2


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        default=os.environ.get(CONFIG_ENV, DEFAULT_CONFIG),
        help=f"settings file (default: ${CONFIG_ENV} or {DEFAULT_CONFIG})",
    )


def _load_settings(path: str) -> Settings | None:
    """The settings in ``path``, or None after printing why they cannot be used."""
    try:
        return Settings.from_toml(path)
    except SettingsError as exc:
        print(f"{PROG}: error: {path}: {exc}", file=sys.stderr)
        return None


def _run(args: argparse.Namespace) -> int:
    from .xmpp.runner import configure_logging, run

    settings = _load_settings(args.config)
    if settings is None:
        return EXIT_BAD_CONFIG
    configure_logging(settings.log.level)
    try:
        return asyncio.run(run(settings))
    except KeyboardInterrupt:  # before the signal handlers were installed
        return 130


def add_run(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="serve the pubsub component until SIGINT or SIGTERM")
    _config_option(parser)
    parser.set_defaults(handler=_run)


async def _try_connect(settings: Settings) -> int:
    from .xmpp.runner import Bridge, StartupError

    bridge = Bridge(settings)
    try:
        await bridge.start()
    except StartupError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    await bridge.aclose()
    _print(f"connected: Redis and the XMPP server accept {settings.component.jid}")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    settings = _load_settings(args.config)
    if settings is None:
        return EXIT_BAD_CONFIG
    component, policy = settings.component, settings.pubsub
    _print(f"{args.config}: OK")
    _print(f"component: {component.jid} via {component.host}:{component.port} (secret set)")
    _print(f"redis: {settings.redis.redacted_url}")
    _print(f"node creation: {policy.node_creation.value}; admins: {len(policy.admins)}")
    if args.connect:
        return asyncio.run(_try_connect(settings))
    return 0


def add_check_config(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-config", help="check a settings file (and with --connect, the servers it names)"
    )
    _config_option(parser)
    parser.add_argument(
        "--connect",
        action="store_true",
        help="also reach Redis and hand-shake with the XMPP server, then disconnect",
    )
    parser.set_defaults(handler=_check_config)


# --- the command ------------------------------------------------------------------------


def add_thoonk(subparsers: Any) -> None:
    parser = subparsers.add_parser("thoonk", help="look at Thoonk feeds in Redis")
    commands = parser.add_subparsers(dest="thoonk_command", metavar="COMMAND", required=True)
    for add in (add_feeds, add_info, add_tail):
        add(commands)


#: Top-level subcommands; each adds its parser and sets ``handler``.
COMMANDS: list[Callable[[Any], None]] = [add_thoonk, add_run, add_check_config]


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
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
