"""``thoonk-xmpp thoonk feeds|info|tail``: look at Thoonk feeds in Redis.

Each subcommand is one ``add_<name>(subparsers)`` function that declares its
arguments and sets ``handler`` to a function ``(args) -> int`` (the exit status).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from thoonk_xmpp.thoonk import keys
from thoonk_xmpp.thoonk.client import AsyncThoonk
from thoonk_xmpp.thoonk.codecs import BYTES
from thoonk_xmpp.thoonk.errors import ThoonkError
from thoonk_xmpp.thoonk.feed import Feed
from thoonk_xmpp.thoonk.feed_config import FeedType
from thoonk_xmpp.thoonk.job import Job
from thoonk_xmpp.thoonk.notices import Notice
from thoonk_xmpp.thoonk.queue import Queue
from thoonk_xmpp.thoonk.replies import integer
from thoonk_xmpp.thoonk.sorted_feed import SortedFeed

from .common import PROG, emit, json_option, redis_option

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
        emit(json.dumps([{"name": n, "type": t} for n, t in listing]))
    else:
        for name, kind in listing:
            emit(f"{name}\t{kind}")
    return 0


def add_feeds(subparsers: Any) -> None:
    parser = subparsers.add_parser("feeds", help="list every feed with its type")
    redis_option(parser)
    json_option(parser)
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
        emit(json.dumps(report))
        return 0
    emit(f"name: {args.feed}")
    emit(f"type: {kind.value}")
    emit("config:")
    for field in sorted(config):
        emit(f"  {field}: {config[field]}")
    for what, number in counts.items():
        emit(f"{what}: {number}")
    return 0


def add_info(subparsers: Any) -> None:
    parser = subparsers.add_parser("info", help="show a feed's configuration and item counts")
    parser.add_argument("feed", metavar="FEED")
    redis_option(parser)
    json_option(parser)
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
        emit(format_notice(notice, args.json))
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
    redis_option(parser)
    json_option(parser)
    parser.set_defaults(handler=_run_tail)


# --- the group ----------------------------------------------------------------------


def add_thoonk(subparsers: Any) -> None:
    parser = subparsers.add_parser("thoonk", help="look at Thoonk feeds in Redis")
    commands = parser.add_subparsers(dest="thoonk_command", metavar="COMMAND", required=True)
    for add in (add_feeds, add_info, add_tail):
        add(commands)
