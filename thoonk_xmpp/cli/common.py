"""What every ``thoonk-xmpp`` subcommand shares: the shared options, output, settings.

Exit statuses: 0 done, 1 the request failed (named on stderr: unknown node or
feed, refused value, Redis unreachable), 2 usage (bad arguments, or a settings
file that cannot be used).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from thoonk_xmpp.settings import Settings, SettingsError

PROG = "thoonk-xmpp"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: Exit status for a settings file that cannot be used.
EXIT_BAD_CONFIG = EXIT_USAGE

#: Where ``--redis`` defaults to when neither the environment nor a settings file says.
DEFAULT_REDIS = "redis://localhost:6379/0"
REDIS_ENV = "THOONK_REDIS_URL"
#: Where ``--config`` defaults to when the environment does not say.
DEFAULT_CONFIG = "thoonk_xmpp.toml"
CONFIG_ENV = "THOONK_XMPP_CONFIG"

Handler = Callable[[argparse.Namespace], int]


def redis_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get(REDIS_ENV, DEFAULT_REDIS),
        help=f"Redis URL (default: ${REDIS_ENV} or {DEFAULT_REDIS})",
    )


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        default=os.environ.get(CONFIG_ENV, DEFAULT_CONFIG),
        help=f"settings file (default: ${CONFIG_ENV} or {DEFAULT_CONFIG})",
    )


def emit(line: str) -> None:
    print(line, flush=True)


def fail(message: str) -> None:
    """One line on stderr saying why the command failed."""
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def load_settings(path: str, *, secret_needed: bool = True) -> Settings | None:
    """The settings in ``path``, or None after printing why they cannot be used.

    Commands that never talk to the XMPP server pass ``secret_needed=False``: an admin's
    shell need not reach the service's secret (a systemd credential, say).
    """
    try:
        return Settings.from_toml(path, secret_needed=secret_needed)
    except SettingsError as exc:
        fail(f"{path}: {exc}")
        return None
