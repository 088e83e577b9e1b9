"""``thoonk-xmpp run`` and ``thoonk-xmpp check-config``."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from thoonk_xmpp.settings import Settings

from .common import EXIT_BAD_CONFIG, config_option, emit, fail, load_settings


def _run(args: argparse.Namespace) -> int:
    from thoonk_xmpp.xmpp.runner import configure_logging, run

    settings = load_settings(args.config)
    if settings is None:
        return EXIT_BAD_CONFIG
    configure_logging(settings.log.level, format=settings.log.format)
    try:
        return asyncio.run(run(settings))
    except KeyboardInterrupt:  # before the signal handlers were installed
        return 130


def add_run(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="serve the pubsub component until SIGINT or SIGTERM")
    config_option(parser)
    parser.set_defaults(handler=_run)


async def _try_connect(settings: Settings) -> int:
    from thoonk_xmpp.xmpp.runner import Bridge, StartupError

    bridge = Bridge(settings)
    try:
        await bridge.start()
    except StartupError as exc:
        fail(str(exc))
        return 1
    await bridge.aclose()
    emit(f"connected: Redis and the XMPP server accept {settings.component.jid}")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if settings is None:
        return EXIT_BAD_CONFIG
    component, policy = settings.component, settings.pubsub
    emit(f"{args.config}: OK")
    where = f"{component.jid} via {component.host}:{component.port}"
    emit(f"component: {where} (secret from {component.secret_source})")
    emit(f"redis: {settings.redis.redacted_url}")
    emit(f"node creation: {policy.node_creation.value}; admins: {len(policy.admins)}")
    emit(f"log: {settings.log.level}, {settings.log.format}")
    metrics = settings.metrics
    emit(f"metrics: {metrics.url}" if metrics.enabled else "metrics: off")
    if args.connect:
        return asyncio.run(_try_connect(settings))
    return 0


def add_check_config(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-config", help="check a settings file (and with --connect, the servers it names)"
    )
    config_option(parser)
    parser.add_argument(
        "--connect",
        action="store_true",
        help="also reach Redis and hand-shake with the XMPP server, then disconnect",
    )
    parser.set_defaults(handler=_check_config)
