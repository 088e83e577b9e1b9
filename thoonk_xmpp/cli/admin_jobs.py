"""``thoonk-xmpp jobs stats [FEED]``: how much work waits in Thoonk job and queue feeds."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from thoonk_xmpp.thoonk import keys
from thoonk_xmpp.thoonk.client import AsyncThoonk
from thoonk_xmpp.thoonk.codecs import BYTES
from thoonk_xmpp.thoonk.errors import FeedNotFound
from thoonk_xmpp.thoonk.feed_config import FeedType
from thoonk_xmpp.thoonk.job import Job
from thoonk_xmpp.thoonk.queue import Queue
from thoonk_xmpp.thoonk.replies import integer

from .admin import admin_options
from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, emit, fail, load_settings

_QUEUES = (FeedType.QUEUE, FeedType.PYQUEUE)


class WrongFeedType(ValueError):
    """``jobs stats`` named a feed that is neither a job nor a queue feed."""

    def __init__(self, feed: str, kind: FeedType) -> None:
        super().__init__(f"feed {feed!r} is a {kind.value}, not a job or queue feed")


async def feed_stats(thoonk: AsyncThoonk, name: str, kind: FeedType) -> dict[str, Any]:
    """The ``--json`` object of one feed."""
    if kind in _QUEUES:
        return {
            "feed": name,
            "type": kind.value,
            "length": await Queue(thoonk, name, BYTES).count(),
        }
    job = Job(thoonk, name, BYTES)
    counts = await job.counts()
    return {
        "feed": name,
        "type": kind.value,
        "queued": counts.available,
        "claimed": counts.claimed,
        "stalled": counts.stalled,
        "finished": integer(await thoonk.redis.get(keys.finishes(name))),
        "cancelled": await job.failure_total(),
    }


async def _chosen(thoonk: AsyncThoonk, feed: str | None) -> list[tuple[str, FeedType]]:
    if feed is not None:
        kind = await thoonk.feed_type(feed)
        if kind not in (FeedType.JOB, *_QUEUES):
            raise WrongFeedType(feed, kind)
        return [(feed, kind)]
    chosen: list[tuple[str, FeedType]] = []
    for name in await thoonk.get_feeds():
        try:
            kind = await thoonk.feed_type(name)
        except FeedNotFound:
            continue  # deleted while we listed
        if kind in (FeedType.JOB, *_QUEUES):
            chosen.append((name, kind))
    return chosen


def _line(stats: dict[str, Any]) -> str:
    counts = " ".join(f"{k}={v}" for k, v in stats.items() if k not in ("feed", "type"))
    return f"{stats['feed']}\t{stats['type']}\t{counts}"


async def _stats(url: str, feed: str | None, as_json: bool) -> int:
    async with AsyncThoonk.from_url(url) as thoonk:
        report = [await feed_stats(thoonk, n, k) for n, k in await _chosen(thoonk, feed)]
    if as_json:
        emit(json.dumps(report, ensure_ascii=False))
    else:
        for stats in report:
            emit(_line(stats))
    return EXIT_OK


def _run_stats(args: argparse.Namespace) -> int:
    url = args.redis
    if url is None:
        settings = load_settings(args.config, secret_needed=False)
        if settings is None:
            return EXIT_USAGE
        url = settings.redis.url
    try:
        return asyncio.run(_stats(url, args.feed, args.json))
    except WrongFeedType as exc:
        fail(str(exc))
        return EXIT_FAILED


def add_jobs(subparsers: Any) -> None:
    parser = subparsers.add_parser("jobs", help="work waiting in Thoonk job and queue feeds")
    commands = parser.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)
    stats = commands.add_parser(
        "stats", help="queued, claimed, stalled, finished and cancelled jobs; queue lengths"
    )
    stats.add_argument("feed", metavar="FEED", nargs="?", help="one feed (default: every one)")
    admin_options(stats, needs_admin=False)
    stats.set_defaults(handler=_run_stats)
